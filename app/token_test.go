package app

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/tokens"
)

var issuedToken = regexp.MustCompile(`(?m)^  (\S+)$`)

// tokenCmd runs `earshot token …` and returns its output.
func tokenCmd(t *testing.T, env *Env, args ...string) string {
	t.Helper()
	out := &syncBuffer{}
	e := *env
	e.Stdout = out
	e.Stderr = out
	if code := Run(context.Background(), &e, append([]string{"token"}, args...)); code != ExitOK {
		t.Fatalf("earshot token %v: exit %d: %s", args, code, out.String())
	}
	return out.String()
}

func listTokens(t *testing.T, env *Env) []tokens.Info {
	t.Helper()
	var list []tokens.Info
	if err := json.Unmarshal([]byte(tokenCmd(t, env, "list", "--json")), &list); err != nil {
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
	for _, want := range []string{"/v1/live?token=", "/login?token=", "/v1/calls/latest/audio?token=", "/v1/playlist.m3u?token="} {
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
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokenCmd(t, env, "create", "--name", "c"+itoa(int64(i)))
		}()
	}
	wg.Wait()
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
