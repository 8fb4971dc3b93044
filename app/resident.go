//go:build !headless

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"earshot/app/singleinstance"
	"earshot/relay/event"
	"earshot/relay/secrets"
	"earshot/relay/server"
	"earshot/relay/tokens"
	"earshot/ui/clipboard"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
	"earshot/ui/tray"
)

// runDefault is what `earshot` with no command does on a desktop: the
// resident process — the relay, the listening core, the player, the tray
// (fyne.io/systray), MPRIS and notifications, with no GUI toolkit — which
// starts the window process when a window is opened. Without a display it
// runs the relay alone.
func runDefault(ctx context.Context, env *Env, args []string) error {
	if !displayPresent(runtime.GOOS, os.Getenv) {
		fmt.Fprintln(env.Stderr, "No display: running the relay without a window (`earshot relay`).")
		return cmdRelay(ctx, env, args)
	}
	f, err := parseRelayFlags(env, "earshot", args)
	if err != nil {
		return err
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	log := newLogger(env.Stderr, f.verbose)
	win := &windowHost{ctx: ctx, log: log.With("part", "windows"), stderr: env.Stderr, debug: f.verbose}
	defer win.wait()

	// One Earshot per user: a second launch brings the first one's window
	// forward instead of starting another relay.
	instDir, err := singleinstance.Dir()
	if err != nil {
		return err
	}
	inst, err := singleinstance.Claim(ctx, instDir)
	if errors.Is(err, singleinstance.ErrAlreadyRunning) {
		fmt.Fprintln(env.Stdout, "Earshot is already running: its window was brought forward.")
		return nil
	}
	if err != nil {
		return err
	}
	defer inst.Close()

	r := &resident{env: env, flags: f, log: log, cfg: &configStore{env: env, log: log}, win: win, quit: quit,
		follow: &followCore{saved: &savedSelection{dir: env.ConfigDir}}}
	cfg, err := LoadConfig(env.ConfigDir)
	if err == nil {
		r.relay, err = startRelay(ctx, env, cfg, f, log, r.follow, true)
	}
	if err != nil {
		// A launch from a desktop menu has no terminal to read this in.
		if serr := win.show(ipc.ShowStartup, err.Error()); serr == nil {
			win.waitExit(24 * time.Hour)
		}
		return err
	}
	relayDone := make(chan error, 1)
	go func() { relayDone <- r.relay.wait() }()
	defer func() { quit(); <-relayDone }()
	win.res = r
	win.told = r.windowProblem
	return r.run(ctx, inst, cfg)
}

// resident is the resident process's parts.
type resident struct {
	env    *Env
	flags  relayFlags
	log    *slog.Logger
	cfg    *configStore
	win    *windowHost
	quit   context.CancelFunc
	relay  *instance
	core   *listening.Core
	note   desktopNotifier // nil: none (no session bus)
	follow *followCore
}

var _ ipc.Resident = (*resident)(nil)

func (r *resident) run(ctx context.Context, inst *singleinstance.Instance, cfg *Config) error {
	out, err := player.NewOtoOutput(48000, 2)
	if err != nil {
		return err
	}
	sound := newSoundSettings(r.env.ConfigDir, r.flags.demo)
	p, err := player.New(player.Options{Audio: r.relay.Core, Output: out, Logger: r.log.With("part", "player"),
		Gain: sound.gain})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// Notifications and media keys go through the session bus on Linux
	// and the BSDs; Windows and macOS have none (resident_native.go).
	defer r.startNotifications(ctx, &wg)()
	var notifier listening.Notifier
	if r.note != nil {
		notifier = r.note
	}
	r.core = listening.New(listening.Options{
		Feed: r.relay.Core, Player: p, Prefs: r.cfg, Notifier: notifier, Logger: r.log.With("part", "listening"),
		Settings: &settingsStore{env: r.env, inst: r.relay, sound: sound, log: r.log.With("part", "settings")},
		Account:  func() (string, string) { return residentAccounts{env: r.env}.Account() },
		DemoFlag: r.flags.demo,
	})
	p.OnChange(r.core.OnPlayerChange)
	// config.json changed (the CLI, a hand edit): the core's settings
	// follow, as the relay's alert rules do.
	reload := func(*Config) { r.core.ReloadSettings() }
	r.relay.onConfig.Store(&reload)
	r.follow.core.Store(r.core)
	wg.Go(func() {
		if err := p.Run(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("the player stopped", "err", err)
		}
	})
	wg.Go(func() { _ = r.core.Run(ctx) })
	inst.OnShow(func() { r.showWindow(ipc.ShowPlayer) })
	defer r.startMediaKeys(ctx, &wg)()

	// First run (no account) or no tray to find Earshot in: show the
	// playback window with the demo banner and Sign in….
	if !trayHostPresent() || !cfg.HasAccount() {
		r.showWindow(ipc.ShowPlayer)
	}
	if !sessionBusPresent() {
		// No session bus: no tray can ever show; the window is all there
		// is, and closing it quits.
		<-ctx.Done()
		return nil
	}
	// The tray runs on this goroutine (the main one, as Windows and macOS
	// want) until Quit or a signal.
	tray.Run(ctx, r.trayActions(), r.core)
	return nil
}

func (r *resident) showWindow(what string) { r.showWindowWith(what, "") }

// showWindowWith shows a window that takes a text (ipc.ShowStreamURL).
func (r *resident) showWindowWith(what, text string) {
	r.log.Debug("showing a window", "what", what)
	if err := r.win.show(what, text); err != nil {
		r.log.Error("could not open the window", "err", err)
		r.notify("Earshot could not open its window", err.Error())
	}
}

// windowProblem tells the listener why no window could open (reason, from
// the window program), in a notification and the tray's tooltip, which
// keeps saying it until a window opens (reason ""). The tray's Open player
// tries again.
func (r *resident) windowProblem(reason string) {
	if r.core != nil {
		r.core.SetWindowProblem(reason)
	}
	if reason == "" {
		return
	}
	body := []rune(strings.TrimPrefix(reason, ipc.CannotOpen))
	if len(body) > 0 {
		body[0] = unicode.ToUpper(body[0])
	}
	r.notify(strings.TrimSuffix(ipc.CannotOpen, ": "), string(body)+". Open player in the tray tries again.")
}

func (r *resident) notify(title, body string) {
	if r.note != nil {
		r.note.Notify(title, body)
	}
}

func (r *resident) trayActions() tray.Actions {
	c := r.core
	return tray.Actions{
		OpenPlayer:    func() { r.showWindow(ipc.ShowPlayer) },
		ToggleLive:    c.ToggleLive,
		PauseResume:   c.TogglePause,
		Skip:          c.Skip,
		ToggleMute:    c.ToggleMute,
		HoldTalkgroup: c.ToggleHoldTalkgroup,
		PlayCall: func(id int64) {
			if err := c.Play(id); err != nil {
				r.notify("Earshot", "Could not play the alert's call: "+err.Error())
			}
		},
		PauseQuiet:    c.PauseQuietHours,
		CopyStreamURL: r.copyStreamURL,
		ManageTokens:  func() { r.showWindow(ipc.ShowTokens) },
		SignIn:        func() { r.showWindow(ipc.ShowSignIn) },
		SignOut: func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := r.Accounts().SignOut(ctx); err != nil {
					r.notify("Earshot: sign-out failed", err.Error())
				}
			}()
		},
		Quit:      r.Quit,
		Problem:   r.notify,
		Autostart: &tray.Autostart{On: r.Autostart, Set: r.SetAutostart},
	}
}

