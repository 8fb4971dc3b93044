package ipc

import (
	"context"
	"errors"
	"sync"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/loudness"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/relay/tokens"
	"earshot/ui/listening"
)

// Accounts signs in and out, as `earshot login` and `earshot logout` do.
// Errors it returns should be *Error, worded for the window.
type Accounts interface {
	// Account is the configured server and user ("" when none).
	Account() (server, user string)
	// Probe tells whether server is an OpenScanner server with public
	// access.
	Probe(ctx context.Context, server string) (publicAccess bool, err error)
	// SignIn signs in (user "" for a public-access server), keeps the
	// sign-in in the keyring and puts the account behind the relay.
	SignIn(ctx context.Context, server, user, password string, remember bool) error
	// SignOut revokes the session on the server, forgets the keyring items
	// and puts the demo server behind the relay.
	SignOut(ctx context.Context) error
}

// LastAccount is an Accounts that remembers the account signed out of
// last, so the sign-in window can offer it again.
type LastAccount interface {
	LastAccount() (server, user string)
}

// Resident is what a window's commands reach in the resident process.
type Resident interface {
	Core() *listening.Core
	Accounts() Accounts
	Tokens() tokens.Admin
	// StreamURL is the live feed's URL with the tray's listen token.
	StreamURL(ctx context.Context) (string, error)
	// BaseURL is the relay's address, e.g. http://127.0.0.1:7373.
	BaseURL() string
	// Copy puts text on the desktop's clipboard, to stay there after the
	// window process ends.
	Copy(ctx context.Context, text string) error
	// Autostart reports whether Earshot starts when the user logs in;
	// SetAutostart turns it on or off.
	Autostart() (bool, error)
	SetAutostart(on bool) error
	// Quit ends Earshot.
	Quit()
}

// WindowEvents is what one window process says about itself: the resident
// keeps asking for a window until a process showed it, and stops sending
// to a process that is ending.
type WindowEvents interface {
	// Shown: the window asked for (an ipc.Show… value) is on screen.
	Shown(what string)
	// Closing: the last window closed and the process is ending; it shows
	// no window asked of it from now on.
	Closing()
	// CannotShow: the process cannot open a window (reason says why, for
	// the listener) and is ending without showing any.
	CannotShow(reason string)
}

// requestTimeout bounds one request a window makes (a sign-in included).
const requestTimeout = 45 * time.Second

// Serve pushes the core's snapshots to the window on conn and carries out
// its commands until the window's end closes (the window process exited)
// or ctx ends; what the process says about itself goes to win (nil: no
// one). It returns nil when the window went away.
func Serve(ctx context.Context, conn *Conn, res Resident, win WindowEvents) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { push(ctx, conn, res.Core()) })
	var mu sync.Mutex
	inflight := map[uint64]context.CancelFunc{} // requests the window may cancel
	stopWatch := func() {}                      // the token list's follower
	defer func() { stopWatch() }()
	for {
		m, err := conn.Receive()
		if err != nil {
			cancel()
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			if isClosed(err) {
				return nil
			}
			return err
		}
		if m.Type != TypeCommand {
			continue
		}
		switch m.Command {
		case CmdShown:
			if win != nil {
				win.Shown(m.Show)
			}
			continue
		case CmdClosing:
			if win != nil {
				win.Closing()
			}
			continue
		case CmdCannotShow:
			if win != nil {
				win.CannotShow(m.Text)
			}
			continue
		case CmdCancel:
			mu.Lock()
			if stop, ok := inflight[m.Request]; ok {
				stop()
			}
			mu.Unlock()
			continue
		case CmdTokensWatch:
			stopWatch()
			stopWatch = func() {}
			if w, ok := res.Tokens().(TokenWatcher); ok && m.On {
				wctx, stop := context.WithCancel(ctx)
				done := make(chan struct{})
				stopWatch = func() { stop(); <-done }
				wg.Go(func() { defer close(done); followTokens(wctx, conn, w) })
			}
			continue
		}
		if m.ID == 0 {
			do(res, m)
			continue
		}
		rctx, done := context.WithTimeout(ctx, timeoutOf(m))
		mu.Lock()
		inflight[m.ID] = done
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(inflight, m.ID)
				mu.Unlock()
				done()
			}()
			reply := answer(rctx, res, m, func(p Message) { _ = conn.Send(p) })
			reply.Type, reply.ID = TypeReply, m.ID
			_ = conn.Send(reply)
		})
	}
}

// push sends a snapshot after every change, and the history and the
// talkgroups only when they changed.
func push(ctx context.Context, conn *Conn, core *listening.Core) {
	wake, stop := core.Watch()
	defer stop()
	var histRev, dirRev, setRev uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		s := core.Snapshot()
		if s.HistoryRev != histRev {
			histRev = s.HistoryRev
			if conn.Send(Message{Type: TypeHistory, History: s.History, Rev: histRev}) != nil {
				return
			}
		}
		if s.DirRev != dirRev {
			dirRev = s.DirRev
			d := s.Directory
			if conn.Send(Message{Type: TypeDirectory, Directory: &d, Rev: dirRev}) != nil {
				return
			}
		}
		if s.SettingsRev != setRev {
			setRev = s.SettingsRev
			settings := s.Settings
			if conn.Send(Message{Type: TypeSettings, Settings: &settings, Rev: setRev}) != nil {
				return
			}
		}
		if conn.Send(Message{Type: TypeSnapshot, Snapshot: s}) != nil {
			return
		}
	}
}

