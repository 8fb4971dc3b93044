//go:build !headless

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"earshot/app/singleinstance"
	"earshot/assets"
	"earshot/relay"
	"earshot/relay/backend"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/secrets"
	"earshot/relay/server"
	"earshot/relay/tokens"
	"earshot/ui"
	"earshot/ui/mpris"
	"earshot/ui/player"
)

// AppID is Earshot's application id (FyneApp.toml, desktop file, D-Bus).
const AppID = "app.earshot.earshot"

// runDefault is what `earshot` with no command does: in a GUI build, the tray
// app with the relay inside it. Without a display it runs the relay alone.
func runDefault(ctx context.Context, env *Env, args []string) error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintln(env.Stderr, "No display: running the relay without a window (`earshot relay`).")
		return cmdRelay(ctx, env, args)
	}
	f, err := parseRelayFlags(env, "earshot", args)
	if err != nil {
		return err
	}
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

	log := newLogger(env.Stderr, f.verbose)
	g := &gui{ctx: ctx, env: env, flags: f, log: log, cfg: &configStore{env: env, log: log},
		follow: &followPlayer{saved: &savedSelection{dir: env.ConfigDir}}}
	if err := g.startRelay(ctx); err != nil {
		showStartupError(ctx, err)
		return err
	}
	defer g.stopRelay()

	out, err := player.NewOtoOutput(48000, 2)
	if err != nil {
		return err
	}
	p, err := player.New(player.Options{Audio: audioProxy{g}, Output: out, Logger: log.With("part", "player"),
		Gain: newListening(env.ConfigDir, f.demo).gain})
	if err != nil {
		return err
	}
	g.follow.player.Store(p)
	// Everything below stops with uiCtx, which ends when the app does
	// (a menu Quit) or when ctx does (a signal); each goroutine is waited
	// for before the relay stops.
	var wg sync.WaitGroup
	defer wg.Wait()
	uiCtx, stopUI := context.WithCancel(ctx)
	defer stopUI()
	wg.Go(func() {
		if err := p.Run(uiCtx); err != nil && uiCtx.Err() == nil {
			log.Warn("the player stopped", "err", err)
		}
	})

	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("earshot.png", assets.IconPNG))
	ctrl := ui.New(ui.Options{
		App: a, Feed: feedProxy{g}, Player: p, Logger: log.With("part", "ui"),
		Accounts:  guiAccounts{g},
		Tokens:    guiTokens{g},
		Prefs:     g.cfg,
		TrayHost:  trayHostPresent,
		TrayIcon:  sessionBusPresent(),
		Demo:      f.demo,
		StreamURL: g.streamURL,
		Quit:      a.Quit,
	})
	p.OnChange(ctrl.OnPlayerChange)
	inst.OnShow(func() { fyne.Do(ctrl.ShowPlayer) })
	if bus, err := mpris.Start(uiCtx, mprisPlayer{p, func() { fyne.Do(ctrl.ShowPlayer) }}, log.With("part", "mpris")); err != nil {
		log.Info("media keys unavailable (no MPRIS on the session bus)", "err", err)
	} else {
		defer bus.Close()
		p.OnChange(func(st player.State) {
			ctrl.OnPlayerChange(st)
			bus.Changed()
		})
	}
	// Before Run: Fyne starts the tray only if its menu is set by then.
	ctrl.Start(uiCtx)
	wg.Go(func() {
		<-uiCtx.Done()
		ctrl.Wait()
	})
	ran := make(chan struct{})
	wg.Go(func() {
		select {
		case <-ctx.Done(): // a signal: end the app
			fyne.Do(a.Quit)
		case <-ran: // the app ended (Quit from the menu or the window)
		}
	})
	a.Run()
	close(ran)
	stopUI()
	return nil
}

// showStartupError shows why the relay could not start in a window of its
// own until the user quits (or ctx ends): a launch from a desktop menu has
// no terminal to read the error in.
func showStartupError(ctx context.Context, err error) {
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("earshot.png", assets.IconPNG))
	ui.StartupErrorWindow(a, err).Show()
	ran := make(chan struct{})
	defer close(ran)
	go func() {
		select {
		case <-ctx.Done():
			fyne.Do(a.Quit)
		case <-ran:
		}
	}()
	a.Run()
}

