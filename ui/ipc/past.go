package ipc

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/tokens"
)

// Past calls: the window's search, its "Load older calls", saving a call's
// audio and exporting a search's calls, all carried out by the resident
// (its relay searches the server's history and holds the audio; calls of
// up to 64 MiB never cross the channel: the resident writes the file the
// window chose). And the token list, followed live while a token window
// is open.

// Commands about past calls and tokens.
const (
	CmdSearch      = "search"       // Search → Calls, Next, Text (why the server's history is missing)
	CmdAudioName   = "audioName"    // Call → Text: the name its audio is saved under (media.FileName)
	CmdSaveAudio   = "saveAudio"    // Call, Path → Bytes
	CmdExport      = "export"       // Search (no Limit or Before), Path → Export; Progress messages meanwhile
	CmdCancel      = "cancel"       // Request: the id of a request to give up (an export, a save)
	CmdTokensWatch = "tokens.watch" // On: send the token list (TypeTokens) now and after every change
)

// TypeProgress tells how far a request (ID) has come.
const TypeProgress = "progress"

// Search is a search of past calls, as GET /v1/calls takes it.
type Search struct {
	From       time.Time `json:"from,omitzero"`
	To         time.Time `json:"to,omitzero"`
	Systems    []int64   `json:"systems,omitempty"`
	Talkgroups []int64   `json:"talkgroups,omitempty"`
	Text       string    `json:"text,omitempty"`
	Limit      int       `json:"limit,omitempty"`
	// Before continues a search: the Next of its previous page.
	Before string `json:"before,omitempty"`
}

// maxSearchText bounds a search's transcript text.
const maxSearchText = 256

// Query is s as the relay takes it; s must be valid.
func (s Search) Query() relay.SearchQuery {
	cur, _ := relay.ParseCursor(s.Before)
	return relay.SearchQuery{From: s.From, To: s.To, Systems: s.Systems, Talkgroups: s.Talkgroups,
		Text: s.Text, Limit: s.Limit, Before: cur}
}

func (s *Search) validate() error {
	switch {
	case s.Limit < 0 || s.Limit > relay.MaxSearchLimit:
		return fmt.Errorf("limit out of range (1 to %d)", relay.MaxSearchLimit)
	case len(s.Systems) > filter.MaxQueryValues || len(s.Talkgroups) > filter.MaxQueryValues:
		return fmt.Errorf("at most %d systems and %d talkgroups", filter.MaxQueryValues, filter.MaxQueryValues)
	case len(s.Text) > maxSearchText || !utf8.ValidString(s.Text):
		return errors.New("search text too long or not text")
	case !s.From.IsZero() && !s.To.IsZero() && s.To.Before(s.From):
		return errors.New("the end is before the start")
	}
	for _, id := range append(append([]int64(nil), s.Systems...), s.Talkgroups...) {
		if id <= 0 {
			return errors.New("ids are positive")
		}
	}
	if _, err := relay.ParseCursor(s.Before); err != nil {
		return err
	}
	return nil
}

// Progress is how far an export has come.
type Progress struct {
	Done  int   `json:"done"`
	Total int   `json:"total"`
	Bytes int64 `json:"bytes"`
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Out         string `json:"out"`
	Calls       int    `json:"calls"`
	FromArchive int    `json:"fromArchive"`
	FromServer  int    `json:"fromServer"`
	Failed      int    `json:"failed"`
	Bytes       int64  `json:"bytes"`
	// Problem says why the server's history could not be read ("" if it
	// was).
	Problem string `json:"problem,omitempty"`
}

// Resident abilities about past calls and tokens, each optional: a
// resident without one answers KindUnavailable.

// Searcher searches past calls (*relay.Relay's Search).
type Searcher interface {
	Search(ctx context.Context, q relay.SearchQuery) (relay.SearchResult, error)
}

// AudioSaver names and writes a call's audio.
type AudioSaver interface {
	// AudioName is the name call id's audio is saved under (its time,
	// system and talkgroup, and the extension of its real format).
	AudioName(ctx context.Context, id int64) (string, error)
	// SaveAudio writes call id's audio to path (absolute, chosen by the
	// person at the window) and returns its size.
	SaveAudio(ctx context.Context, id int64, path string) (int64, error)
}

