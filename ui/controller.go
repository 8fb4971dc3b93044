package ui

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"fyne.io/fyne/v2"

	"earshot/ui/listening"
)

// Options configure a Controller.
type Options struct {
	App      fyne.App
	Core     Core
	Accounts Accounts
	Tokens   TokenOps
	Logger   *slog.Logger
	// StreamURL returns a ready live-feed URL with a listen token for
	// "Copy stream URL"; nil leaves the item out.
	StreamURL StreamURLFunc
	// Copy hands text, already on this process's clipboard, to the
	// desktop's clipboard program (through the resident), so the copy
	// stays after the windows close: on X11 and Wayland a copy leaves
	// with the process that made it. nil: this process's clipboard only.
	Copy func(ctx context.Context, text string) error
	// Autostart and SetAutostart read and change "Start Earshot when I
	// log in" (the ⋮ menu's check item); nil leaves it out.
	Autostart    func(ctx context.Context) (bool, error)
	SetAutostart func(ctx context.Context, on bool) error
	// TrayHost reports whether a tray shows Earshot's icon now. Closing
	// the playback window with one only closes the window (Earshot stays
	// in the tray); without one it quits Earshot, which would otherwise
	// run unreachable.
	TrayHost func() bool
	// QuitEarshot ends Earshot itself (the resident process), not only
	// the windows.
	QuitEarshot func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the time zone calls' times are shown in; nil means
	// time.Local.
	Location *time.Location
	// TokenFeed follows the token registry live for the token window;
	// nil: the window shows the list as it was when opened or changed
	// there.
	TokenFeed TokenFeed
	// Past searches past calls, saves their audio and exports them; nil
	// leaves the Search tab and "Load older calls" out.
	Past Past
	// Hour12 shows times on a 12-hour clock (the locale's custom: Hour12).
	Hour12 bool
}

// Controller owns the windows and keeps them showing the latest snapshot.
// The windows' process ends when the last one closes (AllClosed).
type Controller struct {
	opts  Options
	app   fyne.App
	log   *slog.Logger
	times timeFormats

	mu  sync.Mutex
	ctx context.Context // Start's; background work stops with it
	bg  sync.WaitGroup  // follow
	ops sync.WaitGroup  // background operations (sign-in, tokens, Copy stream URL)

	// uiMu serializes window updates. Fyne's own driver runs fyne.Do
	// functions one at a time on its goroutine; the test driver runs them
	// on the caller's, so the controller does not rely on that.
	uiMu   sync.Mutex
	shown  *listening.Snapshot // what the windows show now
	win    *playerWindow
	signin fyne.Window
	tokens fyne.Window
	// tokensView is the token window's content, while it is open.
	tokensView *tokensView
	open       int    // windows open
	closed     func() // called when the last window closed
	// autostart is "Start Earshot when I log in" as last read.
	autostart bool
}

// New builds the controller; Start follows the core.
func New(opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.TrayHost == nil {
		opts.TrayHost = func() bool { return false }
	}
	if opts.QuitEarshot == nil {
		opts.QuitEarshot = func() { opts.App.Quit() }
	}
	c := &Controller{opts: opts, app: opts.App, log: opts.Logger, ctx: context.Background(), times: timeFormats{hour12: opts.Hour12}}
	c.shown = opts.Core.Snapshot()
	return c
}

// OnAllClosed sets what happens when the last window closes (the window
// process quits).
func (c *Controller) OnAllClosed(f func()) {
	c.uiMu.Lock()
	c.closed = f
	c.uiMu.Unlock()
}

// Start follows the core's snapshots until ctx ends. It shows no window:
// ShowPlayer, ShowSignIn and ShowTokens do.
func (c *Controller) Start(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	wake, stop := c.opts.Core.Watch()
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				c.onUI(false, c.refreshLocked)
			}
		}
	}()
}

// Wait waits for the controller's background work to end after Start's
// ctx is done.
func (c *Controller) Wait() {
	c.bg.Wait()
	c.ops.Wait()
}

// WaitIdle waits until no background operation started from the windows
// (sign-in, sign-out, a token operation, Copy stream URL) is in flight,
// and its result is on show.
func (c *Controller) WaitIdle() { c.ops.Wait() }

// Do runs f now, on the calling goroutine, with the window lock held, as
// the controller's own updates run. It is for code that drives the windows
// from a goroutine of its own, such as tests. f must not call back into
// the controller's locking methods.
func (c *Controller) Do(f func()) {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	f()
}

// onUI runs f on the Fyne goroutine with uiMu held, as every update made
// for a goroutine must be: Fyne's driver runs fyne.Do functions one at a
// time, but its test driver runs them on the caller's goroutine, at once.
// With wait it returns once f has run (fyne.DoAndWait).
func (c *Controller) onUI(wait bool, f func()) {
	locked := func() {
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		f()
	}
	if wait {
		fyne.DoAndWait(locked)
	} else {
		fyne.Do(locked)
	}
}

// refresh shows the core's latest snapshot. Call it on the Fyne goroutine.
func (c *Controller) refresh() {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	c.refreshLocked()
}

// refreshLocked is refresh with uiMu held.
func (c *Controller) refreshLocked() {
	s := c.opts.Core.Snapshot()
	c.shown = s
	if c.win != nil {
		c.win.update(s)
	}
}

// Snapshot is what the windows show now.
func (c *Controller) Snapshot() *listening.Snapshot {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	return c.shown
}