// Autostart and SetAutostart are "Start Earshot when I log in" (the
// desktop's log-in entry that `earshot autostart` edits).
func (r *resident) Autostart() (bool, error)   { return AutostartOn() }
func (r *resident) SetAutostart(on bool) error { return Autostart(on) }

// copyStreamURL puts the live feed's URL on the clipboard and says so.
// The copy is handed to the desktop's clipboard program, which keeps it
// after the copy returns (ui/clipboard); without one, a small window
// shows the URL with a Copy button, and the copy lasts while it is open.
func (r *resident) copyStreamURL() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u, err := r.StreamURL(ctx)
		if err != nil {
			r.notify("Earshot", "Could not make a stream URL: "+err.Error())
			return
		}
		if err := r.Copy(ctx, u); err != nil {
			r.log.Info("no clipboard program: showing the stream URL instead", "err", err)
			r.showWindowWith(ipc.ShowStreamURL, u)
			return
		}
		r.notify("Earshot", "Live stream URL copied")
	}()
}

// Copy puts text on the desktop's clipboard through its clipboard
// program, where it stays after the window process that asked ends.
func (r *resident) Copy(ctx context.Context, text string) error {
	if err := clipboard.Copy(ctx, text); err != nil {
		return &ipc.Error{Kind: ipc.KindUnavailable, Message: err.Error()}
	}
	return nil
}

