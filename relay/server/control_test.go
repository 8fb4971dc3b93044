package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/tokens"
)

// fakeAdmin is a token registry in memory that also authenticates, like
// tokens.Manager.
type fakeAdmin struct {
	mu     sync.Mutex
	list   []tokens.Info
	issued map[string]string // token id → value
	auth   *fakeAuth
}

func (a *fakeAdmin) List(context.Context) ([]tokens.Info, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]tokens.Info(nil), a.list...), nil
}

func (a *fakeAdmin) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error) {
	if name == "" || (scope != ScopeListen && scope != ScopeControl) {
		return "", tokens.Info{}, fmt.Errorf("%w: a name and a scope of listen or control are required", tokens.ErrInvalid)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id := fmt.Sprintf("t%d", len(a.list)+1)
	info := tokens.Info{ID: id, Name: name, Scope: scope, Created: time.Now()}
	a.list = append(a.list, info)
	value := "secret-value-of-" + id
	a.auth.add(value, Identity{TokenID: id, Scope: scope})
	return value, info, nil
}

func (a *fakeAdmin) Revoke(ctx context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.list {
		if a.list[i].ID == id {
			a.list[i].Revoked = true
			a.auth.revoke(id)
			return nil
		}
	}
	return tokens.ErrNotFound
}

// forgetRevoked drops the revoked tokens but the first one made (the fuzz
// target's "rotatable"): a long fuzz run made thousands, and every
// rotate-all revoked each of them through a scan of all, so executions
// slowed to a crawl.
func (a *fakeAdmin) forgetRevoked() {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := a.list[:0]
	for i, info := range a.list {
		if i == 0 || !info.Revoked {
			kept = append(kept, info)
		} else {
			delete(a.issued, info.ID)
		}
	}
	a.list = kept
}

func (a *fakeAdmin) Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error) {
	a.mu.Lock()
	var old *tokens.Info
	for i := range a.list {
		if a.list[i].ID == id {
			old = &a.list[i]
		}
	}
	a.mu.Unlock()
	if old == nil {
		return "", tokens.Info{}, tokens.ErrNotFound
	}
	if grace == 0 {
		a.Revoke(ctx, id)
	}
	return a.Create(ctx, old.Name, old.Scope, 0)
}

func (a *fakeAdmin) RotateAll(ctx context.Context, grace time.Duration) error {
	list, _ := a.List(context.Background())
	for _, i := range list {
		a.Revoke(ctx, i.ID)
	}
	return nil
}

const controlToken = "good-control-token"

