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
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"earshot/assets"
	"earshot/relay"
	"earshot/relay/backend"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/secrets"
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
	inst, err := claimSingleInstance(ctx)
	if errors.Is(err, errAlreadyRunning) {
		fmt.Fprintln(env.Stdout, "Earshot is already running: its window was brought forward.")
		return nil
	}
	if err != nil {
		return err
	}
	defer inst.Close()

	log := newLogger(env.Stderr, f.verbose)
	g := &gui{env: env, flags: f, log: log}
	if err := g.startRelay(ctx); err != nil {
		return err
	}
	defer g.stopRelay()

	out, err := player.NewOtoOutput(48000, 2)
	if err != nil {
		return err
	}
	p, err := player.New(player.Options{Audio: audioProxy{g}, Output: out, Logger: log.With("part", "player")})
	if err != nil {
		return err
	}
	pctx, stopPlayer := context.WithCancel(ctx)
	defer stopPlayer()
	go func() {
		if err := p.Run(pctx); err != nil && pctx.Err() == nil {
			log.Warn("the player stopped", "err", err)
		}
	}()

	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("earshot.png", assets.IconPNG))
	ctrl := ui.New(ui.Options{
		App: a, Feed: feedProxy{g}, Player: p, Logger: log.With("part", "ui"),
		Accounts:  guiAccounts{g},
		Tokens:    guiTokens{g},
		Prefs:     &configPrefs{env: env, log: log},
		TrayHost:  trayHostPresent,
		StreamURL: g.streamURL,
		Quit:      a.Quit,
	})
	p.OnChange(ctrl.OnPlayerChange)
	inst.OnShow(func() { fyne.Do(ctrl.ShowPlayer) })
	if bus, err := mpris.Start(pctx, mprisPlayer{p, func() { fyne.Do(ctrl.ShowPlayer) }}, log.With("part", "mpris")); err != nil {
		log.Info("media keys unavailable (no MPRIS on the session bus)", "err", err)
	} else {
		defer bus.Close()
		p.OnChange(func(st player.State) {
			ctrl.OnPlayerChange(st)
			bus.Changed()
		})
	}
	// Before Run: Fyne starts the tray only if its menu is set by then.
	ctrl.Start(pctx)
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	a.Run()
	return nil
}

// gui holds the relay the window shows; signing in or out restarts it.
type gui struct {
	env   *Env
	flags relayFlags
	log   *slog.Logger

	mu   sync.Mutex
	inst *instance
	done chan error
}

func (g *gui) startRelay(ctx context.Context) error {
	cfg, err := LoadConfig(g.env.ConfigDir)
	if err != nil {
		return err
	}
	inst, err := startRelay(ctx, g.env, cfg, g.flags, g.log)
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
	return g.startRelay(context.Background())
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
	if err := SignIn(ctx, a.g.env, u, user, password, remember); err != nil {
		return err
	}
	return a.g.restart()
}

func (a guiAccounts) SignOut(ctx context.Context) error {
	if err := SignOut(ctx, a.g.env); err != nil {
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

// trayTokenItem keeps the tray's own listen token in the keyring, so "Copy
// stream URL" reuses it instead of minting a token per click.
const trayTokenItem = "tray-stream-token"

// streamURL returns the live-feed URL with the tray's listen token.
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
	return "ws://" + guiTokens{g}.BaseURL()[len("http://"):] + "/v1/live?token=" + tok, nil
}

// configPrefs keeps UI settings in config.json's preferences.
type configPrefs struct {
	env *Env
	log *slog.Logger
	mu  sync.Mutex
}

func (p *configPrefs) Load(key string, v any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, err := LoadConfig(p.env.ConfigDir)
	if err != nil {
		return false
	}
	raw, ok := cfg.Preferences[key]
	return ok && json.Unmarshal(raw, v) == nil
}

func (p *configPrefs) Save(key string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, err := LoadConfig(p.env.ConfigDir)
	if err != nil {
		p.log.Warn("could not read the settings", "err", err)
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	if cfg.Preferences == nil {
		cfg.Preferences = map[string]json.RawMessage{}
	}
	cfg.Preferences[key] = raw
	if err := SaveConfig(p.env.ConfigDir, cfg); err != nil {
		p.log.Warn("could not save the settings", "err", err)
	}
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
