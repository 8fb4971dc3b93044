package app

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
)

func TestRelay_RefusesNonLoopbackWithoutAllowRemote(t *testing.T) {
	env, _, errOut := testEnv(t, "")
	if code := Run(context.Background(), env, []string{"relay", "--demo", "--listen", "0.0.0.0:0"}); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(errOut.String(), "--allow-remote") {
		t.Fatalf("message %q does not say how", errOut.String())
	}
	// With --allow-remote it starts, and warns loudly.
	env2, out2, errOut2 := testEnv(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, env2, []string{"relay", "--demo", "--listen", "0.0.0.0:0", "--allow-remote"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out2.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("relay did not start: %s %s", out2.String(), errOut2.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(errOut2.String(), "NON-LOOPBACK") {
		t.Fatalf("no loud warning: %q", errOut2.String())
	}
}

// TestLogs_NoSecretInAFullRun signs in with a password, runs the relay with
// request logging, uses stream tokens (header, query, web-player cookie),
// creates a token and signs out; then it greps everything logged for every
// secret issued in the run.
func TestLogs_NoSecretInAFullRun(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	fake.AddSystem(1, "Harness County")
	env, out, errOut := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d: %s", code, errOut.String())
	}
	refresh, _ := env.Keyring.Get(ctx, refreshTokenItem(fake.URL(), testUser))
	token, base := runRelay(t, env, out, "-v")
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 1, Audio: backendtest.SynthWAV(0.2, 440, 8000)})
	secrets := []string{testPassword, refresh, token}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ := getWithToken(t, base+"/v1/calls/latest/audio", token)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no call reached the relay")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/v1/calls?token=" + token, "/v1/calls?token=not-a-real-token-0123456789"} {
		if r, err := http.Get(base + path); err == nil {
			r.Body.Close()
		}
	}
	secrets = append(secrets, "not-a-real-token-0123456789")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	if r, err := client.Get(base + "/login?token=" + url.QueryEscape(token)); err == nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		secrets = append(secrets, c.Value)
	}
	created := tokenCmdAt(t, env, base)
	secrets = append(secrets, created)
	// Everything logged: the relay's stderr (requests at debug level) and
	// the CLI's.
	logged := errOut.String()
	if !strings.Contains(logged, "request") {
		t.Fatalf("no request lines were logged: %q", logged)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logged, s) {
			t.Errorf("a secret (%d chars) appears in the logs", len(s))
		}
	}
	assertNoSecretInFiles(t, []string{testPassword, refresh}, env.ConfigDir, env.CacheDir)
}

// tokenCmdAt creates a token through the running relay at base and returns
// its value.
func tokenCmdAt(t *testing.T, env *Env, base string) string {
	t.Helper()
	cfg, _ := LoadConfig(env.ConfigDir)
	cfg.Listen = strings.TrimPrefix(base, "http://")
	if err := SaveConfig(env.ConfigDir, cfg); err != nil {
		t.Fatal(err)
	}
	out := tokenCmd(t, env, "create", "--name", "log-check")
	m := issuedToken.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token printed: %s", out)
	}
	return m[1]
}
