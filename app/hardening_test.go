package app

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

// recordingProxy stands between Earshot and the fake OpenScanner server
// and records every secret the server issues: the access JWTs in login and
// refresh answers, and every cookie value (os_session, each rotated
// refresh_token).
type recordingProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	// by kind: "access" (JSON token fields), "cookie:<name>"
	issued map[string][]string
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &recordingProxy{issued: map[string][]string{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		for _, c := range resp.Cookies() {
			if c.Value != "" {
				rp.add("cookie:"+c.Name, c.Value)
			}
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.StatusCode == http.StatusSwitchingProtocols {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var v any
		if json.Unmarshal(body, &v) == nil {
			rp.collect(v)
		}
		return nil
	}
	rp.srv = httptest.NewServer(proxy)
	t.Cleanup(rp.srv.Close)
	return rp
}

// collect records every string under a key naming a token.
func (rp *recordingProxy) collect(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && strings.Contains(strings.ToLower(k), "token") && len(s) >= 16 {
				rp.add("access", s)
			}
			rp.collect(x)
		}
	case []any:
		for _, x := range v {
			rp.collect(x)
		}
	}
}

func (rp *recordingProxy) add(kind, value string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if !slices.Contains(rp.issued[kind], value) {
		rp.issued[kind] = append(rp.issued[kind], value)
	}
}

func (rp *recordingProxy) all() map[string][]string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := map[string][]string{}
	for k, v := range rp.issued {
		out[k] = slices.Clone(v)
	}
	return out
}

// TestLogs_NoSecretInAFullRun signs in with a password, runs the relay with
// request logging, makes the server expire the session (so the refresh
// token rotates again), uses stream tokens (header, query, web-player
// cookie), manages tokens with the CLI through the running relay; then it
// greps everything logged — the relay's stderr and every CLI command's —
// and every file written for every secret issued in the run: the password,
// every access JWT and cookie value the OpenScanner server issued (each
// rotated refresh token among them), the stream tokens, the web-player
// cookie, the operator token and the relay's instance secret.
func TestLogs_NoSecretInAFullRun(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	fake.AddSystem(1, "Harness County")
	rec := newRecordingProxy(t, fake.URL())
	env, out, errOut := testEnv(t, testPassword+"\n")
	ctx := context.Background()
	if code := Run(ctx, env, []string{"login", "--server", rec.srv.URL, "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d: %s", code, errOut.String())
	}
	token, base := runRelay(t, env, out, "-v")
	t.Cleanup(func() {
		if t.Failed() { // what the relay said, to tell why
			t.Logf("relay log:\n%s", errOut.String())
		}
	})
	secrets := []string{testPassword, token}
	waitForAudio := func() {
		t.Helper()
		waitFor(t, "a call to reach the relay", func() bool {
			resp, _ := getWithToken(t, base+"/v1/calls/latest/audio", token)
			return resp.StatusCode == 200
		})
	}
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 1, Audio: backendtest.SynthWAV(0.2, 440, 8000)})
	waitForAudio()
	// The server's secret rotates: the relay refreshes (a new refresh
	// token and access token) and reconnects.
	refreshes := fake.Counters().Refreshes
	fake.ExpireSessions()
	waitFor(t, "the relay to refresh its session", func() bool { return fake.Counters().Refreshes > refreshes })
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 1, Audio: backendtest.SynthWAV(0.2, 440, 8000)})
	waitFor(t, "the second call", func() bool {
		resp, body := getWithToken(t, base+"/v1/calls", token)
		return resp.StatusCode == 200 && strings.Count(string(body), `"audioUrl"`) >= 2
	})

	for _, path := range []string{"/v1/calls?token=" + token, "/v1/calls?token=not-a-real-token-0123456789", "/v1/playlist.m3u?token=" + token} {
		if r, err := http.Get(base + path); err == nil {
			io.Copy(io.Discard, r.Body)
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
	if len(jar.Cookies(u)) == 0 {
		t.Fatal("the web-player login set no cookie")
	}

	// The CLI, through the running relay; its stderr is logged output too.
	var cliErr strings.Builder
	cli := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := tokenCmdSplit(env, args...)
		cliErr.WriteString(stderr)
		if err != nil {
			t.Fatal(err)
		}
		return stdout
	}
	created := printedToken(t, cli("create", "--name", "log-check"))
	rotated := printedToken(t, cli("rotate", idOf(t, env, "log-check"), "--grace", "1m"))
	cli("list")
	st := &syncBuffer{}
	e := *env
	e.Stdout, e.Stderr = io.Discard, st
	if code := Run(ctx, &e, []string{"status"}); code != ExitOK {
		t.Fatalf("status exit %d: %s", code, st.String())
	}
	cliErr.WriteString(st.String())
	secrets = append(secrets, created, rotated)
	for _, item := range []string{operatorTokenItem, relayInstanceItem, refreshTokenItem(rec.srv.URL, testUser)} {
		v, err := env.Keyring.Get(ctx, item)
		if err != nil {
			t.Fatalf("keyring item %s: %v", item, err)
		}
		if item == relayInstanceItem {
			_, v, _ = strings.Cut(v, ":")
		}
		secrets = append(secrets, v)
	}

	// What the OpenScanner server issued, as seen on the wire.
	issued := rec.all()
	if len(issued["access"]) < 2 || len(issued["cookie:refresh_token"]) < 2 || len(issued["cookie:os_session"]) < 2 {
		t.Fatalf("recorded %d access tokens, %d refresh tokens, %d os_session cookies; want a login and a refresh of each",
			len(issued["access"]), len(issued["cookie:refresh_token"]), len(issued["cookie:os_session"]))
	}
	for _, values := range issued {
		secrets = append(secrets, values...)
	}

	logged := map[string]string{"the relay's log": errOut.String(), "the CLI's stderr": cliErr.String()}
	if !strings.Contains(logged["the relay's log"], "request") {
		t.Fatalf("no request lines were logged: %q", logged["the relay's log"])
	}
	for where, text := range logged {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("a secret (%d chars) appears in %s", len(s), where)
			}
		}
	}
	assertNoSecretInFiles(t, secrets, env.ConfigDir, env.CacheDir)
}

