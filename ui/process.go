package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"earshot/assets"
	"earshot/ui/ipc"
)

// AppID is Earshot's application id (FyneApp.toml, desktop file, D-Bus).
const AppID = "app.earshot.earshot"

// gcPercent is the window process's GOGC.
const gcPercent = 40

// trimAfter is how long after the first window is shown the process hands
// its start-up garbage back (debug.FreeOSMemory).
const trimAfter = 2 * time.Second

// goneLinger is how long the windows say the resident process stopped
// before they close.
const goneLinger = 3 * time.Second

// RunWindowProcess is the window process: it reads the resident's
// messages on in, writes commands to out, logs to logs, shows what it is
// asked to show and returns (the process's exit code) when its last
// window closes or the resident goes away.
//
// It never ends in a raw panic: when no window can open (no display, a
// graphics library that does not start) it says why on its channel and
// in its log and returns ipc.ExitCannotShow, and the resident tells the
// listener.
func RunWindowProcess(in io.Reader, out io.Writer, logs io.Writer) (code int) {
	// The channel is this process's standard output: were Earshot gone, a
	// write to it would end the process at once with SIGPIPE (Go's rule
	// for fds 1 and 2), before the windows could say Earshot stopped.
	// Ignored, the write fails and the channel's end is noticed.
	signal.Ignore(syscall.SIGPIPE)
	level := slog.LevelInfo
	if os.Getenv(ipc.DebugEnv) != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})).With("process", "window")
	conn := ipc.NewConn(in, out)
	cannotShow := func(reason string) int {
		log.Error(reason)
		_ = conn.Send(ipc.CannotShowMessage(reason))
		return ipc.ExitCannotShow
	}
	// Without a display GLFW logs the failure, carries on and panics a
	// moment later: look for the display first, before Fyne starts.
	if why := displayProblem(context.Background(), os.Getenv); why != "" {
		return cannotShow(why)
	}
	// What GLFW says of a display that answered and then refused the
	// window reaches the standard logger: it words the failure below.
	platform := &platformErrors{}
	stdlog.SetOutput(io.MultiWriter(logs, platform))
	// Fyne's fonts alone keep some 24 MB of heap live: with the default
	// GOGC the heap would grow to twice that between collections. The
	// window process does little work, so it collects more often instead.
	debug.SetGCPercent(gcPercent)
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("earshot.png", assets.IconPNG))
	a.Settings().SetTheme(newTheme())
	client := ipc.NewClient(conn)
	ctrl := New(Options{
		App: a, Core: client, Accounts: client, Tokens: client, StreamURL: client.StreamURL, Copy: client.Copy,
		Autostart: client.Autostart, SetAutostart: client.SetAutostart,
		TrayHost: trayHostPresent, QuitEarshot: client.Quit, Logger: log, Hour12: Hour12(LocaleFromEnv(os.Getenv)), Past: client, TokenFeed: client,
	})
	// Once the last window closed the process is ending: a window asked
	// for from then on is not shown here (nor said to be), and the
	// resident asks a new process for it.
	var ending atomic.Bool
	// Whether a window was shown: a panic out of the run loop before that
	// is the graphics library failing to start.
	var shown atomic.Bool
	// Opening a window decodes the history, the talkgroups and fonts: the
	// garbage of it is handed back to the system once the window settled,
	// not kept for as long as the window is open.
	var trim sync.Once
	ctrl.OnAllClosed(func() {
		log.Debug("the last window closed: the window process ends")
		ending.Store(true)
		client.Closing()
		a.Quit()
	})
	client.OnShow(func(what, text string) {
		log.Debug("asked to show a window", "what", what)
		ctrl.onUI(false, func() {
			if ending.Load() {
				return
			}
			ctrl.show(what, text)
			shown.Store(true)
			client.Shown(what)
			trim.Do(func() { time.AfterFunc(trimAfter, debug.FreeOSMemory) })
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrl.Start(ctx)
	ended := make(chan error, 1)
	go func() { ended <- client.Run(ctx) }()
	go func() {
		err := <-ended
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ipc.ErrResidentGone) {
			log.Info("Earshot's end of the channel closed: closing the windows")
		} else {
			log.Error("the channel to Earshot broke", "err", err)
		}
		// Say so in every window, then close.
		ctrl.onUI(false, func() { ctrl.residentGone() })
		time.Sleep(goneLinger)
		fyne.Do(a.Quit)
	}()
	// The run loop is on this goroutine: a panic out of it (GLFW's when
	// the display refused the window) is worded, not dumped.
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		cancel()
		if !shown.Load() {
			log.Debug("the graphics library panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			code = cannotShow(graphicsFailure(os.Getenv(displayEnv), r, platform.String()))
			return
		}
		log.Error("the window program failed; Earshot plays on, and Open player starts it again",
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		code = exitFailed
	}()
	a.Run()
	cancel()
	ctrl.Wait()
	return 0
}

// exitFailed is the window process's exit status after a failure in a
// window (a panic out of the run loop, logged with its stack).
const exitFailed = 2

// show brings a window forward. Call it with uiMu held.
func (c *Controller) show(what, text string) {
	switch what {
	case ipc.ShowPlayer:
		c.ShowPlayer()
	case ipc.ShowSignIn:
		c.ShowSignIn()
	case ipc.ShowTokens:
		c.ShowTokens()
	case ipc.ShowStartup:
		w := StartupErrorWindow(c.app, errors.New(text))
		c.windowOpened(w, nil)
		w.Show()
	case ipc.ShowStreamURL:
		c.ShowStreamURL(text)
	}
}

// residentGone tells every open window that Earshot stopped. Call it
// with uiMu held.
func (c *Controller) residentGone() {
	msg := fmt.Sprintf("%s. This window closes.", ipc.ErrResidentGone)
	for _, w := range c.app.Driver().AllWindows() {
		w.SetTitle("Earshot — stopped")
	}
	if c.win != nil {
		c.win.state.SetText(msg)
		c.win.tg.SetText("Earshot has stopped")
	}
}