// after runs a command, then shows its effect at once (the core publishes
// synchronously in process; over the channel the next snapshot follows).
func (c *Controller) after(f func()) func() {
	return func() {
		f()
		c.refresh()
	}
}

// windowOpened counts a window; its closing calls windowClosed.
func (c *Controller) windowOpened(w fyne.Window, onClosed func()) {
	c.open++
	w.SetOnClosed(func() {
		if onClosed != nil {
			onClosed()
		}
		c.windowClosed()
	})
}

func (c *Controller) windowClosed() {
	c.open--
	if c.open <= 0 && c.closed != nil {
		c.closed()
	}
}

// ShowPlayer shows the playback window and brings it forward.
func (c *Controller) ShowPlayer() {
	if c.win == nil {
		c.win = newPlayerWindow(c)
		c.windowOpened(c.win.w, func() { c.win = nil })
		c.win.update(c.opts.Core.Snapshot())
		c.readAutostart(nil)
	}
	c.win.w.Show()
	c.win.w.RequestFocus()
}

// parent is the context background work derives from: Start's.
func (c *Controller) parent() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// background runs f off the UI goroutine with a context that ends with
// Start's (or after timeout); Wait waits for it.
func (c *Controller) background(timeout time.Duration, f func(ctx context.Context)) {
	parent := c.parent()
	c.ops.Add(1)
	go func() {
		defer c.ops.Done()
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		f(ctx)
	}()
}

// later runs f on the UI goroutine once d has passed, unless the
// controller stops first; Wait waits for it. (A bare time.AfterFunc
// outlives its window and draws into whatever Fyne shows next.)
func (c *Controller) later(d time.Duration, f func()) {
	parent := c.parent()
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			c.onUI(false, f)
		case <-parent.Done():
		}
	}()
}

// CopyStreamURL puts the live stream's URL (with the tray's listen token)
// on the clipboard and says so.
func (c *Controller) CopyStreamURL() {
	if c.opts.StreamURL == nil {
		return
	}
	c.background(10*time.Second, func(ctx context.Context) {
		u, err := c.opts.StreamURL(ctx)
		if err != nil {
			c.onUI(false, func() {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Could not make a stream URL: "+err.Error()))
			})
			return
		}
		c.onUI(true, func() { c.app.Clipboard().SetContent(u) })
		c.onUI(false, func() { c.app.SendNotification(c.keepCopy(ctx, u, "Live stream URL copied")) })
	})
}

// copyText puts text on the clipboard (a token dialog's Copy): at once on
// this process's, then handed on (keepCopy), saying so only if it cannot
// be.
func (c *Controller) copyText(text string) {
	c.app.Clipboard().SetContent(text)
	if c.opts.Copy == nil {
		return
	}
	c.background(10*time.Second, func(ctx context.Context) {
		if n := c.keepCopy(ctx, text, ""); n != nil {
			c.onUI(false, func() { c.app.SendNotification(n) })
		}
	})
}

// keepCopy hands text, already on this process's clipboard, to the
// desktop's clipboard program (Options.Copy) and returns the notification
// that says how the copy stands: done (nil when done is ""), or lasting
// only while an Earshot window is open. Call it off the UI goroutine.
func (c *Controller) keepCopy(ctx context.Context, text, done string) *fyne.Notification {
	if c.opts.Copy == nil {
		if done == "" {
			return nil
		}
		return fyne.NewNotification("Earshot", done)
	}
	if err := c.opts.Copy(ctx, text); err != nil {
		c.log.Info("the copy lasts while a window is open", "err", err)
		return fyne.NewNotification("Earshot", "Copied; it stays on the clipboard while an Earshot window is open ("+err.Error()+")")
	}
	if done == "" {
		return nil
	}
	return fyne.NewNotification("Earshot", done)
}

// readAutostart reads "Start Earshot when I log in" in the background
// (the log-in entry is the truth: `earshot autostart` may change it too),
// then, on the UI goroutine, keeps it and runs then (if set).
func (c *Controller) readAutostart(then func()) {
	if c.opts.Autostart == nil {
		return
	}
	c.background(5*time.Second, func(ctx context.Context) {
		on, err := c.opts.Autostart(ctx)
		c.onUI(false, func() {
			if err == nil {
				c.autostart = on
			}
			if then != nil {
				then()
			}
		})
	})
}

// ToggleAutostart turns "Start Earshot when I log in" over and says so if
// it could not.
func (c *Controller) ToggleAutostart() {
	if c.opts.SetAutostart == nil {
		return
	}
	c.uiMu.Lock()
	want := !c.autostart
	c.uiMu.Unlock()
	c.background(10*time.Second, func(ctx context.Context) {
		err := c.opts.SetAutostart(ctx, want)
		c.readAutostart(func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Could not change “Start Earshot when I log in”: "+err.Error()))
			}
		})
	})
}

// SignOut signs out (the demo server takes over) and says so if it failed.
func (c *Controller) SignOut() {
	if c.opts.Accounts == nil {
		return
	}
	c.background(20*time.Second, func(ctx context.Context) {
		err := c.opts.Accounts.SignOut(ctx)
		c.onUI(false, func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Sign-out failed: "+err.Error()))
			}
			c.refreshLocked()
		})
	})
}

// closeIntercept: closing the playback window with a tray showing Earshot
// closes the window (Earshot plays on in the tray); without one it quits
// Earshot, so it never runs unreachable.
func (c *Controller) closeIntercept() {
	if c.opts.TrayHost() {
		c.win.w.Close()
		return
	}
	c.opts.QuitEarshot()
}
