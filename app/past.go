//go:build !headless

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/export"
	"earshot/relay/filter"
	"earshot/relay/media"
	"earshot/ui/ipc"
)

// Past calls for the window process (ipc.Searcher, ipc.AudioSaver,
// ipc.Exporter): the relay searches and holds the audio; the resident
// writes the files the window chose, so audio never crosses the channel.

var (
	_ ipc.Searcher   = (*resident)(nil)
	_ ipc.AudioSaver = (*resident)(nil)
	_ ipc.Exporter   = (*resident)(nil)
)

// Search finds past calls through the relay (held calls and the server's
// history).
func (r *resident) Search(ctx context.Context, q relay.SearchQuery) (relay.SearchResult, error) {
	return r.relay.Core.Search(ctx, q)
}

// AudioName is the name call id's audio is saved under: media.FileName
// of the call, with the extension of the format its audio really is (the
// audio is fetched, or read from the cache, to tell).
func (r *resident) AudioName(ctx context.Context, id int64) (string, error) {
	c, ok := r.relay.Core.Call(id)
	if !ok {
		return "", &ipc.Error{Kind: ipc.KindNotFound, Message: "Earshot no longer holds this call; search for it again"}
	}
	return audioName(ctx, relayAudio{r.relay.Core}, c)
}

func audioName(ctx context.Context, src audioSource, c event.Call) (string, error) {
	format := media.Unknown
	if e, err := src.Audio(ctx, c.ID); err == nil {
		if f, err := e.Open(); err == nil {
			head := make([]byte, media.SniffLen)
			n, _ := io.ReadFull(f, head)
			f.Close()
			format = media.Sniff(head[:n])
		}
	}
	if format == media.Unknown {
		format = media.ForContentType(c.AudioType) // what the uploader said, when the audio cannot be had now
	}
	return media.FileName(c, format, time.Local), nil
}

// SaveAudio writes call id's audio to path, whole or not at all.
func (r *resident) SaveAudio(ctx context.Context, id int64, path string) (int64, error) {
	return saveAudio(ctx, r.relay.Core, id, path)
}

// audioSource is where saved audio comes from (*relay.Relay).
type audioSource interface {
	Audio(ctx context.Context, id int64) (interface{ Open() (*os.File, error) }, error)
}

// relayAudio adapts *relay.Relay's Audio to audioSource.
type relayAudio struct{ r *relay.Relay }

func (a relayAudio) Audio(ctx context.Context, id int64) (interface{ Open() (*os.File, error) }, error) {
	e, err := a.r.Audio(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func saveAudio(ctx context.Context, core *relay.Relay, id int64, path string) (int64, error) {
	return saveFrom(ctx, relayAudio{core}, id, path)
}

// saveFrom copies call id's audio from src to path through a temporary
// file beside it, renamed into place once whole: an interrupted save
// leaves the old file (if any) and no half-written one. The person chose
// path in a save dialog, which asked before replacing a file.
func saveFrom(ctx context.Context, src audioSource, id int64, path string) (int64, error) {
	if !filepath.IsAbs(path) {
		return 0, &ipc.Error{Kind: ipc.KindInvalid, Message: "the file to save to must be a full path"}
	}
	path = filepath.Clean(path)
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return 0, &ipc.Error{Kind: ipc.KindInvalid, Message: path + " is not a regular file; choose another name"}
	}
	e, err := src.Audio(ctx, id)
	switch {
	case errors.Is(err, relay.ErrNotFound):
		return 0, &ipc.Error{Kind: ipc.KindNotFound, Message: "the server does not offer this call's audio any more"}
	case errors.Is(err, relay.ErrUnavailable):
		return 0, &ipc.Error{Kind: ipc.KindUnreachable, Message: "the server cannot be reached and this call's audio is not cached; try again when it is back"}
	case err != nil:
		return 0, fmt.Errorf("getting the call's audio: %w", err)
	}
	in, err := e.Open()
	if err != nil {
		return 0, fmt.Errorf("reading the cached audio: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return 0, fmt.Errorf("saving to %s: %w", filepath.Dir(path), err)
	}
	defer os.Remove(tmp.Name()) // nothing is left after the rename
	n, err := io.Copy(tmp, ctxReader{ctx, in})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("saving %s: %w", path, err)
	}
	return n, nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Export writes the calls search s finds to out, as `earshot export` does:
// from the archive, and the rest from the server's history through this
// relay.
func (r *resident) Export(ctx context.Context, s ipc.Search, out string, progress func(ipc.Progress)) (ipc.ExportResult, error) {
	cfg, err := LoadConfig(r.env.ConfigDir)
	if err != nil {
		return ipc.ExportResult{}, err
	}
	opts := exportOptions(s, out, time.Now())
	opts.Remote = export.FromRelay(r.relay.Core)
	if cfg.HasAccount() && !r.flags.demo {
		settings := cfg.Archive
		if settings == nil {
			settings = &ArchiveSettings{} // an archive kept before, since turned off, is still read
		}
		opts.ArchiveRoot, opts.Server = settings.Root(r.env.DataDir), cfg.Server
	}
	opts.Progress = func(p export.Progress) { progress(ipc.Progress{Done: p.Done, Total: p.Total, Bytes: p.Bytes}) }
	res, err := export.Run(ctx, opts)
	if errors.Is(err, export.ErrUsage) {
		return ipc.ExportResult{}, &ipc.Error{Kind: ipc.KindInvalid, Message: strings.TrimPrefix(err.Error(), export.ErrUsage.Error()+": ")}
	}
	if err != nil {
		return ipc.ExportResult{}, err
	}
	return ipc.ExportResult{Out: res.Out, Calls: len(res.Calls), FromArchive: res.FromArchive, FromServer: res.FromServer,
		Failed: len(res.Failed), Bytes: res.Bytes, Problem: res.Problem}, nil
}

// exportOptions is a window's search as an export: its range (a search
// without one reaches back to the start and up to now), systems,
// talkgroups and text.
func exportOptions(s ipc.Search, out string, now time.Time) export.Options {
	from, to := s.From, s.To
	if from.IsZero() {
		from = time.Unix(1, 0)
	}
	if to.IsZero() {
		to = now
	}
	q := filter.Query{Systems: s.Systems}
	for _, tg := range s.Talkgroups {
		q.Talkgroups = append(q.Talkgroups, filter.Talkgroup{TalkgroupID: tg})
	}
	// A search's end is inclusive to the second; an export's is not.
	return export.Options{From: from, To: to.Add(time.Second), Query: q, Text: s.Text, Out: out, Location: time.Local}
}