// Names given with --host or in config.json's "hosts" are accepted in a
// request's Host; every other non-loopback name still gets 403.
func TestRelay_ConfiguredHostNamesAreAcceptedOthersRefused(t *testing.T) {
	env, out, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Hosts: []string{"earshot-config.lan"}}); err != nil {
		t.Fatal(err)
	}
	_, base := runRelay(t, env, out, "--demo", "--host", "earshot-flag.lan")
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
	for host, want := range map[string]int{
		"earshot-config.lan:" + port: 200,
		"earshot-flag.lan:" + port:   200,
		"127.0.0.1:" + port:          200,
		"other.lan:" + port:          403,
		"earshot-flag.lan.evil.com":  403,
	} {
		req, _ := http.NewRequest("GET", base+"/v1/health", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q = %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestRelay_HostFlagAndConfigRefuseWhatIsNotAHostName(t *testing.T) {
	env, _, errOut := testEnv(t, "")
	for _, bad := range []string{"earshot.lan:7373", "", "a b", "[::1]", "-x.lan", "x..lan", "x.lan.", strings.Repeat("a", 64) + ".lan"} {
		if code := Run(context.Background(), env, []string{"relay", "--demo", "--host", bad}); code != ExitUsage {
			t.Errorf("--host %q: exit %d, want %d", bad, code, ExitUsage)
		}
		if _, err := ParseConfig([]byte(`{"hosts":[`+strconvQuote(bad)+`]}`), "config.json"); err == nil {
			t.Errorf("config hosts %q accepted", bad)
		}
	}
	if !strings.Contains(errOut.String(), "host name") {
		t.Errorf("the refusal does not say what is wrong: %q", errOut.String())
	}
	for _, good := range []string{"earshot.lan", "EARSHOT", "192.168.1.10", "::1", "my-box.local"} {
		if err := ValidHostName(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// A relay that fails to start (its port is taken) stops everything it had
// started: its server's enforcer goroutine included.
func TestRelay_FailedStartLeavesNoEnforcerRunning(t *testing.T) {
	taken := freePortHeld(t)
	env, _, errOut := testEnv(t, "")
	if code := Run(context.Background(), env, []string{"relay", "--demo", "--listen", taken}); code != ExitFailure {
		t.Fatalf("relay on a taken port: exit %d, want %d: %s", code, ExitFailure, errOut.String())
	}
	waitFor(t, "the failed relay's goroutines to end", func() bool { return !goroutineRunning("relay/server.(*Server).enforce") })
}

// freePortHeld returns a loopback address that stays taken until the test
// ends.
func freePortHeld(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func goroutineRunning(fn string) bool {
	buf := make([]byte, 4<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// "A token is never passed on a command line": Earshot spawns no browser
// or player with a token. Every place in the module that starts a process
// is found here, and none of its arguments may carry a token, a secret, a
// cookie or a password (by name or by a "token=" URL). A new exec site that
// does fails this test; hand a token over in a 0600 file or through the
// web player's cookie exchange (/login) instead.
func TestNoProcessIsStartedWithASecretOnItsCommandLine(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var sites []string
	suspicious := func(e ast.Expr) string {
		var why string
		ast.Inspect(e, func(n ast.Node) bool {
			var name string
			switch n := n.(type) {
			case *ast.Ident:
				name = n.Name
			case *ast.SelectorExpr:
				name = n.Sel.Name
			case *ast.BasicLit:
				if n.Kind == token.STRING && strings.Contains(strings.ToLower(n.Value), "token=") {
					why = n.Value
				}
			}
			lower := strings.ToLower(name)
			for _, w := range []string{"token", "secret", "password", "cookie", "streamurl", "loginurl"} {
				if strings.Contains(lower, w) {
					why = name
				}
			}
			return why == ""
		})
		return why
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var args []ast.Expr
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, _ := sel.X.(*ast.Ident)
				if pkg == nil {
					return true
				}
				switch pkg.Name + "." + sel.Sel.Name {
				case "exec.Command", "exec.CommandContext", "os.StartProcess", "syscall.Exec", "syscall.ForkExec", "unix.Exec":
					args = n.Args
				}
			case *ast.AssignStmt: // cmd.Args = …
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Args" && i < len(n.Rhs) {
						args = []ast.Expr{n.Rhs[i]}
					}
				}
			}
			if args == nil {
				return true
			}
			pos := fset.Position(n.Pos())
			rel, _ := filepath.Rel(root, pos.Filename)
			sites = append(sites, rel)
			for _, a := range args {
				if why := suspicious(a); why != "" {
					t.Errorf("%s:%d starts a process with %s on its command line", rel, pos.Line, why)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The scan must see the exec sites there are (ffmpeg for M4A and for
	// the stream's encoder, the load tools starting the relay, the window
	// program, the clipboard program), or it proves nothing.
	for _, want := range []string{"relay/audio/ffmpeg.go", "relay/stream/encoder.go", "build/internal/relayproc/relayproc.go",
		"app/windowproc.go", "ui/clipboard/clipboard.go"} {
		if !slices.Contains(sites, want) {
			t.Errorf("the scan did not find the process started in %s (found %v)", want, sites)
		}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod above the app package: %v", err)
	}
	return dir
}
