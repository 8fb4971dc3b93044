//go:build !headless

package app

// Fyne tests share one global app: no t.Parallel here.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
	"earshot/ui"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// guiRig is the tray app's real account path — the windows' sign-in
// request as the resident carries it out (probe, `earshot login`'s sign-in
// with the real keyring, the account swapped behind the one running relay)
// and config.json.
type guiRig struct {
	env  *Env
	inst *instance
	acc  residentAccounts
	res  *resident // its listening core on a player that is never started
}

func newGUIRig(t *testing.T) *guiRig {
	t.Helper()
	env, _, _ := testEnv(t, "")
	log := discardLogger()
	ctx, cancel := context.WithCancel(context.Background())
	follow := &followCore{saved: &savedSelection{dir: env.ConfigDir}}
	inst, err := startRelay(ctx, env, &Config{}, relayFlags{listen: "127.0.0.1:0"}, log, follow, true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.wait() }()
	cfg := &configStore{env: env, log: log}
	p, err := player.New(player.Options{Audio: inst.Core, Output: silentOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	core := listening.New(listening.Options{Feed: inst.Core, Player: p, Prefs: cfg,
		Settings: &settingsStore{env: env, inst: inst, log: log},
		Account:  func() (string, string) { return residentAccounts{env: env}.Account() }})
	p.OnChange(core.OnPlayerChange)
	reload := func(*Config) { core.ReloadSettings() }
	inst.onConfig.Store(&reload)
	follow.core.Store(core)
	coreDone := make(chan struct{})
	go func() { defer close(coreDone); _ = core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-coreDone })
	return &guiRig{env: env, inst: inst, acc: residentAccounts{env: env, cfg: cfg, inst: inst},
		res: &resident{env: env, log: log, cfg: cfg, relay: inst, core: core, follow: follow}}
}

// silentOutput is a sound device that is never started (the player is not
// run in these tests).
type silentOutput struct{}

func (silentOutput) SampleRate() int                        { return 48000 }
func (silentOutput) Start(context.Context, io.Reader) error { return errors.New("no sound in tests") }
func (silentOutput) Err() error                             { return nil }

// signIn signs in as the window does (a probe first, then the sign-in)
// and returns what the window would say.
func (r *guiRig) signIn(t *testing.T, server, user, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	public, err := r.acc.Probe(ctx, server)
	if err == nil && user == "" && !public {
		err = &ipc.Error{Kind: ipc.KindNeedsAccount, Message: "no public access"}
	}
	if err == nil {
		err = r.acc.SignIn(ctx, server, user, password, false)
	}
	if err != nil {
		return ui.SignInMessage(err)
	}
	return "Signed in."
}

func wantMessage(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("the sign-in window says %q, want it to say %q", got, w)
		}
	}
}

func TestGUISignIn_WrongPasswordSaysSo(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, "not-the-password"), "refused this user name or password", "10 minutes")
	if cfg, _ := LoadConfig(r.env.ConfigDir); cfg.HasAccount() {
		t.Fatal("a refused sign-in configured the account")
	}
}

func TestGUISignIn_ThreeFailuresThenTheServerSaysWait10Minutes(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	for i := 0; i < 3; i++ {
		wantMessage(t, r.signIn(t, fake.URL(), testUser, "not-the-password"), "refused")
	}
	// Locked now: even the right password is refused with 429.
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Wait 10 minutes")
	if n := fake.Counters().RateLimited; n != 1 {
		t.Fatalf("the server answered 429 %d times, want 1", n)
	}
}

func TestGUISignIn_UnreachableServerSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port: connection refused
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, "http://"+addr, testUser, testPassword), "cannot be reached")
}

func TestGUISignIn_UntrustedTLSCertificateSaysSo(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request got through an untrusted certificate: %s", r.URL)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	defer srv.Close()
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, srv.URL, testUser, testPassword), "TLS certificate is not trusted")
}

func TestGUISignIn_NotAnOpenScannerServerSaysSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>My blog</body></html>")
	}))
	defer srv.Close()
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, srv.URL, testUser, testPassword), "does not answer like an OpenScanner server")
}

func TestGUISignIn_PublicAccessServerNeedsNoAccount(t *testing.T) {
	fake := newFake(t, backendtest.Options{PublicAccess: true})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), "", ""), "Signed in")
	cfg, err := LoadConfig(r.env.ConfigDir)
	if err != nil || cfg.Server != fake.URL() || cfg.User != "" {
		t.Fatalf("config after a public sign-in: %+v, %v", cfg, err)
	}
	// The one relay now runs against that server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := r.inst.Core
		if c.Status().Backend.State == event.StateConnected && c.Status().Backend.Server == fake.URL() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not connect to the public server after signing in")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGUISignIn_PrivateServerWithoutUserAsksForOne(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), "", ""), "no public access")
	if n := fake.Counters().FailedLogins; n != 0 {
		t.Fatalf("%d sign-in attempts without a user name, want none", n)
	}
}

func TestGUISignIn_RightPasswordSignsInAndStartsTheRelay(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	cfg, _ := LoadConfig(r.env.ConfigDir)
	if cfg.Server != fake.URL() || cfg.User != testUser {
		t.Fatalf("config after signing in: %+v", cfg)
	}
	waitServer(t, r, fake.URL())
}