// do carries out a command that needs no answer.
func do(res Resident, m Message) {
	c := res.Core()
	switch m.Command {
	case CmdLive:
		c.SetLive(m.On)
	case CmdToggleLive:
		c.ToggleLive()
	case CmdTogglePause:
		c.TogglePause()
	case CmdSkip:
		c.Skip()
	case CmdReplay:
		c.Replay()
	case CmdPlay:
		_ = c.Play(m.Call)
	case CmdVolume:
		c.SetVolume(m.Volume, m.Save)
	case CmdMute:
		c.SetMuted(m.On)
	case CmdToggleMute:
		c.ToggleMute()
	case CmdHoldTalkgroup:
		c.ToggleHoldTalkgroup()
	case CmdHoldSystem:
		c.ToggleHoldSystem()
	case CmdAvoid:
		c.AvoidPlaying(m.Duration())
	case CmdLiftAvoids:
		c.LiftAvoids()
	case CmdSelection:
		c.SetSelection(m.Talkgroups)
	case CmdNotify:
		c.SetNotify(*m.Talkgroup, m.On)
	case CmdCatchUp:
		c.SetCatchUp(m.Duration())
	case CmdPauseQuiet:
		c.PauseQuietHours(m.Duration())
	case CmdQuit:
		res.Quit()
	}
}

// followTokens sends the token list after every change until ctx ends.
func followTokens(ctx context.Context, conn *Conn, w TokenWatcher) {
	for list := range w.Watch(ctx) {
		if list == nil {
			list = []tokens.Info{}
		}
		if conn.Send(Message{Type: TypeTokens, Tokens: list}) != nil {
			return
		}
	}
}

// answer carries out a request and returns the reply's fields; send sends
// the window other messages on the way (progress).
func answer(ctx context.Context, res Resident, m Message, send func(Message)) Message {
	var r Message
	var err error
	if pr, perr, ok := answerPast(ctx, res, m, send); ok {
		if perr != nil {
			return Message{Error: AsError(perr)}
		}
		return pr
	}
	switch m.Command {
	case CmdAccount:
		r.Server, r.User = res.Accounts().Account()
		if la, ok := res.Accounts().(LastAccount); ok && r.Server == "" {
			r.Server, r.User = la.LastAccount() // what the sign-in window fills in
		}
	case CmdProbe:
		r.Public, err = res.Accounts().Probe(ctx, m.Server)
	case CmdSignIn:
		err = res.Accounts().SignIn(ctx, m.Server, m.User, m.Password, m.Remember)
	case CmdSignOut:
		err = res.Accounts().SignOut(ctx)
	case CmdTokensList:
		r.Tokens, err = res.Tokens().List(ctx)
	case CmdTokensCreate:
		var info tokens.Info
		r.Token, info, err = res.Tokens().Create(ctx, m.Name, m.Scope, m.Duration())
		r.Info = &info
	case CmdTokensRevoke:
		err = res.Tokens().Revoke(ctx, m.TokenID)
	case CmdTokensRotate:
		var info tokens.Info
		r.Token, info, err = res.Tokens().Rotate(ctx, m.TokenID, m.Duration())
		r.Info = &info
	case CmdTokensRotateAl:
		err = res.Tokens().RotateAll(ctx, m.Duration())
	case CmdStreamURL:
		r.URL, err = res.StreamURL(ctx)
	case CmdBaseURL:
		r.URL = res.BaseURL()
	case CmdCopy:
		err = res.Copy(ctx, m.Text)
	case CmdSettings:
		err = res.Core().ChangeSettings(ctx, *m.Change)
	case CmdAutostart:
		r.On, err = res.Autostart()
	case CmdSetAutostart:
		err = res.SetAutostart(m.On)
	default:
		do(res, m)
	}
	if err != nil {
		r = Message{Error: AsError(err)}
	}
	return r
}

// AsError is err as an *Error (KindOther with its text, unless it is one).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	kind := KindOther
	switch {
	case errors.Is(err, tokens.ErrNotFound), errors.Is(err, alerts.ErrNotFound):
		kind = KindNotFound
	case errors.Is(err, tokens.ErrInvalid), errors.Is(err, alerts.ErrInvalid), errors.Is(err, alerts.ErrExists),
		errors.Is(err, quiet.ErrInvalid), errors.Is(err, priority.ErrInvalid), errors.Is(err, loudness.ErrInvalid),
		errors.Is(err, listening.ErrInvalidChange):
		kind = KindInvalid
	}
	return &Error{Kind: kind, Message: err.Error()}
}
