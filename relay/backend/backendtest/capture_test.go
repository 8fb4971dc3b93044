package backendtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// The captures in testdata/captures are copies of the team's recordings of
// real OpenScanner 1.3.3, 1.2.0 and 1.1.2 servers
// (../shared/openscanner-captures). These tests hold the fake to them.

func captureFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata", "captures"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// captureHTTP parses a `curl -i` capture.
func captureHTTP(t *testing.T, name string) (*http.Response, []byte) {
	t.Helper()
	raw := captureFile(t, "1.3.3", "http", name)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, bytes.TrimSpace(body)
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// shapeOf describes a JSON value's structure: object keys (recursively) and
// value kinds, not values.
func shapeOf(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = shapeOf(e)
		}
		return m
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{shapeOf(x[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

func sameShape(t *testing.T, got, want []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(got, &x); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &y); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	return reflect.DeepEqual(shapeOf(x), shapeOf(y))
}

func do(t *testing.T, c *http.Client, method, u string, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// checkLike compares a response with a capture: status, body (exactly, or
// in shape), and the named headers.
func checkLike(t *testing.T, what string, got *http.Response, gotBody []byte, capture string, exactBody bool, headers ...string) {
	t.Helper()
	want, wantBody := captureHTTP(t, capture)
	if got.StatusCode != want.StatusCode {
		t.Errorf("%s: status %d, capture %d", what, got.StatusCode, want.StatusCode)
	}
	if exactBody && len(wantBody) > 0 && !bytes.Equal(gotBody, wantBody) { // binary bodies are not in the captures
		t.Errorf("%s: body %s, capture %s", what, gotBody, wantBody)
	}
	if !exactBody && len(wantBody) > 0 && !sameShape(t, gotBody, wantBody) {
		t.Errorf("%s: body shape %s, capture %s", what, gotBody, wantBody)
	}
	for _, h := range append(headers, "Content-Type") {
		if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
			t.Errorf("%s: header %s = %q, capture %q", what, h, g, w)
		}
	}
	if got.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", what)
	}
}

func TestHTTPMatchesCaptures(t *testing.T) {
	s := newServer(t, Options{Version: "dev"})
	base := s.URL()
	anon := client(t)

	r, b := do(t, anon, "GET", base+"/api/v1/health", "", nil)
	checkLike(t, "health", r, b, "health.txt", true)
	r, b = do(t, anon, "GET", base+"/api/v1/setup/status", "", nil)
	checkLike(t, "setup status", r, b, "setup-status.txt", true)

	c := client(t)
	r, b = do(t, c, "POST", base+"/api/v1/auth/login", goodLogin, nil)
	checkLike(t, "login", r, b, "login-ok.txt", false)
	want, _ := captureHTTP(t, "login-ok.txt")
	compareCookies(t, "login", r.Cookies(), want.Cookies())
	var login struct{ Token string }
	json.Unmarshal(b, &login)
	_, wantLogin := captureHTTP(t, "login-ok.txt")
	var capLogin struct{ Token string }
	json.Unmarshal(wantLogin, &capLogin)
	if g, w := claimKeys(t, login.Token), claimKeys(t, capLogin.Token); g != w {
		t.Errorf("JWT claims %s, capture %s", g, w)
	}
	if g, w := jwtHeader(t, login.Token), jwtHeader(t, capLogin.Token); g != w {
		t.Errorf("JWT header %s, capture %s", g, w)
	}

	r, b = do(t, c, "POST", base+"/api/v1/auth/refresh", "", nil)
	checkLike(t, "refresh", r, b, "refresh-ok.txt", false)
	want, _ = captureHTTP(t, "refresh-ok.txt")
	compareCookies(t, "refresh", r.Cookies(), want.Cookies())
	r, b = do(t, anon, "POST", base+"/api/v1/auth/refresh", "", nil)
	checkLike(t, "refresh without cookie", r, b, "refresh-no-cookie.txt", true)

	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch",
		AudioName: "call.mp3", Frequency: 851012500, Duration: 5, Audio: bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 4602)})
	r, b = do(t, c, "GET", base+"/api/v1/calls?date_from=0&sort=asc", "", nil)
	checkLike(t, "history", r, b, "history.txt", false)
	r, b = do(t, c, "GET", base+"/api/v1/calls/1/audio", "", map[string]string{"Range": "bytes=0-15"})
	checkLike(t, "audio range", r, b, "audio-range-cookie.txt", true,
		"Accept-Ranges", "Content-Disposition", "Content-Length", "Content-Range")
	if r.Header.Get("Last-Modified") == "" {
		t.Error("audio: no Last-Modified")
	}
	r, b = do(t, anon, "GET", base+"/api/v1/calls/1/audio", "", nil)
	checkLike(t, "anonymous audio", r, b, "audio-anonymous.txt", true)
	r, b = do(t, c, "GET", base+"/api/v1/calls/1/audio", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	checkLike(t, "cross-site cookie audio", r, b, "audio-cookie-cross-site.txt", true)
	r, b = do(t, c, "GET", base+"/api/v1/calls/77/audio", "", nil)
	checkLike(t, "unknown audio", r, b, "audio-unknown.txt", true)

	bad := `{"username":"listener","password":"nope","rememberMe":true}`
	r, b = do(t, anon, "POST", base+"/api/v1/auth/login", bad, nil)
	checkLike(t, "wrong password", r, b, "login-wrong-password.txt", true, "Cache-Control", "Deprecation")
	r, b = do(t, anon, "POST", base+"/api/auth/login", bad, nil)
	checkLike(t, "legacy wrong password", r, b, "login-wrong-password-legacy.txt", true,
		"Cache-Control", "Deprecation", "Sunset", "Link")
	do(t, anon, "POST", base+"/api/v1/auth/login", bad, nil)
	r, b = do(t, anon, "POST", base+"/api/v1/auth/login", goodLogin, nil)
	checkLike(t, "rate limited", r, b, "login-after-3-failures.txt", true)

	if n := s.Counters().Unhandled; n != 0 {
		t.Errorf("%d unhandled requests", n)
	}
}