func newControlServer(t *testing.T, logTo io.Writer) (*fakeAdmin, *httptest.Server) {
	t.Helper()
	auth := newFakeAuth()
	auth.add(controlToken, Identity{TokenID: "ctl", Scope: ScopeControl})
	admin := &fakeAdmin{auth: auth}
	var log *slog.Logger
	if logTo != nil {
		log = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	_, _, _, ts := newTestServerOpts(t, Options{Auth: auth, Admin: admin, Logger: log})
	return admin, ts
}

func do(t *testing.T, ts *httptest.Server, method, path, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var ctlHeader = map[string]string{"Authorization": "Bearer " + controlToken, "Content-Type": "application/json"}

func TestControl_CreateListRevokeRotate(t *testing.T) {
	_, ts := newControlServer(t, nil)
	resp := do(t, ts, "POST", "/v1/tokens", `{"name":"OBS","scope":"listen","expires":"720h"}`, ctlHeader)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d", resp.StatusCode)
	}
	var issued IssuedResponse
	if err := json.NewDecoder(resp.Body).Decode(&issued); err != nil || issued.Token == "" || issued.Info.Name != "OBS" {
		t.Fatalf("create response %+v, %v", issued, err)
	}
	// The new token works on the data plane at once.
	if r := get(t, ts, "/v1/calls?token="+issued.Token, nil); r.StatusCode != 200 {
		t.Fatalf("new token on /v1/calls = %d", r.StatusCode)
	}
	resp = do(t, ts, "GET", "/v1/tokens", "", ctlHeader)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"OBS"`) {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), issued.Token) {
		t.Fatal("the token list carries a token value")
	}
	resp = do(t, ts, "POST", "/v1/tokens/"+issued.Info.ID+"/rotate", `{"grace":"0s"}`, ctlHeader)
	var rotated IssuedResponse
	if err := json.NewDecoder(resp.Body).Decode(&rotated); err != nil || resp.StatusCode != 200 || rotated.Token == issued.Token {
		t.Fatalf("rotate = %d %+v %v", resp.StatusCode, rotated, err)
	}
	if r := get(t, ts, "/v1/calls?token="+issued.Token, nil); r.StatusCode != 401 {
		t.Fatalf("rotated-out token = %d, want 401", r.StatusCode)
	}
	if r := do(t, ts, "DELETE", "/v1/tokens/"+rotated.Info.ID, "", ctlHeader); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke = %d", r.StatusCode)
	}
	if r := get(t, ts, "/v1/calls?token="+rotated.Token, nil); r.StatusCode != 401 {
		t.Fatalf("revoked token = %d, want 401", r.StatusCode)
	}
	if r := do(t, ts, "DELETE", "/v1/tokens/nope", "", ctlHeader); r.StatusCode != 404 {
		t.Fatalf("revoke unknown = %d, want 404", r.StatusCode)
	}
	if r := do(t, ts, "POST", "/v1/tokens/rotate-all", `{}`, ctlHeader); r.StatusCode != 200 {
		t.Fatalf("rotate-all = %d", r.StatusCode)
	}
}

func TestControl_Refusals(t *testing.T) {
	_, ts := newControlServer(t, nil)
	listen := map[string]string{"Authorization": "Bearer " + goodToken}
	withOrigin := func(k, v string) map[string]string {
		h := map[string]string{k: v}
		for a, b := range ctlHeader {
			h[a] = b
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		want   int
	}{
		{"listen token", "GET", "/v1/tokens", "", listen, 403},
		{"no token", "GET", "/v1/tokens", "", nil, 401},
		{"token in query", "GET", "/v1/tokens?token=" + controlToken, "", nil, 400},
		{"token in query and header", "GET", "/v1/tokens?token=" + controlToken, "", ctlHeader, 400},
		{"foreign origin", "GET", "/v1/tokens", "", withOrigin("Origin", "http://127.0.0.1:9999"), 403},
		{"null origin", "POST", "/v1/tokens", `{"name":"x"}`, withOrigin("Origin", "null"), 403},
		{"foreign referer", "POST", "/v1/tokens", `{"name":"x"}`, withOrigin("Referer", "http://localhost.evil.com/page"), 403},
		{"cross-site fetch", "POST", "/v1/tokens", `{"name":"x"}`, withOrigin("Sec-Fetch-Site", "cross-site"), 403},
		{"unknown field", "POST", "/v1/tokens", `{"name":"x","admin":true}`, ctlHeader, 400},
		{"two objects", "POST", "/v1/tokens", `{"name":"x"}{"name":"y"}`, ctlHeader, 400},
		{"bad scope", "POST", "/v1/tokens", `{"name":"x","scope":"root"}`, ctlHeader, 400},
		{"bad duration", "POST", "/v1/tokens", `{"name":"x","expires":"-5h"}`, ctlHeader, 400},
		{"form post", "POST", "/v1/tokens", "name=x", map[string]string{"Authorization": "Bearer " + controlToken, "Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"huge body", "POST", "/v1/tokens", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, ctlHeader, 413},
	} {
		if r := do(t, ts, tc.method, tc.path, tc.body, tc.hdr); r.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.want)
		}
	}
}

// A foreign page's form POST carries the browser's cookies; an ambient
// cookie must never authenticate token management.
func TestControl_AmbientCookieNeverAuthenticates(t *testing.T) {
	_, ts := newControlServer(t, nil)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(ts.URL + "/login?token=" + controlToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(ts.URL)
	if len(jar.Cookies(u)) == 0 {
		t.Fatal("login set no cookie")
	}
	for _, hdr := range []map[string]string{
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json", "Origin": ts.URL},
		{"Content-Type": "text/plain", "Origin": "http://evil.example"},
	} {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/tokens", strings.NewReader(`{"name":"pwned"}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Errorf("cookie-only control request with %v = %d, want 401/403", hdr, resp.StatusCode)
		}
	}
}