// gui holds the relay the window shows; signing in or out restarts it.
type gui struct {
	ctx    context.Context // the run's: relays started on sign-in stop with it
	env    *Env
	flags  relayFlags
	log    *slog.Logger
	cfg    *configStore
	follow *followPlayer

	mu   sync.Mutex
	inst *instance
	done chan error
}

func (g *gui) startRelay(ctx context.Context) error {
	cfg, err := LoadConfig(g.env.ConfigDir)
	if err != nil {
		return err
	}
	var follow server.PlayerSelection
	if g.follow != nil {
		follow = g.follow
	}
	inst, err := startRelay(ctx, g.env, cfg, g.flags, g.log, follow)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- inst.wait() }()
	g.mu.Lock()
	g.inst, g.done = inst, done
	g.mu.Unlock()
	return nil
}

func (g *gui) stopRelay() {
	g.mu.Lock()
	inst, done := g.inst, g.done
	g.inst = nil
	g.mu.Unlock()
	if inst != nil {
		inst.cancel()
		<-done
	}
}

// restart starts the relay again with the account now configured.
func (g *gui) restart() error {
	g.stopRelay()
	return g.startRelay(g.ctx)
}

func (g *gui) core() *relay.Relay {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inst == nil {
		return nil
	}
	return g.inst.Core
}

// feedProxy follows whichever relay runs now.
type feedProxy struct{ g *gui }

func (f feedProxy) Subscribe(n int) *hub.Subscriber {
	if c := f.g.core(); c != nil {
		return c.Subscribe(n)
	}
	h := hub.New(nil)
	h.Close()
	return h.Subscribe(n)
}

func (f feedProxy) Calls(q relay.Query) []event.Call {
	if c := f.g.core(); c != nil {
		return c.Calls(q)
	}
	return nil
}

func (f feedProxy) Status() relay.Report {
	if c := f.g.core(); c != nil {
		return c.Status()
	}
	return relay.Report{Backend: event.Status{State: event.StateConnecting}}
}

func (f feedProxy) Catalog() event.Catalog {
	if c := f.g.core(); c != nil {
		return c.Catalog()
	}
	return event.Catalog{}
}

type audioProxy struct{ g *gui }

func (a audioProxy) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	c := a.g.core()
	if c == nil {
		return nil, relay.ErrUnavailable
	}
	return c.Audio(ctx, id)
}

// guiAccounts signs in and out like `earshot login`/`logout`, then
// restarts the relay on the new account.
type guiAccounts struct{ g *gui }

func (a guiAccounts) Account() (string, string) {
	cfg, err := LoadConfig(a.g.env.ConfigDir)
	if err != nil {
		return "", ""
	}
	return cfg.Server, cfg.User
}

func (a guiAccounts) Probe(ctx context.Context, server string) (bool, error) {
	u, err := NormalizeServerURL(server)
	if err != nil {
		return false, err
	}
	s, err := backend.New(backend.Options{ServerURL: u, Logger: a.g.log})
	if err != nil {
		return false, err
	}
	if err := s.Probe(ctx); err != nil {
		return false, err
	}
	_, public := s.ServerInfo()
	return public, nil
}

func (a guiAccounts) SignIn(ctx context.Context, server, user, password string, remember bool) error {
	u, err := NormalizeServerURL(server)
	if err != nil {
		return err
	}
	signIn := func() error { return SignIn(ctx, a.g.env, u, user, password, remember) }
	if user == "" {
		signIn = func() error { return a.usePublic(ctx, u) }
	}
	if err := a.g.cfg.rewrite(signIn); err != nil {
		return err
	}
	return a.g.restart()
}

