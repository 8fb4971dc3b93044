package ipc

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"earshot/relay/event"
	"earshot/relay/tokens"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// ErrResidentGone means the resident process ended: the channel closed.
var ErrResidentGone = errors.New("Earshot (the process that plays and keeps the relay) has stopped")

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Client is the window process's end: it holds the latest snapshot the
// resident pushed and sends the window's commands. It is the listening
// core, the accounts and the token administration as the windows see
// them.
type Client struct {
	conn *Conn

	mu       sync.Mutex
	snap     *listening.Snapshot
	history  []listening.HistoryEntry
	histRev  uint64
	dir      listening.Directory
	dirRev   uint64
	settings listening.Settings
	watchers listening.Watchers
	pending  map[uint64]chan Message
	nextID   uint64
	gone     bool
	onShow   func(what, text string)
	onTokens func([]tokens.Info)
	progress map[uint64]func(Progress)
}

// NewClient makes the window's end of the channel on conn.
func NewClient(conn *Conn) *Client {
	return &Client{conn: conn, snap: &listening.Snapshot{Backend: "connecting", Live: true, Volume: 1},
		pending: map[uint64]chan Message{}, progress: map[uint64]func(Progress){}}
}

// OnShow sets what a "show" message does (what: a Show… value).
func (c *Client) OnShow(f func(what, text string)) { c.mu.Lock(); c.onShow = f; c.mu.Unlock() }

// OnTokens sets what a "tokens" message (the token list, changed) does.
func (c *Client) OnTokens(f func([]tokens.Info)) { c.mu.Lock(); c.onTokens = f; c.mu.Unlock() }

// Run reads the resident's messages until the channel closes; it then
// returns ErrResidentGone (or the reason the channel broke).
func (c *Client) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := c.conn.Receive()
			if err != nil {
				errc <- err
				return
			}
			c.take(m)
		}
	}()
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case err = <-errc:
		if isClosed(err) {
			err = ErrResidentGone
		}
	}
	c.mu.Lock()
	c.gone = true
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	return err
}

func (c *Client) take(m Message) {
	c.mu.Lock()
	switch m.Type {
	case TypeSnapshot:
		s := *m.Snapshot
		s.History, s.Directory, s.Settings = c.history, c.dir, c.settings
		c.snap = &s
		c.wakeLocked()
	case TypeHistory:
		c.history, c.histRev = m.History, m.Rev
	case TypeDirectory:
		c.dir, c.dirRev = *m.Directory, m.Rev
	case TypeSettings:
		c.settings = *m.Settings
	case TypeReply:
		if ch, ok := c.pending[m.ID]; ok {
			delete(c.pending, m.ID)
			ch <- m
		}
	case TypeShow:
		if f := c.onShow; f != nil {
			c.mu.Unlock()
			f(m.Show, m.Text)
			return
		}
	case TypeTokens:
		if f := c.onTokens; f != nil {
			c.mu.Unlock()
			f(m.Tokens)
			return
		}
	case TypeProgress:
		if f := c.progress[m.ID]; f != nil && m.Progress != nil {
			c.mu.Unlock()
			f(*m.Progress)
			return
		}
	}
	c.mu.Unlock()
}

func (c *Client) wakeLocked() { c.watchers.Wake() }

// Snapshot is the latest snapshot the resident pushed.
func (c *Client) Snapshot() *listening.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// Watch is listening.Core's Watch: a signal after each new snapshot.
func (c *Client) Watch() (<-chan struct{}, func()) { return c.watchers.Watch() }

func (c *Client) send(m Message) {
	m.Type = TypeCommand
	_ = c.conn.Send(m) // a broken channel ends Run, which the window shows
}

// request sends a command and waits for its reply.
func (c *Client) request(ctx context.Context, m Message) (Message, error) {
	return c.requestWithProgress(ctx, m, nil)
}

