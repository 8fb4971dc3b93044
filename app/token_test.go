package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/secrets"
	"earshot/relay/tokens"
)

var issuedToken = regexp.MustCompile(`(?m)^  (\S+)$`)

// tokenCmd runs `earshot token …` and returns its output (stdout and
// stderr together).
func tokenCmd(t *testing.T, env *Env, args ...string) string {
	t.Helper()
	out, err := tokenCmdErr(env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tokenCmdErr runs `earshot token …`; it is safe to call from any
// goroutine (it reports failure instead of failing the test).
func tokenCmdErr(env *Env, args ...string) (string, error) {
	stdout, stderr, err := tokenCmdSplit(env, args...)
	return stdout + stderr, err
}

// tokenCmdSplit runs `earshot token …` and returns stdout and stderr apart.
func tokenCmdSplit(env *Env, args ...string) (stdout, stderr string, err error) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	e := *env
	e.Stdout = out
	e.Stderr = errOut
	if code := Run(context.Background(), &e, append([]string{"token"}, args...)); code != ExitOK {
		return out.String(), errOut.String(), fmt.Errorf("earshot token %v: exit %d: %s%s", args, code, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), nil
}

func listTokens(t *testing.T, env *Env) []tokens.Info {
	t.Helper()
	var list []tokens.Info
	stdout, _, err := tokenCmdSplit(env, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// With no relay running, token commands edit the registry directly.
func TestToken_CommandsWithoutARunningRelay(t *testing.T) {
	env, _, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Listen: freePort(t)}); err != nil {
		t.Fatal(err)
	}
	out := tokenCmd(t, env, "create", "--name", "OBS", "--expires", "720h")
	m := issuedToken.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed no token: %s", out)
	}
	tok := m[1]
	for _, want := range []string{"/v1/stream.mp3?token=", "/v1/stream.m3u?token=", "/v1/live?token=", "/login?token=", "/v1/calls/latest/audio?token=", "/v1/playlist.m3u?token="} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %s", want)
		}
	}
	list := listTokens(t, env)
	if len(list) != 1 || list[0].Name != "OBS" || list[0].Scope != "listen" || list[0].Expires == nil {
		t.Fatalf("list = %+v", list)
	}
	table := tokenCmd(t, env, "list")
	if !strings.Contains(table, "OBS") || strings.Contains(table, tok) {
		t.Fatalf("table = %s (it must never show a token value)", table)
	}
	out = tokenCmd(t, env, "rotate", list[0].ID, "--grace", "10m")
	if !strings.Contains(out, "keeps working for 10m") {
		t.Errorf("rotate said %q", out)
	}
	tokenCmd(t, env, "revoke", list[0].ID)
	for _, info := range listTokens(t, env) {
		if info.ID == list[0].ID && !info.Revoked {
			t.Errorf("revoked token %s is not marked revoked", info.ID)
		}
	}
	tokenCmd(t, env, "rotate-all")
}