func TestGate_CookieRequestsFromOtherSitesRefused(t *testing.T) {
	_, src, _, ts := newTestServerOpts(t, Options{})
	src.addCall(t, 1, wavFile(64))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(ts.URL + "/login?token=" + goodToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, tc := range []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{}, 200},
		{map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		// Every port on loopback is the same site: same-site is another
		// local server's page, not the relay's.
		{map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{map[string]string{"Sec-Fetch-Site": "bogus"}, 403},
		{map[string]string{"Sec-Fetch-Site": "same-site", "Origin": ts.URL}, 403},
		{map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{map[string]string{"Origin": "null"}, 403},
		{map[string]string{"Origin": "http://localhost.evil.com"}, 403},
		{map[string]string{"Origin": ts.URL}, 200},
	} {
		for _, path := range []string{"/v1/calls/1/audio", "/v1/calls", "/v1/status"} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("cookie request for %s with %v = %d, want %d", path, tc.hdr, resp.StatusCode, tc.want)
			}
		}
	}
}

func TestGate_CookieHoldsNoTokenAndIsStrict(t *testing.T) {
	_, _, _, ts := newTestServerOpts(t, Options{})
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(ts.URL + "/login?token=" + goodToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login = %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, goodToken) {
		t.Fatal("the session cookie holds the token")
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("login response lacks no-referrer / no-store")
	}
	// The pages never contain a token.
	for _, path := range []string{"/", "/app.js"} {
		r := get(t, ts, path, map[string]string{"Cookie": strings.Split(set, ";")[0]})
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(goodToken)) {
			t.Fatalf("%s contains the token", path)
		}
	}
}