// usePublic configures a public-access server (no account), as `earshot
// login --server URL` without --user does, signing out of an account
// configured before. Call it under the config lock.
func (a guiAccounts) usePublic(ctx context.Context, server string) error {
	public, err := a.Probe(ctx, server)
	if err != nil {
		return err
	}
	if !public {
		return fmt.Errorf("%s needs an account: enter a user name and password", server)
	}
	if err := SignOut(ctx, a.g.env); err != nil {
		return err
	}
	cfg, err := LoadConfig(a.g.env.ConfigDir)
	if err != nil {
		return err
	}
	cfg.Server, cfg.User = server, ""
	return SaveConfig(a.g.env.ConfigDir, cfg)
}

func (a guiAccounts) SignOut(ctx context.Context) error {
	if err := a.g.cfg.rewrite(func() error { return SignOut(ctx, a.g.env) }); err != nil {
		return err
	}
	return a.g.restart()
}

// guiTokens manages tokens on the running relay's registry.
type guiTokens struct{ g *gui }

func (t guiTokens) reg() (*tokens.Manager, error) {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	if t.g.inst == nil {
		return nil, errors.New("the relay is not running")
	}
	return t.g.inst.Tokens, nil
}

func (t guiTokens) List(context.Context) ([]tokens.Info, error) {
	m, err := t.reg()
	if err != nil {
		return nil, err
	}
	return m.List(), nil
}

func (t guiTokens) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error) {
	m, err := t.reg()
	if err != nil {
		return "", tokens.Info{}, err
	}
	return m.Create(ctx, name, scope, ttl)
}

func (t guiTokens) Revoke(ctx context.Context, id string) error {
	m, err := t.reg()
	if err != nil {
		return err
	}
	return m.Revoke(ctx, id)
}

func (t guiTokens) Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error) {
	m, err := t.reg()
	if err != nil {
		return "", tokens.Info{}, err
	}
	return m.Rotate(ctx, id, grace)
}

func (t guiTokens) RotateAll(ctx context.Context, grace time.Duration) error {
	m, err := t.reg()
	if err != nil {
		return err
	}
	return m.RotateAll(ctx, grace)
}

func (t guiTokens) BaseURL() string {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	if t.g.inst == nil {
		return "http://" + DefaultListen
	}
	return "http://" + t.g.inst.Addr
}

// followPlayer is what the continuous stream's follow=player follows in
// the tray app: the player's filter, as it changes; before the player
// exists, the selection it saved.
type followPlayer struct {
	saved  *savedSelection
	player atomic.Pointer[player.Player]
}

func (f *followPlayer) Allows(c event.Call, now time.Time) bool {
	if p := f.player.Load(); p != nil {
		return p.Filter().Allows(c, now)
	}
	return f.saved.Allows(c, now)
}

func (f *followPlayer) Ready() error {
	if f.player.Load() != nil {
		return nil
	}
	return f.saved.Ready()
}

// trayTokenItem keeps the tray's own listen token in the keyring, so "Copy
// stream URL" reuses it instead of minting a token per click.
const trayTokenItem = "tray-stream-token"