// requestWithProgress is request, with progress told to onProgress (if
// not nil) as it comes; a request whose ctx ends is cancelled at the
// resident too.
func (c *Client) requestWithProgress(ctx context.Context, m Message, onProgress func(Progress)) (Message, error) {
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return Message{}, &Error{Kind: KindUnavailable, Message: ErrResidentGone.Error()}
	}
	c.nextID++
	m.ID = c.nextID
	c.pending[m.ID] = ch
	if onProgress != nil {
		c.progress[m.ID] = onProgress
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.progress, m.ID)
		c.mu.Unlock()
	}()
	m.Type = TypeCommand
	if err := c.conn.Send(m); err != nil {
		c.mu.Lock()
		delete(c.pending, m.ID)
		c.mu.Unlock()
		return Message{}, &Error{Kind: KindUnavailable, Message: ErrResidentGone.Error()}
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return Message{}, &Error{Kind: KindUnavailable, Message: ErrResidentGone.Error()}
		}
		if r.Error != nil {
			return r, r.Error
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, m.ID)
		c.mu.Unlock()
		c.send(Message{Command: CmdCancel, Request: m.ID})
		return Message{}, ctx.Err()
	}
}

// Past calls.

// Search asks the resident's relay for past calls.
func (c *Client) Search(ctx context.Context, s Search) (calls []event.Call, next, problem string, err error) {
	r, err := c.request(ctx, Message{Command: CmdSearch, Search: &s})
	return r.Calls, r.Next, r.Text, err
}

// AudioName is the name call id's audio is saved under.
func (c *Client) AudioName(ctx context.Context, id int64) (string, error) {
	r, err := c.request(ctx, Message{Command: CmdAudioName, Call: id})
	return r.Text, err
}

// SaveAudio has the resident write call id's audio to path.
func (c *Client) SaveAudio(ctx context.Context, id int64, path string) (int64, error) {
	r, err := c.request(ctx, Message{Command: CmdSaveAudio, Call: id, Path: path})
	return r.Bytes, err
}

// Export has the resident export the calls s finds to out; progress (if
// not nil) is told how far it has come. Ending ctx cancels it.
func (c *Client) Export(ctx context.Context, s Search, out string, progress func(Progress)) (ExportResult, error) {
	r, err := c.requestWithProgress(ctx, Message{Command: CmdExport, Search: &s, Path: out}, progress)
	if r.Export == nil {
		return ExportResult{}, err
	}
	return *r.Export, err
}

// WatchTokens asks for the token list after every change (OnTokens), or
// no more.
func (c *Client) WatchTokens(on bool) { c.send(Message{Command: CmdTokensWatch, On: on}) }

// The listening core's commands.

func (c *Client) SetLive(on bool)   { c.send(Message{Command: CmdLive, On: on}) }
func (c *Client) ToggleLive()       { c.send(Message{Command: CmdToggleLive}) }
func (c *Client) TogglePause()      { c.send(Message{Command: CmdTogglePause}) }
func (c *Client) Skip()             { c.send(Message{Command: CmdSkip}) }
func (c *Client) Replay()           { c.send(Message{Command: CmdReplay}) }
func (c *Client) SetMuted(m bool)   { c.send(Message{Command: CmdMute, On: m}) }
func (c *Client) ToggleMute()       { c.send(Message{Command: CmdToggleMute}) }
func (c *Client) ToggleHoldSystem() { c.send(Message{Command: CmdHoldSystem}) }
func (c *Client) LiftAvoids()       { c.send(Message{Command: CmdLiftAvoids}) }
func (c *Client) Quit()             { c.send(Message{Command: CmdQuit}) }

func (c *Client) ToggleHoldTalkgroup() { c.send(Message{Command: CmdHoldTalkgroup}) }

func (c *Client) Play(id int64) error { c.send(Message{Command: CmdPlay, Call: id}); return nil }

func (c *Client) SetVolume(v float64, save bool) {
	c.send(Message{Command: CmdVolume, Volume: v, Save: save})
}

func (c *Client) AvoidPlaying(d time.Duration) {
	c.send(Message{Command: CmdAvoid, Seconds: d.Seconds()})
}

func (c *Client) SetSelection(tgs []player.Talkgroup) {
	c.send(Message{Command: CmdSelection, Talkgroups: tgs})
}

func (c *Client) SetNotify(t player.Talkgroup, on bool) {
	c.send(Message{Command: CmdNotify, Talkgroup: &t, On: on})
}

func (c *Client) SetCatchUp(d time.Duration) {
	c.send(Message{Command: CmdCatchUp, Seconds: d.Seconds()})
}

// ChangeSettings asks for one edit of the settings; the error says why it
// was refused (the settings' own words).
func (c *Client) ChangeSettings(ctx context.Context, ch listening.Change) error {
	_, err := c.request(ctx, Message{Command: CmdSettings, Change: &ch})
	return err
}

