package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
	"earshot/relay/secrets"
)

// syncBuffer is a bytes.Buffer safe for a relay goroutine writing while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is an Env with private directories and a keyring service of its
// own on the real Secret Service, so tests never touch a user's items.
func testEnv(t *testing.T, stdin string) (*Env, *syncBuffer, *syncBuffer) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("these tests use the real Secret Service: run them under build/with-keyring.sh (build/test.sh does)")
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	// A bound on a hang, not production's 3 s: under the whole suite on
	// two cores gnome-keyring once stalled for longer than that.
	keys := secrets.New("earshot-test-"+hex.EncodeToString(suffix[:]), 30*time.Second)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	return &Env{
		Stdin:           strings.NewReader(stdin),
		Stdout:          out,
		Stderr:          errOut,
		ConfigDir:       t.TempDir(),
		CacheDir:        t.TempDir(),
		DataDir:         t.TempDir(),
		Keyring:         keys,
		StdinIsTerminal: func() bool { return false },
	}, out, errOut
}

func newFake(t *testing.T, opts backendtest.Options) *backendtest.Server {
	t.Helper()
	s := backendtest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

const (
	testUser     = "listener"
	testPassword = "listener-pass"
)

func TestVersion(t *testing.T) {
	env, out, _ := testEnv(t, "")
	if code := Run(context.Background(), env, []string{"--version"}); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "earshot ") {
		t.Errorf("--version printed %q", out.String())
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	env, _, errOut := testEnv(t, "")
	if code := Run(context.Background(), env, []string{"fly"}); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestLogin_WrongPasswordFailsOnceWithAClearMessage(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, _, errOut := testEnv(t, "not-the-password\n")
	code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"})
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d", code, ExitFailure)
	}
	if msg := errOut.String(); !strings.Contains(msg, "refused the user name or password") {
		t.Errorf("message = %q, want it to say the password was refused", msg)
	}
	if n := fake.Counters().FailedLogins; n != 1 {
		t.Errorf("login attempts = %d, want exactly 1", n)
	}
	if cfg, _ := LoadConfig(env.ConfigDir); cfg.HasAccount() {
		t.Error("a failed login configured the account")
	}
}

func TestLogin_KeepsRefreshTokenInKeyringOnly(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, out, _ := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d: %s", code, out.String())
	}
	refresh, err := env.Keyring.Get(ctx, refreshTokenItem(fake.URL(), testUser))
	if err != nil || refresh == "" {
		t.Fatalf("refresh token not in keyring: %v", err)
	}
	if _, err := env.Keyring.Get(ctx, passwordItem(fake.URL(), testUser)); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("password kept without --remember-password (err=%v)", err)
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil || cfg.Server != fake.URL() || cfg.User != testUser {
		t.Fatalf("config = %+v, %v", cfg, err)
	}
	st, err := os.Stat(filepath.Join(env.ConfigDir, "config.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	assertNoSecretInFiles(t, []string{refresh, testPassword}, env.ConfigDir, env.CacheDir)
}

func TestLogin_RememberPasswordKeepsIt(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, _, _ := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin", "--remember-password"}); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if pw, err := env.Keyring.Get(ctx, passwordItem(fake.URL(), testUser)); err != nil || pw != testPassword {
		t.Errorf("remembered password = %v", err)
	}
}

func TestLogout_RevokesOnServerAndForgets(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, _, _ := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin", "--remember-password"}); code != ExitOK {
		t.Fatalf("login exit %d", code)
	}
	if code := Run(ctx, env, []string{"logout"}); code != ExitOK {
		t.Fatalf("logout exit %d", code)
	}
	if n := fake.Counters().Logouts; n != 1 {
		t.Errorf("server logouts = %d, want 1", n)
	}
	for _, item := range []string{refreshTokenItem(fake.URL(), testUser), passwordItem(fake.URL(), testUser)} {
		if _, err := env.Keyring.Get(ctx, item); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("keyring item %q still there after logout (err=%v)", item, err)
		}
	}
	if cfg, _ := LoadConfig(env.ConfigDir); cfg.HasAccount() {
		t.Error("account still configured after logout")
	}
}