// Two token commands at once never lose an edit.
func TestToken_ConcurrentCreatesLoseNothing(t *testing.T) {
	env, _, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Listen: freePort(t)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tokenCmdErr(env, "create", "--name", "c"+itoa(int64(i))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(listTokens(t, env)); n != 6 {
		t.Fatalf("%d tokens after 6 concurrent creates", n)
	}
}

func TestToken_UsageErrors(t *testing.T) {
	env, _, _ := testEnv(t, "")
	for _, args := range [][]string{
		{"token"}, {"token", "frobnicate"}, {"token", "create"}, {"token", "create", "--name", "x", "--scope", "root"},
		{"token", "revoke"}, {"token", "rotate", "--grace", "-1m", "abc"},
	} {
		if code := Run(context.Background(), env, args); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// With a relay running, the CLI goes through its control plane and changes
// apply at once: a revoked token's open WebSocket closes, a new token works
// without a restart, and `earshot status` reports the relay.
func TestToken_RunningRelayAppliesChangesAtOnce(t *testing.T) {
	env, out, _ := testEnv(t, "")
	addr := freePort(t)
	if err := SaveConfig(env.ConfigDir, &Config{Listen: addr}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, env, []string{"relay", "--demo"}) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("relay did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first := tokenInURL.FindStringSubmatch(out.String())
	if first == nil {
		t.Fatalf("no first token in %s", out.String())
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/live?token="+first[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	created := tokenCmd(t, env, "create", "--name", "VLC")
	newTok := issuedToken.FindStringSubmatch(created)[1]
	if resp, _ := getWithToken(t, "http://"+addr+"/v1/calls", newTok); resp.StatusCode != 200 {
		t.Fatalf("a token created while the relay runs = %d, want 200 at once", resp.StatusCode)
	}

	var defaultID string
	for _, info := range listTokens(t, env) {
		if info.Name == "default" {
			defaultID = info.ID
		}
	}
	tokenCmd(t, env, "revoke", defaultID)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4401 {
			t.Fatalf("revoked token's WebSocket ended with %v, want close 4401", err)
		}
		break
	}

	st := &syncBuffer{}
	e := *env
	e.Stdout = st
	if code := Run(context.Background(), &e, []string{"status"}); code != ExitOK {
		t.Fatalf("status exit %d: %s", code, st.String())
	}
	for _, want := range []string{"Backend:", "Consumers:", "Calls:", "Tokens used:"} {
		if !strings.Contains(st.String(), want) {
			t.Errorf("status lacks %q: %s", want, st.String())
		}
	}
}

// impostor is another local program that answers like an Earshot relay
// (GET /v1/health says "earshot", GET /v1/identity returns a made-up
// proof, everything else 200) and records every request it gets.
type impostor struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // each request, dumped whole
}

func newImpostor(t *testing.T) *impostor {
	t.Helper()
	im := &impostor{}
	im.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, true)
		im.mu.Lock()
		im.seen = append(im.seen, string(dump))
		im.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/health":
			io.WriteString(w, `{"status":"ok","service":"earshot"}`)
		case "/v1/identity":
			io.WriteString(w, `{"service":"earshot","proof":"`+strings.Repeat("00", 32)+`"}`)
		default:
			io.WriteString(w, `{"tokens":[],"token":"x","info":{}}`)
		}
	}))
	t.Cleanup(im.srv.Close)
	return im
}

func (im *impostor) addr() string { return strings.TrimPrefix(im.srv.URL, "http://") }

func (im *impostor) requests() []string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]string(nil), im.seen...)
}

