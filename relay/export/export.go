// Package export writes calls for people to keep or hand on — their audio
// under readable names (time, system, talkgroup) with calls.csv and
// calls.json holding every detail, transcripts included — to a new
// directory or zip file: `earshot export`, and the window's export of
// search results.
//
// The calls come from the archive (relay/archive) and, for what it does not
// hold, from a Remote: the server's history through a running relay or
// through the session directly. It owns only the choosing, merging and
// writing; it must not import GUI packages, and it never writes outside
// the output it was given (a partial export is removed, never left as if
// whole).
package export

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"earshot/relay/archive"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/media"
)

// Remote is where calls the archive does not hold come from: the
// server's history.
type Remote interface {
	// Calls returns the server's calls whose date and time is in
	// [from, to) that q picks, in any order, without audio. With an error
	// it may still return the calls it found.
	Calls(ctx context.Context, from, to time.Time, q filter.Query) ([]event.Call, error)
	// Audio writes call c's audio to w.
	Audio(ctx context.Context, c event.Call, w io.Writer) error
}

// Options say what to export and where.
type Options struct {
	From, To time.Time // calls whose date and time is in [From, To)
	Query    filter.Query
	// Text, if not empty, keeps only the calls whose transcript has it
	// (ignoring case), as a search does (the window's export of a
	// search's results).
	Text string
	// ArchiveRoot is the archive directory ("" or missing: none) and
	// Server the server whose calls are exported.
	ArchiveRoot string
	Server      string
	// Remote, if not nil, gives the calls the archive does not hold.
	Remote Remote
	// Out is a new (or empty) directory, or a new file ending in .zip.
	Out string
	// Location is the time zone of file names and of calls.csv; nil means
	// the local one.
	Location *time.Location
	// Progress, if not nil, is told of each call written.
	Progress func(Progress)
	// Now is the clock (calls.json's exportedAt); nil means time.Now.
	Now func() time.Time
}

// Progress is how far an export has come.
type Progress struct {
	Done, Total int
	Bytes       int64
}

// Result is what an export wrote.
type Result struct {
	Out         string     `json:"out"`
	Calls       []Exported `json:"calls"`
	FromArchive int        `json:"fromArchive"`
	FromServer  int        `json:"fromServer"`
	Bytes       int64      `json:"bytes"`
	// Failed are calls found but not written (audio unavailable or
	// damaged).
	Failed []Failure `json:"failed,omitempty"`
	// Problem says why the server's history could not be read ("" when it
	// was, or when there is no Remote): the export holds the archive's
	// calls alone.
	Problem string `json:"problem,omitempty"`
}

// Complete reports whether every call found was written and the server's
// history was read.
func (r Result) Complete() bool { return len(r.Failed) == 0 && r.Problem == "" }

// Exported is one call written.
type Exported struct {
	File   string     `json:"file"`
	Source string     `json:"source"` // "archive" or "server"
	Format string     `json:"format"`
	Bytes  int64      `json:"bytes"`
	SHA256 string     `json:"sha256"`
	Call   event.Call `json:"call"`
}

// Failure is a call that could not be written.
type Failure struct {
	Call   event.Call `json:"call"`
	Reason string     `json:"reason"`
}

// ErrUsage marks what the person asking must fix (a bad range, an output
// that already exists); errors.Is finds it.
var ErrUsage = errors.New("bad export request")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// maxAudio bounds one call's audio from the server (as the archive does).
const maxAudio = archive.MaxAudioBytes