var tokenInURL = regexp.MustCompile(`token=([A-Za-z0-9._~%-]+)`)

// runRelay starts `earshot relay` on a free loopback port and returns the
// printed token and base URL once it serves.
func runRelay(t *testing.T, env *Env, out *syncBuffer, args ...string) (token, base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, env, append([]string{"relay", "--listen", "127.0.0.1:0"}, args...)) }()
	exited := false // Run's code was taken below: nothing more to wait for
	t.Cleanup(func() {
		cancel()
		if exited {
			return
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("relay did not stop within 15s of cancel")
		}
	})
	deadline := time.Now().Add(60 * time.Second) // a hang guard (see waitFor)
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for time.Now().Before(deadline) {
		text := out.String()
		if m := re.FindStringSubmatch(text); m != nil {
			base = m[1]
			if tm := tokenInURL.FindStringSubmatch(text); tm != nil && !strings.HasPrefix(tm[1], "%3C") {
				token = tm[1]
			}
			return token, base
		}
		select {
		case code := <-done:
			exited = true
			t.Fatalf("relay exited with %d: %s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("relay did not start: %s", out.String())
	return "", ""
}

func getWithToken(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestRelay_SignsInWithRefreshTokenAndServesAudio runs `earshot login`,
// `earshot relay` and `earshot logout` as a user would, against each
// OpenScanner generation (1.2 and 1.1 set the refresh cookie on another
// path than 1.3: sign-in failed there before the session read it from the
// answer).
func TestRelay_SignsInWithRefreshTokenAndServesAudio(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run([]string{"1.3", "1.2", "1.1"}[gen], func(t *testing.T) { signInRelayAndSignOut(t, gen) })
	}
}

func signInRelayAndSignOut(t *testing.T, gen backendtest.Generation) {
	fake := newFake(t, backendtest.Options{Generation: gen})
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "Fire Dispatch Main", "Fire", "Dispatch", "#ff0000")
	env, out, _ := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d", code)
	}
	// The fake's listener is an account an admin created: the server asks
	// for a new password, and Earshot says so once, signed in all the same.
	if !strings.Contains(out.String(), "asks you to change your password") {
		t.Errorf("login output %q does not pass on the server's request for a new password", out.String())
	}
	logins, histories := fake.Counters().Logins, fake.Counters().HistoryRequests

	token, base := runRelay(t, env, out)
	if token == "" {
		t.Fatalf("first start printed no token: %s", out.String())
	}
	audio := backendtest.SynthWAV(1, 440, 8000)
	var id int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Add the call once the relay's live feed is up and has read the
		// history that follows the welcome, so it arrives live: a call
		// added before that read came from history (1.1 history rows carry
		// no audio, so the relay downloaded it).
		resp, body := getWithToken(t, base+"/v1/status", token)
		var st struct {
			Backend struct {
				State          string
				Problem        string
				PasswordChange bool
			}
		}
		_ = json.Unmarshal(body, &st)
		if resp.StatusCode == 200 && st.Backend.State == "connected" && fake.Counters().HistoryRequests > histories {
			if !st.Backend.PasswordChange || !strings.Contains(st.Backend.Problem, "change your password") {
				t.Errorf("relay status %s: want the server's request for a new password in it", body)
			}
			if cfg, _ := LoadConfig(env.ConfigDir); cfg.PasswordChangeRequested {
				t.Error("the request for a new password is still in config.json after the relay showed it: it would be told at every start")
			}
			id = fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: time.Now(), Audio: audio, AudioName: "call.wav", AudioType: "application/octet-stream", Duration: 1})
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend never connected: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var call struct {
		Call struct {
			ID             int64
			TalkgroupLabel string
			AudioURL       string
		}
	}
	for {
		resp, body := getWithToken(t, base+"/v1/calls/"+itoa(id), token)
		if resp.StatusCode == 200 {
			_ = json.Unmarshal(body, &call)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %d never reached the relay", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if call.Call.TalkgroupLabel != "Fire Dispatch" {
		t.Errorf("talkgroup label = %q, want it resolved from the server's config", call.Call.TalkgroupLabel)
	}
	resp, body := getWithToken(t, base+call.Call.AudioURL, token)
	if resp.StatusCode != 200 || !bytes.Equal(body, audio) {
		t.Fatalf("audio = %d, %d bytes; want 200 and the call's %d bytes", resp.StatusCode, len(body), len(audio))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("audio Content-Type = %q, want audio/wav sniffed from the bytes", ct)
	}
	c := fake.Counters()
	if c.Logins != logins {
		t.Errorf("relay signed in with the password (%d logins, want %d): it must use the stored refresh token", c.Logins, logins)
	}
	switch {
	case gen == backendtest.Gen112 && c.AudioRequests != 0:
		t.Errorf("1.1 sends the audio in the call frame, yet the relay downloaded it %d times", c.AudioRequests)
	case gen != backendtest.Gen112 && (c.AudioByBearer != 0 || c.AudioByCookie == 0):
		t.Errorf("audio fetched by bearer %d, by cookie %d; want cookie only", c.AudioByBearer, c.AudioByCookie)
	}
	if code := Run(ctx, env, []string{"logout"}); code != ExitOK {
		t.Fatalf("logout exit %d", code)
	}
	if c := fake.Counters(); c.Logouts != 1 || c.RevokedFamilies != 1 {
		t.Errorf("after logout: %d logouts, %d families revoked; want the session ended on the server", c.Logouts, c.RevokedFamilies)
	}
}