// A program holding the relay's port that answers /v1/health like Earshot
// never receives the operator token (nor any Authorization at all): with no
// relay announced the CLI does not even ask it; with a stale announcement
// (the relay crashed and the program took its port) it cannot prove the
// instance secret. Either way the commands edit the registry directly.
func TestToken_ImpostorOnTheRelayPortNeverReceivesTheOperatorToken(t *testing.T) {
	for _, tc := range []struct {
		name     string
		announce func(t *testing.T, env *Env, addr string)
		asked    bool // the CLI asks the impostor for its proof
	}{
		{"no relay announced", func(*testing.T, *Env, string) {}, false},
		{"a stale announcement of a crashed relay", func(t *testing.T, env *Env, addr string) {
			// What a relay that crashed on addr leaves behind.
			if _, err := announce(context.Background(), env, addr, []byte("0123456789abcdef0123456789abcdef")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"an announcement from another run", func(t *testing.T, env *Env, addr string) {
			if _, err := announce(context.Background(), env, addr, []byte("0123456789abcdef0123456789abcdef")); err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(runningInfo{Addr: addr, Instance: "0000000000000000"})
			if err := writeFileAtomic(filepath.Join(env.ConfigDir, runningFile), data); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := testEnv(t, "")
			im := newImpostor(t)
			if err := SaveConfig(env.ConfigDir, &Config{Listen: im.addr()}); err != nil {
				t.Fatal(err)
			}
			tc.announce(t, env, im.addr())
			// An operator token exists already, as after earlier runs.
			reg, err := tokens.Open(context.Background(), filepath.Join(env.ConfigDir, "tokens.json"), env.Keyring, tokens.Options{ReloadEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			op, err := operatorToken(context.Background(), env.Keyring, reg)
			reg.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			_, stderr, err := tokenCmdSplit(env, "create", "--name", "OBS")
			if err != nil {
				t.Fatal(err)
			}
			list := listTokens(t, env)
			tokenCmd(t, env, "revoke", list[len(list)-1].ID)
			st := &syncBuffer{}
			e := *env
			e.Stdout, e.Stderr = st, st
			if code := Run(context.Background(), &e, []string{"status"}); code != ExitFailure {
				t.Errorf("status with only an impostor: exit %d, want %d (%s)", code, ExitFailure, st.String())
			}

			for _, req := range im.requests() {
				if strings.Contains(req, op) || strings.Contains(strings.ToLower(req), "authorization:") {
					t.Fatalf("the impostor received credentials:\n%s", req)
				}
				if !strings.HasPrefix(req, "GET /v1/identity?nonce=") {
					t.Errorf("the impostor was asked more than for its proof:\n%s", req)
				}
			}
			if asked := len(im.requests()) > 0; asked != tc.asked {
				t.Errorf("impostor asked for its proof: %v, want %v", asked, tc.asked)
			}
			if tc.asked && !strings.Contains(stderr, "could not prove") {
				t.Errorf("the CLI did not say it refused the program at the port: %q", stderr)
			}
			// The edits went straight to the registry.
			var obs *tokens.Info
			for _, info := range listTokens(t, env) {
				if info.Name == "OBS" {
					obs = &info
				}
			}
			if obs == nil || !obs.Revoked {
				t.Fatalf("the direct edits are not in the registry: %+v", obs)
			}
		})
	}
}

// A running relay announces itself in running.json (0600, no secret; the
// instance secret is in the keyring) and withdraws the announcement when it
// stops.
func TestRelay_AnnouncesItselfOnlyWhileRunning(t *testing.T) {
	env, out, _ := testEnv(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, env, []string{"relay", "--demo", "--listen", "127.0.0.1:0"}) }()
	waitFor(t, "the relay to start", func() bool { return strings.Contains(out.String(), "listening on") })
	path := filepath.Join(env.ConfigDir, runningFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want it with mode 0600", runningFile, err, st.Mode().Perm())
	}
	info, err := readRunning(env.ConfigDir)
	if err != nil || !strings.Contains(out.String(), "http://"+info.Addr) {
		t.Fatalf("running.json = %+v (%v), want the address the relay printed", info, err)
	}
	item, err := env.Keyring.Get(context.Background(), relayInstanceItem)
	instance, secret, _ := strings.Cut(item, ":")
	if err != nil || instance != info.Instance || len(secret) < 40 {
		t.Fatalf("keyring instance item %q (%v) does not match running.json", instance, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), secret) {
		t.Fatal("running.json holds the instance secret")
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("relay exit %d", code)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("running.json is still there after a clean exit (%v)", err)
	}
	if _, err := env.Keyring.Get(context.Background(), relayInstanceItem); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("the instance secret is still in the keyring after a clean exit (%v)", err)
	}
}

// With a relay running, the CLI proves who it talks to and then goes
// through the control plane: the relay logs the proof request and the
// token calls.
func TestToken_CLIGoesThroughTheControlPlaneOfTheProvenRelay(t *testing.T) {
	env, out, errOut := testEnv(t, "")
	runRelay(t, env, out, "--demo", "-v")
	tokenCmd(t, env, "list")
	logged := errOut.String()
	for _, want := range []string{"path=/v1/identity", "path=/v1/tokens"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the relay did not log %s: the CLI did not use its control plane", want)
		}
	}
}

// tokenRegistry opens the env's registry with a clock shifted by skew, to
// see what its tokens do later without waiting.
func tokenRegistry(t *testing.T, env *Env, skew time.Duration) *tokens.Manager {
	t.Helper()
	m, err := tokens.Open(context.Background(), filepath.Join(env.ConfigDir, "tokens.json"), env.Keyring,
		tokens.Options{ReloadEvery: -1, Now: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func printedToken(t *testing.T, out string) string {
	t.Helper()
	m := issuedToken.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token printed: %s", out)
	}
	return m[1]
}

func idOf(t *testing.T, env *Env, name string) string {
	t.Helper()
	for _, info := range listTokens(t, env) {
		if info.Name == name && !info.Revoked && info.RetiresAt == nil {
			return info.ID
		}
	}
	t.Fatalf("no active token named %s", name)
	return ""
}

// Without a relay: `token rotate` prints a new token that works, the old
// one works through its grace and not after it; `token rotate-all` kills
// every old token.
func TestToken_RotateAndRotateAllWithoutARunningRelay(t *testing.T) {
	env, _, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Listen: freePort(t)}); err != nil {
		t.Fatal(err)
	}
	old := printedToken(t, tokenCmd(t, env, "create", "--name", "OBS"))
	out := tokenCmd(t, env, "rotate", idOf(t, env, "OBS"), "--grace", "10m")
	fresh := printedToken(t, out)
	if fresh == old || !strings.Contains(out, "keeps working for 10m") {
		t.Fatalf("rotate printed %q", out)
	}
	now, later := tokenRegistry(t, env, 0), tokenRegistry(t, env, 10*time.Minute+time.Second)
	if _, err := now.Verify(old); err != nil {
		t.Errorf("the old token stopped during its grace: %v", err)
	}
	if _, err := later.Verify(old); err == nil {
		t.Error("the old token still works after its grace")
	}
	for _, m := range []*tokens.Manager{now, later} {
		if _, err := m.Verify(fresh); err != nil {
			t.Errorf("the new token does not work: %v", err)
		}
	}

	other := printedToken(t, tokenCmd(t, env, "create", "--name", "VLC"))
	tokenCmd(t, env, "rotate-all")
	after := tokenRegistry(t, env, 0)
	for _, tok := range []string{old, fresh, other} {
		if _, err := after.Verify(tok); err == nil {
			t.Error("a token from before rotate-all still works")
		}
	}
	newer := printedToken(t, tokenCmd(t, env, "create", "--name", "new"))
	if _, err := tokenRegistry(t, env, 0).Verify(newer); err != nil {
		t.Errorf("a token made after rotate-all does not work: %v", err)
	}
}

// With a relay running, the same through its control plane, checked on
// the relay itself: the new token works at once, the old one until its
// grace ends and then no more, and rotate-all cuts every old token at once.
func TestToken_RotateAndRotateAllOnARunningRelay(t *testing.T) {
	env, out, _ := testEnv(t, "")
	first, base := runRelay(t, env, out, "--demo")
	status := func(tok string) int {
		resp, _ := getWithToken(t, base+"/v1/calls", tok)
		return resp.StatusCode
	}
	rotated := tokenCmd(t, env, "rotate", idOf(t, env, "default"), "--grace", "10m")
	second := printedToken(t, rotated)
	if second == first || status(second) != 200 || status(first) != 200 {
		t.Fatalf("after rotate --grace 10m: new %d, old %d; want both 200 (%s)", status(second), status(first), rotated)
	}
	third := printedToken(t, tokenCmd(t, env, "rotate", idOf(t, env, "default"), "--grace", "1s"))
	if status(third) != 200 {
		t.Fatalf("the new token = %d, want 200", status(third))
	}
	// The grace is real time here: wait (bounded) for it to end.
	waitFor(t, "the old token to die after its 1s grace", func() bool { return status(second) == 401 })
	if status(third) != 200 {
		t.Fatal("the new token died with the old one")
	}

	tokenCmd(t, env, "rotate-all")
	for name, tok := range map[string]string{"first": first, "third": third} {
		if code := status(tok); code != 401 {
			t.Errorf("%s token after rotate-all = %d, want 401 at once", name, code)
		}
	}
	if code := status(printedToken(t, tokenCmd(t, env, "create", "--name", "after"))); code != 200 {
		t.Errorf("a token made after rotate-all = %d, want 200", code)
	}
}

// waitFor polls cond; the bound only keeps a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A hang guard, not a timing: under a full parallel test run the shared
	// keyring can take seconds per call (and the session retries a write
	// it refused), so it is generous.
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