// streamURL returns the continuous stream's URL with the tray's listen
// token: what "Copy stream URL" copies, for VLC, OBS or a browser.
func (g *gui) streamURL(ctx context.Context) (string, error) {
	m, err := guiTokens{g}.reg()
	if err != nil {
		return "", err
	}
	keys := g.env.keyring()
	tok, err := keys.Get(ctx, trayTokenItem)
	if err == nil {
		if _, verr := m.Verify(tok); verr != nil {
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
	return server.StreamURL(guiTokens{g}.BaseURL(), tok), nil
}

// configStore keeps the UI's settings in config.json's preferences and
// serializes every read-modify-write of config.json this process makes:
// settings saves, and sign-in and sign-out (which read the file, talk to
// the server, then write it back with the new account). One lock held
// across each whole read-modify-write means a settings save can never
// write back the account a sign-out just removed, nor a sign-in drop a
// setting.
//
// A sign-in holds the lock for as long as the server takes, and settings
// are saved from the UI goroutine, so Save never waits for it: the setting
// is kept in memory and written by whoever holds the lock when it lets go.
type configStore struct {
	env *Env
	log *slog.Logger

	file sync.Mutex // held across every read-modify-write of config.json

	mu      sync.Mutex
	pending map[string]json.RawMessage // saved settings not yet written
	saves   int                        // Save calls so far
	tried   int                        // saves when the pending settings were last written (or tried)
}

// Load decodes the setting named key into v and reports whether one was
// stored.
func (s *configStore) Load(key string, v any) bool {
	s.mu.Lock()
	raw, ok := s.pending[key]
	s.mu.Unlock()
	if !ok {
		// Writes are atomic renames: reading needs no lock.
		cfg, err := LoadConfig(s.env.ConfigDir)
		if err != nil {
			return false
		}
		raw, ok = cfg.Preferences[key]
	}
	return ok && json.Unmarshal(raw, v) == nil
}

// Save stores v as the setting named key, at once unless a sign-in or
// sign-out is rewriting config.json (then as soon as it is done).
func (s *configStore) Save(key string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		s.log.Warn("could not encode a setting", "key", key, "err", err)
		return
	}
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]json.RawMessage{}
	}
	s.pending[key] = raw
	s.saves++
	s.mu.Unlock()
	if s.file.TryLock() {
		s.writePendingLocked()
		s.release()
	}
}

// rewrite runs f, which reads and rewrites config.json (sign-in,
// sign-out), under the lock; settings saved meanwhile are written after
// it.
func (s *configStore) rewrite(f func() error) error {
	s.file.Lock()
	err := f()
	s.writePendingLocked()
	s.release()
	return err
}

// release unlocks the file lock. A setting saved while the lock was held
// but after its holder wrote the pending ones is written now, unless
// someone else holds the lock again (they will write it).
func (s *configStore) release() {
	for {
		s.file.Unlock()
		s.mu.Lock()
		newer := s.saves != s.tried
		s.mu.Unlock()
		if !newer || !s.file.TryLock() {
			return
		}
		s.writePendingLocked()
	}
}

// writePendingLocked writes the pending settings into config.json (read
// afresh). Call it with s.file held. On failure they stay pending for the
// next try.
func (s *configStore) writePendingLocked() {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.tried = s.saves
	s.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	// Under the file lock too: the CLI or the relay may be changing
	// alert rules in config.json at the same moment.
	err := UpdateConfig(context.Background(), s.env.ConfigDir, func(cfg *Config) error {
		if cfg.Preferences == nil {
			cfg.Preferences = map[string]json.RawMessage{}
		}
		for k, v := range pending {
			cfg.Preferences[k] = v
		}
		return nil
	})
	if err == nil {
		return
	}
	s.log.Warn("could not save the settings", "err", err)
	s.mu.Lock()
	for k, v := range pending {
		if _, newer := s.pending[k]; !newer {
			if s.pending == nil {
				s.pending = map[string]json.RawMessage{}
			}
			s.pending[k] = v
		}
	}
	s.mu.Unlock()
}

// mprisPlayer adapts the player to MPRIS; Raise shows the window.
type mprisPlayer struct {
	p     *player.Player
	raise func()
}

func (m mprisPlayer) Raise()     { m.raise() }
func (m mprisPlayer) PlayPause() { m.p.TogglePause() }
func (m mprisPlayer) Play()      { m.p.Resume() }
func (m mprisPlayer) Pause()     { m.p.Pause() }
func (m mprisPlayer) Next()      { m.p.Skip() }
func (m mprisPlayer) Previous()  { m.p.Replay() }
func (m mprisPlayer) Now() mpris.NowPlaying {
	st := m.p.State()
	n := mpris.NowPlaying{Playing: st.Call != nil && !st.Paused, Paused: st.Paused, Length: st.Duration}
	if st.Call != nil {
		n.CallID = st.Call.ID
		n.Title = st.Call.TalkgroupLabel
		if n.Title == "" {
			n.Title = st.Call.TalkgroupName
		}
		n.Artist = st.Call.SystemLabel
	}
	return n
}