func compareCookies(t *testing.T, what string, got, want []*http.Cookie) {
	t.Helper()
	attrs := func(cs []*http.Cookie) string {
		var out []string
		for _, c := range cs {
			out = append(out, strings.Join([]string{c.Name, c.Path, itoa(int64(c.MaxAge)),
				boolStr(c.HttpOnly), boolStr(c.Secure), itoa(int64(c.SameSite)), itoa(int64(len(c.Value)) / 40)}, "|"))
		}
		return strings.Join(out, " ; ")
	}
	if g, w := attrs(got), attrs(want); g != w {
		t.Errorf("%s cookies\n got %s\nwant %s", what, g, w)
	}
}

func boolStr(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func claimKeys(t *testing.T, tok string) string {
	m := jwtPart(t, tok, 1)
	var keys []string
	for k, v := range m {
		keys = append(keys, k+":"+reflect.TypeOf(v).Kind().String())
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func jwtHeader(t *testing.T, tok string) string {
	b, _ := json.Marshal(jwtPart(t, tok, 0))
	return string(b)
}

// wsFrames reads frames until want frames other than listener.count have
// arrived; it reports whether a listener.count arrived too.
func wsFrames(t *testing.T, c interface {
	SetReadDeadline(time.Time) error
	ReadMessage() (int, []byte, error)
}, want int) (frames [][]byte, sawCount bool) {
	t.Helper()
	for len(frames) < want {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(frames), err)
		}
		if bytes.Contains(b, []byte(`"listener.count"`)) || bytes.HasPrefix(b, []byte(`["LSC"`)) {
			sawCount = true
			continue
		}
		frames = append(frames, b)
	}
	return frames, sawCount
}

// TestWebSocketMatchesCapturesExactly replays the captured moment (a new
// server, one listener, one upload creating its system and talkgroup) on
// each generation and compares every frame with the real one, values and
// all.
func TestWebSocketMatchesCapturesExactly(t *testing.T) {
	for _, tc := range []struct {
		gen       Generation
		path      string
		ver, dir  string
		countWant string
	}{
		{Gen133, "/api/v1/ws/listener", "1.3.3", "ws-listener", "06.json"},
		{Gen133, "/ws", "1.3.3", "ws-legacy", "06.json"},
		{Gen133, "/api/ws", "1.3.3", "ws-legacy", "06.json"},
		{Gen120, "/ws", "1.2.0", "ws-listener", "06.json"},
		{Gen112, "/ws", "1.1.2", "ws-listener", "06.json"},
	} {
		t.Run(tc.ver+tc.path, func(t *testing.T) {
			s := newServer(t, Options{Generation: tc.gen, Version: "dev",
				OnUnhandled: func(m, p string) { t.Errorf("unhandled %s %s", m, p) }})
			_, body := post(t, client(t), s.URL()+"/api/auth/login", goodLogin)
			ws := dialWS(t, s, tc.path, body["token"].(string))
			first, sawCount := wsFrames(t, ws, 2)

			capCall := captureFile(t, tc.ver, tc.dir, "05.json")
			var dt int64
			var audio []byte
			if tc.gen == Gen133 && tc.dir == "ws-listener" {
				var f struct{ Call struct{ DateTime int64 } }
				json.Unmarshal(capCall, &f)
				dt = f.Call.DateTime
			} else {
				var f []json.RawMessage
				json.Unmarshal(capCall, &f)
				var p struct {
					DateTime int64
					Audio    []byte
				}
				json.Unmarshal(f[1], &p)
				dt, audio = p.DateTime, p.Audio
			}
			if audio == nil {
				audio = []byte("ID3 stand-in")
			}
			s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch",
				DateTime: time.Unix(dt, 0), AudioName: "call.mp3", AudioType: "application/octet-stream",
				Frequency: 851012500, Duration: 5, Audio: audio})
			rest, sawCount2 := wsFrames(t, ws, 3)
			frames := append(first, rest...)
			for i, f := range frames {
				name := "0" + itoa(int64(i+1)) + ".json"
				if want := captureFile(t, tc.ver, tc.dir, name); !jsonEqual(t, f, want) {
					t.Errorf("frame %d\n got %.300s\nwant %.300s", i+1, f, want)
				}
			}
			if !sawCount && !sawCount2 {
				t.Error("no listener count frame")
			}
			// The listener count has the captured shape.
			s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101})
			other := dialWS(t, s, tc.path, body["token"].(string))
			wsFrames(t, other, 2)
			for {
				ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, b, err := ws.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte("LSC")) || bytes.Contains(b, []byte("listener.count")) {
					if !sameShape(t, b, captureFile(t, tc.ver, tc.dir, tc.countWant)) {
						t.Errorf("listener count %s", b)
					}
					break
				}
			}
		})
	}
}