func TestRelay_NoAccountRunsTheDemo(t *testing.T) {
	env, out, _ := testEnv(t, "")
	token, base := runRelay(t, env, out)
	if !strings.Contains(out.String(), "No account is configured") {
		t.Errorf("no demo notice in %q", out.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := getWithToken(t, base+"/v1/calls/latest/audio", token)
		if resp.StatusCode == 200 {
			if len(body) < 44 || string(body[:4]) != "RIFF" {
				t.Fatalf("demo audio is not a WAV file (%d bytes)", len(body))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo call audio within 30s: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRelay_SecondStartPrintsNoToken(t *testing.T) {
	env, out, _ := testEnv(t, "")
	first, _ := runRelay(t, env, out, "--demo")
	if first == "" {
		t.Fatal("first start printed no token")
	}
	// Stop the first relay before starting the second on the same config.
	out2 := &syncBuffer{}
	env2 := *env
	env2.Stdout = out2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, &env2, []string{"relay", "--demo", "--listen", "127.0.0.1:0"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out2.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("second relay did not start: %s", out2.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(out2.String(), first) {
		t.Error("second start printed the token again")
	}
	cancel()
	<-done
}

func TestConfig_RefusesFilesOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(`{"server":"https://scanner.example.org"}`), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadConfig of a world-writable file: %v, want a refusal that says how to fix it", err)
	}
}

func TestConfig_RoundTripAndValidation(t *testing.T) {
	dir := t.TempDir()
	want := &Config{Server: "https://scanner.example.org", User: "alice", Listen: "127.0.0.1:7000"}
	if err := SaveConfig(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(dir)
	if err != nil || got.Server != want.Server || got.User != want.User || got.Listen != want.Listen {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{
		`{"server":"ftp://x"}`, `{"server":"https://u:p@x"}`, `{"listen":"nohostport"}`,
		`{"cacheMB":-1}`, `not json`, `{"server":"https://x"} trailing`, `{"user":"a\nb"}`,
	} {
		if _, err := ParseConfig([]byte(bad), "config.json"); err == nil {
			t.Errorf("ParseConfig(%q) accepted", bad)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"server":"https://scanner.example.org","user":"alice","listen":"127.0.0.1:7373","cacheMB":64,"preferences":{"volume":0.5}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"server":"http://[::1]:80/x/"}`))
	f.Add([]byte(`{"quietHours":{"enabled":true,"days":{"mon":["22:00-07:00"]},"allowAlerts":true},"levelling":false,"onInterrupt":"drop","servers":{"demo":{"priority":[{"system":1,"talkgroup":101}],"volume":[{"system":1,"talkgroup":102,"db":-6}]}}}`))
	f.Add([]byte(`{"servers":{"demo":{"alerts":[{"name":"Mayday","words":["mayday"],"talkgroups":[101],"tone":true}]},"https://s.example":{"alerts":[{"name":"re","regex":"engine \\d+"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "config.json")
		if err != nil {
			return
		}
		// Whatever is accepted must survive a save and load unchanged.
		dir := t.TempDir()
		if err := SaveConfig(dir, c); err != nil {
			t.Fatalf("accepted config does not save: %v", err)
		}
		if _, err := LoadConfig(dir); err != nil {
			t.Fatalf("saved config does not load: %v", err)
		}
	})
}

// assertNoSecretInFiles walks dirs and fails if any file holds a secret.
func assertNoSecretInFiles(t *testing.T, secretValues []string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for _, s := range secretValues {
				if s != "" && bytes.Contains(data, []byte(s)) {
					t.Errorf("%s contains a secret", path)
				}
			}
			return nil
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRelay_OneProcessPerAccount: a second relay on the same configuration
// and account refuses to start (it would spend the first one's refresh
// token and get both signed out), says which process holds the account,
// and touches nothing on the server; once the first stops, it starts.
func TestRelay_OneProcessPerAccount(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, _, _ := testEnv(t, testPassword+"\n")
	if code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d", code)
	}
	ctx, stopFirst := context.WithCancel(context.Background())
	defer stopFirst()
	firstDone := make(chan int, 1)
	go func() { firstDone <- Run(ctx, env, []string{"relay", "--listen", "127.0.0.1:0"}) }()
	// Once its live feed is up, the first relay's session is done with the
	// server for now: what the counters do next is the second one's.
	waitFor(t, "the first relay's live feed", func() bool { return fake.Counters().WSAuthorized == 1 })
	before := fake.Counters()

	out2, err2 := &syncBuffer{}, &syncBuffer{}
	env2 := *env
	env2.Stdout, env2.Stderr = out2, err2
	if code := Run(context.Background(), &env2, []string{"relay", "--listen", "127.0.0.1:0"}); code == ExitOK {
		t.Fatal("a second relay on the same account started")
	}
	msg := err2.String()
	if !strings.Contains(msg, "already signed in to "+fake.URL()+" as "+testUser) || !strings.Contains(msg, fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second relay said: %s", msg)
	}
	if after := fake.Counters(); after.Refreshes != before.Refreshes || after.Logins != before.Logins {
		t.Fatalf("the refused relay talked to the server: %+v then %+v", before, after)
	}

	stopFirst()
	<-firstDone
	ctx3, stop3 := context.WithCancel(context.Background())
	defer stop3()
	out3 := &syncBuffer{}
	env3 := *env
	env3.Stdout = out3
	done3 := make(chan int, 1)
	go func() { done3 <- Run(ctx3, &env3, []string{"relay", "--listen", "127.0.0.1:0"}) }()
	waitFor(t, "the relay to start once the first stopped", func() bool { return strings.Contains(out3.String(), "listening on") })
	stop3()
	<-done3
}

func TestRelay_PortInUseSaysSoAndHowToChooseAnother(t *testing.T) {
	env, _, errOut := testEnv(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if code := Run(context.Background(), env, []string{"relay", "--demo", "--listen", ln.Addr().String()}); code == ExitOK {
		t.Fatal("the relay started on a port another program holds")
	}
	if msg := errOut.String(); !strings.Contains(msg, ln.Addr().String()+" is already in use") || !strings.Contains(msg, "--listen") {
		t.Fatalf("stderr: %s", msg)
	}
}

// TestRemoveStaleDemoCaches: a demo cache whose process is gone is removed;
// a live process's, and names Earshot does not make, stay.
func TestRemoveStaleDemoCaches(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(fmt.Sprintf("%s%d-123", demoCachePrefix, dead.Process.Pid))
	live := mk(fmt.Sprintf("%s%d-456", demoCachePrefix, os.Getpid()))
	other := mk(demoCachePrefix + "old-style")
	removeStaleDemoCaches(dir, discardLogger())
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead run's cache is still there (%v)", err)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}