// Run exports the calls opts asks for. It returns an error wrapping
// ErrUsage before doing anything when the request cannot be met, and other
// errors when writing fails (nothing is left at Out then); calls that
// cannot be had are listed in Result.Failed, the export going on without
// them.
func Run(ctx context.Context, opts Options) (Result, error) {
	if err := check(&opts); err != nil {
		return Result{}, err
	}
	var held []archive.Entry
	if opts.ArchiveRoot != "" && opts.Server != "" {
		var err error
		if held, err = archive.Find(opts.ArchiveRoot, opts.Server, opts.From, opts.To, opts.Query); err != nil {
			return Result{}, err
		}
		held = slices.DeleteFunc(held, func(e archive.Entry) bool { return !opts.says(e.Call) })
	}
	var remote []event.Call
	res := Result{Out: opts.Out}
	if opts.Remote != nil {
		calls, err := opts.Remote.Calls(ctx, opts.From, opts.To, opts.Query)
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		if err != nil {
			res.Problem = "the server's history could not be read, so calls the archive does not hold may be missing: " + err.Error()
		}
		remote = notHeld(calls, held, opts)
	}
	w, err := newWriter(opts.Out)
	if err != nil {
		return Result{}, err
	}
	defer w.abort() // no-op after commit
	items := merge(held, remote)
	names := make(map[string]bool)
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		ex, err := it.fetch(ctx, opts.Remote)
		switch {
		case errors.Is(err, errDuplicate):
			// The archive holds it under another id.
		case err != nil:
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			res.Failed = append(res.Failed, Failure{Call: it.call(), Reason: err.Error()})
		default:
			ex.File = uniqueName(names, media.FileName(ex.Call, ex.format, opts.Location))
			if err := w.add(ex.File, ex.Call.Time(), ex.data); err != nil {
				return Result{}, err // the output itself failed
			}
			res.Calls = append(res.Calls, ex.Exported)
			res.Bytes += ex.Bytes
			if ex.Source == sourceArchive {
				res.FromArchive++
			} else {
				res.FromServer++
			}
		}
		if opts.Progress != nil {
			opts.Progress(Progress{Done: i + 1, Total: len(items), Bytes: res.Bytes})
		}
	}
	if err := w.addIndex(res, opts); err != nil {
		return Result{}, err
	}
	if err := w.commit(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// says reports whether c's transcript has the text asked for.
func (o *Options) says(c event.Call) bool {
	text := strings.ToLower(strings.TrimSpace(o.Text))
	return text == "" || strings.Contains(strings.ToLower(c.Transcript), text)
}

// check validates opts and fills in defaults.
func check(o *Options) error {
	switch {
	case o.From.IsZero() || o.To.IsZero():
		return usagef("give both --from and --to")
	case !o.To.After(o.From):
		return usagef("--to (%s) must be after --from (%s)", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	case o.Out == "":
		return usagef("give --out: a new directory, or a file ending in .zip")
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return checkOut(o.Out)
}

const (
	sourceArchive = "archive"
	sourceServer  = "server"
)

// item is a call to export: an archive entry or a server call.
type item struct {
	entry  *archive.Entry
	remote *event.Call
	// twins are the archived entries of the same second, system and
	// talkgroup under other ids: a server call whose audio matches one is
	// a call the archive already gives.
	twins []archive.Entry
}

func (it item) call() event.Call {
	if it.entry != nil {
		return it.entry.Call
	}
	return *it.remote
}

// fetched is an item's audio, read.
type fetched struct {
	Exported
	format media.Format
	data   []byte
}

var errDuplicate = errors.New("held by the archive")

func (it item) fetch(ctx context.Context, remote Remote) (fetched, error) {
	var b bytes.Buffer
	var ex fetched
	if it.entry != nil {
		if err := it.entry.CopyAudio(&b); err != nil {
			return ex, err
		}
		ex.Call, ex.Source = it.entry.Call, sourceArchive
	} else {
		lw := &limitWriter{w: &b, left: maxAudio}
		if err := remote.Audio(ctx, *it.remote, lw); err != nil {
			return ex, fmt.Errorf("getting its audio: %w", err)
		}
		if b.Len() == 0 {
			return ex, errors.New("the server gave no audio")
		}
		ex.Call, ex.Source = *it.remote, sourceServer
	}
	sum := sha256.Sum256(b.Bytes())
	ex.SHA256 = hex.EncodeToString(sum[:])
	for _, t := range it.twins {
		if t.Audio.SHA256 == ex.SHA256 {
			return ex, errDuplicate
		}
	}
	ex.format = media.Sniff(b.Bytes())
	ex.Format, ex.Bytes, ex.data = ex.format.String(), int64(b.Len()), b.Bytes()
	ex.Call.AudioURL, ex.Call.InlineAudio, ex.Call.Backfill = "", nil, false
	return ex, nil
}

// limitWriter fails once more than left bytes are written.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, fmt.Errorf("the call's audio is larger than %d MB", maxAudio>>20)
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// sameSlot is what an archive entry and a server call must share to be
// the same call: date and time, system and talkgroup.
type sameSlot struct{ dateTime, system, talkgroup int64 }

func slotOf(c event.Call) sameSlot { return sameSlot{c.DateTime, c.SystemID, c.TalkgroupID} }

// notHeld keeps the server calls the archive does not hold: those with no
// archived call of the same second, system, talkgroup and id. One that
// shares the rest but not the id (the server's ids were reset since) is
// kept with the archived ones to compare its audio against.
func notHeld(calls []event.Call, held []archive.Entry, opts Options) []event.Call {
	bySlot := make(map[sameSlot][]archive.Entry)
	for _, e := range held {
		bySlot[slotOf(e.Call)] = append(bySlot[slotOf(e.Call)], e)
	}
	seen := make(map[int64]bool)
	var out []event.Call
	for _, c := range calls {
		if c.DateTime < opts.From.Unix() || c.DateTime >= opts.To.Unix() || !opts.Query.Allows(c) || !opts.says(c) || seen[c.ID] {
			continue // a Remote that gives more than asked
		}
		seen[c.ID] = true
		if slices.ContainsFunc(bySlot[slotOf(c)], func(e archive.Entry) bool { return e.Call.ID == c.ID }) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// merge orders the archive's entries and the server's calls by time.
func merge(held []archive.Entry, remote []event.Call) []item {
	bySlot := make(map[sameSlot][]archive.Entry)
	items := make([]item, 0, len(held)+len(remote))
	for i := range held {
		items = append(items, item{entry: &held[i]})
		bySlot[slotOf(held[i].Call)] = append(bySlot[slotOf(held[i].Call)], held[i])
	}
	for i := range remote {
		items = append(items, item{remote: &remote[i], twins: bySlot[slotOf(remote[i])]})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		ca, cb := a.call(), b.call()
		return cmp.Or(cmp.Compare(ca.DateTime, cb.DateTime), cmp.Compare(ca.ID, cb.ID))
	})
	return items
}

// uniqueName returns name, or name with _2, _3… before its extension when
// an earlier call took it (two calls of one talkgroup in one second).
func uniqueName(taken map[string]bool, name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	out := name
	for n := 2; taken[strings.ToLower(out)]; n++ {
		out = base + "_" + strconv.Itoa(n) + ext
	}
	taken[strings.ToLower(out)] = true // case-insensitive file systems
	return out
}

// checkOut refuses an output that exists (a non-empty directory, or any
// file): an export never writes over anything.
func checkOut(out string) error {
	info, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrUsage, out, err)
	case isZip(out):
		return usagef("%s already exists; give a new file name", out)
	case !info.IsDir():
		return usagef("%s is a file; give a new or empty directory, or a name ending in .zip", out)
	default:
		entries, err := os.ReadDir(out)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUsage, out, err)
		}
		if len(entries) > 0 {
			return usagef("%s is not empty; give a new or empty directory, so that nothing is written over", out)
		}
	}
	parent := filepath.Dir(filepath.Clean(out))
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		return usagef("%s does not exist; the export goes into an existing directory", parent)
	}
	return nil
}

func isZip(path string) bool { return strings.EqualFold(filepath.Ext(path), ".zip") }