// Core, Accounts, Tokens, StreamURL, BaseURL and Quit are what the window
// process's commands reach (ipc.Resident).

func (r *resident) Core() *listening.Core { return r.core }

func (r *resident) Accounts() ipc.Accounts {
	return residentAccounts{env: r.env, cfg: r.cfg, inst: r.relay}
}

func (r *resident) Tokens() tokens.Admin { return residentTokens{Manager: r.relay.Tokens, r: r} }

// residentTokens is the token registry as the windows change it: rotating
// the tray's own token (Copy stream URL's) keeps the new one for the tray,
// so Copy stream URL hands out the token that lives on, not the one whose
// grace is running out.
type residentTokens struct {
	*tokens.Manager
	r *resident
}

// Rotate rotates token id and, when it is the tray's, keeps the new one.
func (t residentTokens) Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error) {
	trayID := t.r.trayTokenID(ctx)
	tok, info, err := t.Manager.Rotate(ctx, id, grace)
	if err == nil && trayID != "" && trayID == id {
		if serr := t.r.env.keyring().Set(ctx, trayTokenItem, tok); serr != nil {
			t.r.log.Warn("the tray's rotated token could not be kept; Copy stream URL makes a new one", "err", serr)
		}
	}
	return tok, info, err
}

// trayTokenID is the id of the tray's token ("" if it has none).
func (r *resident) trayTokenID(ctx context.Context) string {
	tok, err := r.env.keyring().Get(ctx, trayTokenItem)
	if err != nil {
		return ""
	}
	c, err := r.relay.Tokens.Verify(tok)
	if err != nil {
		return ""
	}
	return c.ID
}

func (r *resident) BaseURL() string { return "http://" + dialAddr(r.relay.Addr) }

func (r *resident) Quit() { r.quit() }

// trayTokenItem keeps the tray's own listen token in the keyring, so "Copy
// stream URL" reuses it instead of minting a token per click.
const trayTokenItem = "tray-stream-token"

// StreamURL returns the live-feed URL with the tray's listen token.
func (r *resident) StreamURL(ctx context.Context) (string, error) {
	m := r.relay.Tokens
	keys := r.env.keyring()
	tok, err := keys.Get(ctx, trayTokenItem)
	if err == nil {
		// A token that no longer works, or that was rotated out (by the
		// CLI, or Rotate all) and works only until its grace ends, is
		// not handed out: a new one is made.
		if c, verr := m.Verify(tok); verr != nil {
			tok = ""
		} else if info, ok := m.Get(c.ID); !ok || info.RetiresAt != nil {
			tok = ""
		}
	} else if !errors.Is(err, secrets.ErrNotFound) {
		return "", err
	}
	if tok == "" {
		if tok, _, err = m.Create(ctx, "Copy stream URL (tray)", tokens.ScopeListen, 0); err != nil {
			return "", err
		}
		if err := keys.Set(ctx, trayTokenItem, tok); err != nil {
			return "", err
		}
	}
	return server.StreamURL(r.BaseURL(), tok), nil
}

// desktopNotifier shows the desktop's notifications: the listening
// core's alerts and notices, and the resident's own messages.
type desktopNotifier interface {
	listening.Notifier
	Notify(title, body string)
}

// followCore is what the continuous stream's follow=player follows in the
// resident: the listening core's filter, as it changes; before the core
// exists, the selection it saved.
type followCore struct {
	saved *savedSelection
	core  atomic.Pointer[listening.Core]
}

var _ server.PlayerSelection = (*followCore)(nil)

func (f *followCore) Allows(c event.Call, now time.Time) bool {
	if core := f.core.Load(); core != nil {
		return core.Snapshot().Filter.Allows(c, now)
	}
	return f.saved.Allows(c, now)
}

func (f *followCore) Ready() error {
	if f.core.Load() != nil {
		return nil
	}
	return f.saved.Ready()
}