// waitServer waits until the relay's session is on server.
func waitServer(t *testing.T, r *guiRig, server string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.inst.Core.Status().Backend.Server != server {
		if time.Now().After(deadline) {
			t.Fatalf("the relay's session is on %q, want %q", r.inst.Core.Status().Backend.Server, server)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A settings save while sign-out rewrites config.json neither blocks the
// UI nor writes the old account back; the setting is kept.
func TestGUIConfig_SettingSavedDuringSignOutKeepsTheSignOut(t *testing.T) {
	env, _, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Server: "https://old.example.org", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	s := &configStore{env: env, log: discardLogger()}
	saved := make(chan struct{})
	err := s.rewrite(func() error {
		cfg, err := LoadConfig(env.ConfigDir) // a sign-out reads the file…
		if err != nil {
			return err
		}
		go func() { // …the listener changes the volume meanwhile…
			s.Save("volume", 0.5)
			close(saved)
		}()
		select {
		case <-saved:
		case <-time.After(10 * time.Second):
			t.Error("Save waited for the sign-out")
		}
		var v float64
		if !s.Load("volume", &v) || v != 0.5 {
			t.Errorf("Load during the sign-out = %v, want the saved 0.5", v)
		}
		cfg.Server, cfg.User = "", "" // …and writes it back signed out.
		return SaveConfig(env.ConfigDir, cfg)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "" || cfg.User != "" {
		t.Fatalf("the old account was written back: %+v", cfg)
	}
	var v float64
	if raw, ok := cfg.Preferences["volume"]; !ok || json.Unmarshal(raw, &v) != nil || v != 0.5 {
		t.Fatalf("the volume saved during the sign-out is %s, want 0.5", cfg.Preferences["volume"])
	}
}

// Settings saved with no sign-in going on are written at once, and a write
// failure keeps them for the next save rather than losing them.
func TestGUIConfig_SettingsAreWrittenAndKeptOnFailure(t *testing.T) {
	env, _, _ := testEnv(t, "")
	s := &configStore{env: env, log: discardLogger()}
	s.Save("muted", true)
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil || string(cfg.Preferences["muted"]) != "true" {
		t.Fatalf("after Save: %+v, %v", cfg, err)
	}
	path := filepath.Join(env.ConfigDir, "config.json")
	if err := os.Chmod(path, 0o666); err != nil { // LoadConfig now refuses the file
		t.Fatal(err)
	}
	s.Save("volume", 0.25)
	var v float64
	if !s.Load("volume", &v) || v != 0.25 {
		t.Fatalf("a setting whose write failed is lost: %v", v)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Save("live", false)
	cfg, err = LoadConfig(env.ConfigDir)
	if err != nil || string(cfg.Preferences["volume"]) != "0.25" || string(cfg.Preferences["live"]) != "false" {
		t.Fatalf("after the file was fixed: %+v, %v", cfg.Preferences, err)
	}
}

// Signing out and in again restarts the relay in the same process each
// time: the account lock of the one before must be gone by then.
func TestGUISignIn_SignOutAndInAgainRestartsTheRelay(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	if err := r.acc.SignOut(context.Background()); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	waitServer(t, r, fake.URL())
	if c := fake.Counters(); c.Logins != 2 || c.Logouts != 1 {
		t.Fatalf("counters %+v: want two logins and one logout", c)
	}
}

// The tray's "Copy stream URL" copies the continuous stream's http URL,
// which a player can open (it copied a ws:// address nothing could), and
// follow=player follows the listening core's selection as it changes.
func TestGUI_CopyStreamURLGivesThePlayableStream(t *testing.T) {
	needFFmpeg(t)
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	u, err := r.res.StreamURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	base := r.res.BaseURL()
	if !strings.HasPrefix(u, base+"/v1/stream.mp3?token=") {
		t.Fatalf("Copy stream URL gives %q, want %s/v1/stream.mp3?token=…", strings.SplitN(u, "?", 2)[0], base)
	}
	r.res.core.SetSelection([]player.Talkgroup{{SystemID: 1, TalkgroupID: 102}})
	_, all := openICY(t, u)
	_, followed := openICY(t, u+"&follow=player")
	wav := audiotest.ToneWAV(0.5, 440)
	for _, tg := range []int64{101, 102} {
		fake.AddCall(backendtest.CallSpec{SystemID: 1, SystemLabel: "County", TalkgroupID: tg, TalkgroupLabel: "TG " + strconv.FormatInt(tg, 10), Audio: wav})
	}
	if title := nextTitle(t, all); title != "County — TG 101" {
		t.Fatalf("the stream's first title %q, want County — TG 101", title)
	}
	if title := nextTitle(t, followed); title != "County — TG 102" {
		t.Fatalf("follow=player played %q first, want County — TG 102 (the player's selection)", title)
	}
	r.res.core.SetSelection([]player.Talkgroup{{SystemID: 1, TalkgroupID: 101}})
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 102, Audio: wav})
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: wav})
	if title := nextTitle(t, followed); title != "County — TG 101" {
		t.Fatalf("after the player's selection changed, follow=player played %q, want County — TG 101", title)
	}
}