// PauseQuietHours pauses quiet hours for d (0 resumes them).
func (c *Client) PauseQuietHours(d time.Duration) {
	c.send(Message{Command: CmdPauseQuiet, Seconds: d.Seconds()})
}

// Accounts, as the sign-in window uses them.

func (c *Client) Account() (server, user string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.request(ctx, Message{Command: CmdAccount})
	if err != nil {
		return "", ""
	}
	return r.Server, r.User
}

func (c *Client) Probe(ctx context.Context, server string) (bool, error) {
	r, err := c.request(ctx, Message{Command: CmdProbe, Server: server})
	return r.Public, err
}

func (c *Client) SignIn(ctx context.Context, server, user, password string, remember bool) error {
	_, err := c.request(ctx, Message{Command: CmdSignIn, Server: server, User: user, Password: password, Remember: remember})
	return err
}

func (c *Client) SignOut(ctx context.Context) error {
	_, err := c.request(ctx, Message{Command: CmdSignOut})
	return err
}

// StreamURL asks for the live feed's URL with the tray's listen token.
func (c *Client) StreamURL(ctx context.Context) (string, error) {
	r, err := c.request(ctx, Message{Command: CmdStreamURL})
	return r.URL, err
}

// Autostart asks whether Earshot starts when the user logs in.
func (c *Client) Autostart(ctx context.Context) (bool, error) {
	r, err := c.request(ctx, Message{Command: CmdAutostart})
	return r.On, err
}

// SetAutostart turns starting Earshot at log-in on or off.
func (c *Client) SetAutostart(ctx context.Context, on bool) error {
	_, err := c.request(ctx, Message{Command: CmdSetAutostart, On: on})
	return err
}

// Shown tells the resident the window it asked for (an ipc.Show… value)
// is on screen.
func (c *Client) Shown(what string) { c.send(Message{Command: CmdShown, Show: what}) }

// Closing tells the resident the last window closed and this process is
// ending: it shows no window asked of it from now on.
func (c *Client) Closing() { c.send(Message{Command: CmdClosing}) }

// CannotShow tells the resident this process cannot open a window (reason
// says why, worded for the listener) and is ending.
func (c *Client) CannotShow(reason string) { c.send(CannotShowMessage(reason)) }

// CannotShowMessage is the CmdCannotShow message for reason, cut to
// MaxReason; a window process that failed before it made its Client sends
// it on its Conn.
func CannotShowMessage(reason string) Message {
	if len(reason) > MaxReason {
		reason = strings.ToValidUTF8(reason[:MaxReason-len("…")], "") + "…"
	}
	return Message{Type: TypeCommand, Command: CmdCannotShow, Text: reason}
}

// Copy asks the resident to put text on the desktop's clipboard, where it
// stays after this process ends.
func (c *Client) Copy(ctx context.Context, text string) error {
	_, err := c.request(ctx, Message{Command: CmdCopy, Text: text})
	return err
}

// BaseURL is the relay's address.
func (c *Client) BaseURL() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.request(ctx, Message{Command: CmdBaseURL})
	if err != nil {
		return ""
	}
	return r.URL
}

// Token administration (tokens.Admin).

var _ tokens.Admin = (*Client)(nil)

func (c *Client) List(ctx context.Context) ([]tokens.Info, error) {
	r, err := c.request(ctx, Message{Command: CmdTokensList})
	return r.Tokens, err
}

func (c *Client) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error) {
	r, err := c.request(ctx, Message{Command: CmdTokensCreate, Name: name, Scope: scope, Seconds: ttl.Seconds()})
	return r.Token, infoOf(r), err
}

func (c *Client) Revoke(ctx context.Context, id string) error {
	_, err := c.request(ctx, Message{Command: CmdTokensRevoke, TokenID: id})
	return err
}

func (c *Client) Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error) {
	r, err := c.request(ctx, Message{Command: CmdTokensRotate, TokenID: id, Seconds: grace.Seconds()})
	return r.Token, infoOf(r), err
}

func (c *Client) RotateAll(ctx context.Context, grace time.Duration) error {
	_, err := c.request(ctx, Message{Command: CmdTokensRotateAl, Seconds: grace.Seconds()})
	return err
}

func infoOf(r Message) tokens.Info {
	if r.Info == nil {
		return tokens.Info{}
	}
	return *r.Info
}