// Exporter exports the calls a search finds to out (a new directory, or a
// new .zip file), telling progress as it goes.
type Exporter interface {
	Export(ctx context.Context, s Search, out string, progress func(Progress)) (ExportResult, error)
}

// TokenWatcher follows the token registry (*tokens.Manager's Watch).
type TokenWatcher interface {
	Watch(ctx context.Context) <-chan []tokens.Info
}

// validPath checks a path the window chose for a file.
func validPath(p string) error {
	switch {
	case p == "":
		return errors.New("no path")
	case len(p) > maxField || strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return errors.New("not a path")
	case !filepath.IsAbs(p) && !strings.HasPrefix(p, "/"):
		return errors.New("the path is not absolute")
	}
	return nil
}

// validatePast checks the commands of this file; ok is false for another
// command.
func (m *Message) validatePast() (ok bool, err error) {
	bad := func(what string) error { return fmt.Errorf("ipc: command %q: %s", m.Command, what) }
	switch m.Command {
	case CmdSearch:
		if m.Search == nil {
			return true, bad("no search")
		}
		if err := m.Search.validate(); err != nil {
			return true, bad(err.Error())
		}
	case CmdExport:
		if m.Search == nil {
			return true, bad("no search")
		}
		if err := m.Search.validate(); err != nil {
			return true, bad(err.Error())
		}
		if err := validPath(m.Path); err != nil {
			return true, bad(err.Error())
		}
	case CmdSaveAudio:
		if m.Call <= 0 {
			return true, bad("no call")
		}
		if err := validPath(m.Path); err != nil {
			return true, bad(err.Error())
		}
	case CmdAudioName:
		if m.Call <= 0 {
			return true, bad("no call")
		}
	case CmdCancel:
		if m.Request == 0 {
			return true, bad("no request")
		}
	case CmdTokensWatch:
	default:
		return false, nil
	}
	return true, nil
}

// validateReplyCalls bounds a search's answer.
func (m *Message) validateReplyCalls() error {
	if len(m.Calls) > relay.MaxSearchLimit {
		return fmt.Errorf("ipc: %s message: too many calls", m.Type)
	}
	if _, err := relay.ParseCursor(m.Next); err != nil {
		return fmt.Errorf("ipc: %s message: %w", m.Type, err)
	}
	return nil
}

// Timeouts of the long requests.
const (
	saveTimeout   = 10 * time.Minute
	exportTimeout = 6 * time.Hour
)

// answerPast carries out a request of this file; ok is false for another
// command. send sends a message to the window (progress).
func answerPast(ctx context.Context, res Resident, m Message, send func(Message)) (r Message, err error, ok bool) {
	unavailable := func(what string) error {
		return &Error{Kind: KindUnavailable, Message: "Earshot cannot " + what + " here"}
	}
	switch m.Command {
	case CmdSearch:
		s, can := res.(Searcher)
		if !can {
			return r, unavailable("search past calls"), true
		}
		found, err := s.Search(ctx, m.Search.Query())
		if err != nil {
			return r, err, true
		}
		r.Calls = make([]event.Call, 0, len(found.Calls))
		for _, c := range found.Calls {
			c.InlineAudio = nil // the audio comes from the relay when played
			r.Calls = append(r.Calls, c)
		}
		r.Next, r.Text = found.Next.String(), found.Problem
	case CmdAudioName:
		s, can := res.(AudioSaver)
		if !can {
			return r, unavailable("save audio"), true
		}
		r.Text, err = s.AudioName(ctx, m.Call)
	case CmdSaveAudio:
		s, can := res.(AudioSaver)
		if !can {
			return r, unavailable("save audio"), true
		}
		r.Bytes, err = s.SaveAudio(ctx, m.Call, m.Path)
	case CmdExport:
		x, can := res.(Exporter)
		if !can {
			return r, unavailable("export calls"), true
		}
		var out ExportResult
		out, err = x.Export(ctx, *m.Search, m.Path, func(p Progress) {
			send(Message{Type: TypeProgress, ID: m.ID, Progress: &p})
		})
		r.Export = &out
	default:
		return r, nil, false
	}
	return r, err, true
}

// timeoutOf is how long a request may take.
func timeoutOf(m Message) time.Duration {
	switch m.Command {
	case CmdSaveAudio:
		return saveTimeout
	case CmdExport:
		return exportTimeout
	}
	return requestTimeout
}
