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

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/audio/audiotest"
	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
	"earshot/ui"
	"earshot/ui/player"
)

// silentOutput is a sound device that is never started (the player is not
// run in these tests).
type silentOutput struct{}

func (silentOutput) SampleRate() int                        { return 48000 }
func (silentOutput) Start(context.Context, io.Reader) error { return errors.New("no sound in tests") }
func (silentOutput) Err() error                             { return nil }

// guiRig is the tray app's real account path — the sign-in window, the
// GUI's accounts (probe, `earshot login`'s sign-in with the real keyring,
// relay restart) and config.json — on the Fyne test driver.
type guiRig struct {
	env    *Env
	g      *gui
	ctrl   *ui.Controller
	app    fyne.App
	player *player.Player
}

func newGUIRig(t *testing.T) *guiRig {
	t.Helper()
	env, _, _ := testEnv(t, "")
	log := discardLogger()
	ctx, cancel := context.WithCancel(context.Background())
	g := &gui{ctx: ctx, env: env, flags: relayFlags{listen: "127.0.0.1:0"}, log: log, cfg: &configStore{env: env, log: log},
		follow: &followPlayer{saved: &savedSelection{dir: env.ConfigDir}}}
	p, err := player.New(player.Options{Audio: audioProxy{g}, Output: silentOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	g.follow.player.Store(p)
	a := test.NewTempApp(t)
	ctrl := ui.New(ui.Options{App: a, Feed: feedProxy{g}, Player: p, Accounts: guiAccounts{g}, Tokens: guiTokens{g}, Prefs: g.cfg})
	ctrl.Start(ctx)
	t.Cleanup(func() {
		cancel()
		ctrl.Wait()
		g.stopRelay()
	})
	return &guiRig{env: env, g: g, ctrl: ctrl, app: a, player: p}
}

// signIn fills in the sign-in window as a person would, presses Sign in,
// waits for the answer and returns what the window says. It works the
// window under the controller's lock (ui.Controller.Do), as the app's own
// updates run.
func (r *guiRig) signIn(t *testing.T, server, user, password string) string {
	t.Helper()
	var message *widget.Label
	r.ctrl.Do(func() { message = r.fillInSignIn(t, server, user, password) })
	r.ctrl.WaitIdle()
	var said string
	r.ctrl.Do(func() { said = message.Text })
	return said
}

// fillInSignIn opens the sign-in window, fills it in, presses Sign in and
// returns the window's message line.
func (r *guiRig) fillInSignIn(t *testing.T, server, user, password string) *widget.Label {
	t.Helper()
	r.ctrl.ShowSignIn()
	var w fyne.Window
	for _, x := range r.app.Driver().AllWindows() {
		if x.Title() == "Sign in to OpenScanner" {
			w = x
		}
	}
	if w == nil {
		t.Fatal("no sign-in window")
	}
	var submit *widget.Button
	var message *widget.Label
	for _, o := range test.LaidOutObjects(w.Content()) {
		switch x := o.(type) {
		case *widget.Entry:
			switch {
			case x.Password:
				x.SetText(password)
			case x.PlaceHolder == "https://scanner.example.org":
				x.SetText(server)
			case strings.HasPrefix(x.PlaceHolder, "leave empty"):
				x.SetText(user)
			}
		case *widget.Button:
			if x.Text == "Sign in" {
				submit = x
			}
		case *widget.Label:
			message = x // the last label: the form's message line
		}
	}
	if submit == nil || message == nil {
		t.Fatal("the sign-in window lacks its button or message")
	}
	test.Tap(submit)
	return message
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
	// The relay now runs against that server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := r.g.core()
		if c != nil && c.Status().Backend.State == event.StateConnected && c.Status().Backend.Server == fake.URL() {
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
	if c := r.g.core(); c == nil {
		t.Fatal("no relay runs after signing in")
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
	if err := (guiAccounts{r.g}).SignOut(context.Background()); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	if c := r.g.core(); c == nil {
		t.Fatal("no relay runs after signing in again")
	}
	if c := fake.Counters(); c.Logins != 2 || c.Logouts != 1 {
		t.Fatalf("counters %+v: want two logins and one logout", c)
	}
}

// The tray's "Copy stream URL" copies the continuous stream's http URL,
// which a player can open (it copied a ws:// address nothing could), and
// follow=player follows this window's player as its filter changes.
func TestGUI_CopyStreamURLGivesThePlayableStream(t *testing.T) {
	needFFmpeg(t)
	fake := newFake(t, backendtest.Options{})
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	u, err := r.g.streamURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	base := guiTokens{r.g}.BaseURL()
	if !strings.HasPrefix(u, base+"/v1/stream.mp3?token=") {
		t.Fatalf("Copy stream URL gives %q, want %s/v1/stream.mp3?token=…", strings.SplitN(u, "?", 2)[0], base)
	}
	var f player.Filter
	f.SetSelection([]player.Talkgroup{{SystemID: 1, TalkgroupID: 102}})
	r.player.SetFilter(f)
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
	f.SetSelection([]player.Talkgroup{{SystemID: 1, TalkgroupID: 101}})
	r.player.SetFilter(f)
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 102, Audio: wav})
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: wav})
	if title := nextTitle(t, followed); title != "County — TG 101" {
		t.Fatalf("after the player's selection changed, follow=player played %q, want County — TG 101", title)
	}
}