func TestGate_SecurityHeaders(t *testing.T) {
	_, _, _, ts := newTestServerOpts(t, Options{})
	for _, path := range []string{"/v1/health", "/v1/calls?token=" + goodToken, "/v1/calls/99?token=" + goodToken, "/nope"} {
		r := get(t, ts, path, nil)
		h := r.Header
		if h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestGate_FailedAttemptsAreRateLimited(t *testing.T) {
	_, _, _, ts := newTestServerOpts(t, Options{})
	var codes []int
	for i := 0; i < 25; i++ {
		codes = append(codes, get(t, ts, "/v1/calls?token=wrong", nil).StatusCode)
	}
	for i, c := range codes {
		want := 401
		if i >= 20 {
			want = 429
		}
		if c != want {
			t.Fatalf("attempt %d = %d, want %d (all: %v)", i+1, c, want, codes)
		}
	}
	// A valid token still works for this client.
	if c := get(t, ts, "/v1/calls?token="+goodToken, nil).StatusCode; c != 200 {
		t.Fatalf("valid token while limited = %d, want 200", c)
	}
}

// TestGate_LogsNeverHoldSecrets runs requests carrying tokens in every
// place and greps the debug log for them.
func TestGate_LogsNeverHoldSecrets(t *testing.T) {
	var buf syncBuffer
	admin, ts := newControlServer(t, &buf)
	resp := do(t, ts, "POST", "/v1/tokens", `{"name":"x"}`, ctlHeader)
	var issued IssuedResponse
	json.NewDecoder(resp.Body).Decode(&issued)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	r, err := client.Get(ts.URL + "/login?token=" + issued.Token)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	get(t, ts, "/v1/calls?token="+goodToken, nil)
	get(t, ts, "/v1/calls?token=wrong-secret-guess", nil)
	admin.Revoke(context.Background(), issued.Info.ID)
	u, _ := url.Parse(ts.URL)
	secrets := []string{controlToken, goodToken, issued.Token, "wrong-secret-guess"}
	for _, c := range jar.Cookies(u) {
		secrets = append(secrets, c.Value)
	}
	log := buf.String()
	if !strings.Contains(log, "/v1/calls") {
		t.Fatalf("debug log has no request lines: %q", log)
	}
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("a secret appears in the log")
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// FuzzControlBody sends arbitrary bodies to every control-plane route that
// takes one, through the real handler chain (gate, authentication, body cap,
// strict decoding): the answer is always a deliberate status with the JSON
// error shape, never a 500 or a panic; a token is issued only for a body
// that decodes to a valid request; and no answer echoes the body back.
func FuzzControlBody(f *testing.F) {
	f.Add([]byte(`{"name":"OBS","scope":"listen","expires":"720h"}`), "application/json")
	f.Add([]byte(`{"grace":"10m"}`), "")
	f.Add([]byte(`{"name":"x"} {}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"name":1e999}`), "application/json")
	f.Add([]byte(`{"name":"x","expires":"-1s"}`), "application/json")
	f.Add([]byte(`{"grace":"87600h1s"}`), "application/json")
	f.Add([]byte(`name=x`), "application/x-www-form-urlencoded")
	f.Add([]byte("\x00\xff"), "application/json")
	auth := newFakeAuth()
	auth.add(controlToken, Identity{TokenID: "ctl", Scope: ScopeControl})
	admin := &fakeAdmin{auth: auth}
	s, err := New(Options{Source: newFakeSource(f), Auth: auth, Admin: admin})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	if _, _, err := admin.Create(context.Background(), "rotatable", ScopeListen, 0); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		admin.forgetRevoked()
		for _, path := range []string{"/v1/tokens", "/v1/tokens/t1/rotate", "/v1/tokens/rotate-all"} {
			post := func(body []byte) *httptest.ResponseRecorder {
				req := httptest.NewRequest("POST", path, bytes.NewReader(body))
				req.Host = "127.0.0.1:7373"
				req.Header.Set("Authorization", "Bearer "+controlToken)
				if contentType != "" && !strings.ContainsAny(contentType, "\r\n\x00") {
					req.Header.Set("Content-Type", contentType)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				return w
			}
			w := post(body)
			switch w.Code {
			case http.StatusOK, http.StatusCreated:
				if path == "/v1/tokens" {
					var c CreateRequest
					if err := decodeStrict(body, &c); err != nil && len(bytes.TrimSpace(body)) > 0 {
						t.Fatalf("%s: a token was issued for a body that does not decode: %q", path, body)
					}
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
				var e apiError
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
					t.Fatalf("%s: %d without the JSON error shape: %q", path, w.Code, w.Body.Bytes())
				}
			default:
				t.Fatalf("%s with %q: status %d", path, body, w.Code)
			}
			if len(body) >= 8 && w.Code >= 400 && bytes.Contains(w.Body.Bytes(), body) {
				// The server's own words may hold the bytes (a body of
				// "applicat" and the message "… application/json"): it is an
				// echo only when another body of that length makes them go.
				if !bytes.Contains(post(bytes.Repeat([]byte{'#'}, len(body))).Body.Bytes(), body) {
					t.Fatalf("%s: the error echoes the request body: %q", path, w.Body.Bytes())
				}
			}
		}
		// Each grace that decodes must be a non-negative duration.
		var g GraceRequest
		if decodeStrict(body, &g) == nil {
			if d, err := parseDuration(g.Grace); err == nil && d < 0 {
				t.Fatalf("negative grace %v accepted", d)
			}
		}
	})
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
