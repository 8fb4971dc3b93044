package backendtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The captures in testdata/captures are the team's recordings of real
// OpenScanner 1.3.3, 1.2.0 and 1.1.2 servers (../shared/openscanner-captures,
// copied in; relay/backend's tests read this copy too). The conformance
// tests below replay every one of them against the fake: a divergence a
// client could pass against the fake and fail against a real server fails
// the build instead.

const captureRoot = "testdata/captures"

func captureFile(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{captureRoot}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// captureHTTP parses a `curl -i` capture of generation ver. complete
// reports whether the body is all there (one audio capture stops after
// its headers).
func captureHTTP(t *testing.T, ver, name string) (resp *http.Response, body []byte, complete bool) {
	t.Helper()
	raw := captureFile(t, ver, "http", name)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("capture %s/%s: %v", ver, name, err)
	}
	body, err = io.ReadAll(resp.Body)
	return resp, body, err == nil
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

// volatileKeys hold values that differ from run to run (tokens, times):
// their kind is compared, not their value.
var volatileKeys = map[string]bool{"token": true, "dateTime": true}

// comparable is v with its volatile values replaced by their kind; seen
// reports whether there were any.
func comparable(v any) (out any, seen bool) {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			if volatileKeys[k] {
				m[k], seen = shapeOf(e), true
				continue
			}
			var s bool
			m[k], s = comparable(e)
			seen = seen || s
		}
		return m, seen
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			var s bool
			l[i], s = comparable(e)
			seen = seen || s
		}
		return l, seen
	}
	return v, false
}

func jsonValue(t *testing.T, what string, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v in %.200q", what, err, b)
	}
	return v
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

// clientHeaders are the answer headers a client acts on; each must be what
// the real server sent, absent where it sent none.
var clientHeaders = []string{"Content-Type", "Accept-Ranges", "Content-Disposition", "Content-Range",
	"Cache-Control", "Deprecation", "Sunset", "Link"}

// conform compares a live answer with capture ver/name: status, client
// headers, cookie attributes, and the body — JSON values exactly except
// volatile ones (compared by kind), other bodies byte for byte.
func conform(t *testing.T, ver, name string, got *http.Response, gotBody []byte) {
	t.Helper()
	want, wantBody, complete := captureHTTP(t, ver, name)
	what := ver + "/" + name
	if got.StatusCode != want.StatusCode {
		t.Errorf("%s: status %d, capture %d", what, got.StatusCode, want.StatusCode)
	}
	for _, h := range clientHeaders {
		if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
			t.Errorf("%s: header %s = %q, capture %q", what, h, g, w)
		}
	}
	for _, h := range []string{"Last-Modified", "X-Request-Id"} { // values differ by run
		if g, w := got.Header.Get(h) != "", want.Header.Get(h) != ""; g != w {
			t.Errorf("%s: header %s present %v, capture %v", what, h, g, w)
		}
	}
	if g, w := cookieAttrs(got.Cookies()), cookieAttrs(want.Cookies()); g != w {
		t.Errorf("%s: cookies\n got %s\nwant %s", what, g, w)
	}
	if !complete {
		return
	}
	exact := !strings.HasPrefix(want.Header.Get("Content-Type"), "application/json")
	if !exact {
		g, volatileG := comparable(jsonValue(t, what+" (fake)", gotBody))
		w, _ := comparable(jsonValue(t, what+" (capture)", wantBody))
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: body\n got %s\nwant %s", what, gotBody, wantBody)
		}
		exact = !volatileG
		if tok := tokenIn(gotBody); tok != "" {
			if g, w := claimKeys(t, tok), claimKeys(t, tokenIn(wantBody)); g != w {
				t.Errorf("%s: JWT claims %s, capture %s", what, g, w)
			}
			if g, w := jwtHeader(t, tok), jwtHeader(t, tokenIn(wantBody)); g != w {
				t.Errorf("%s: JWT header %s, capture %s", what, g, w)
			}
		}
	} else if !bytes.Equal(gotBody, wantBody) {
		t.Errorf("%s: body %.64q, capture %.64q", what, gotBody, wantBody)
	}
	if exact && got.Header.Get("Content-Length") != want.Header.Get("Content-Length") {
		t.Errorf("%s: Content-Length %s, capture %s", what, got.Header.Get("Content-Length"), want.Header.Get("Content-Length"))
	}
}

func tokenIn(body []byte) string {
	var v struct{ Token string }
	_ = json.Unmarshal(body, &v)
	return v.Token
}

// cookieAttrs lists cookies by name, path, Max-Age, flags, SameSite and the
// kind of value (a JWT or the 64-hex refresh token), in order.
func cookieAttrs(cs []*http.Cookie) string {
	var out []string
	for _, c := range cs {
		kind := "hex" + strconv.Itoa(len(c.Value))
		if strings.Count(c.Value, ".") == 2 {
			kind = "jwt"
		}
		out = append(out, strings.Join([]string{c.Name, c.Path, strconv.Itoa(c.MaxAge),
			boolStr(c.HttpOnly), boolStr(c.Secure), strconv.Itoa(int(c.SameSite)), kind}, "|"))
	}
	return strings.Join(out, " ; ")
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

// uploadCaptureCall uploads the captured moment's call as a recorder did:
// the real 5-second MP3 on talkgroup 101 ("Fire Dispatch") of system 1
// ("Harness County"), which the server does not know yet.
func uploadCaptureCall(t *testing.T, s *Server, at int64) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"key": "test-api-key", "system": "1", "talkgroup": "101",
		"systemLabel": "Harness County", "talkgroupLabel": "Fire Dispatch", "frequency": "851012500",
		"audioName": "call.mp3", "audioType": "application/octet-stream", "dateTime": strconv.FormatInt(at, 10)} {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("audio", "call.mp3")
	_, _ = fw.Write(captureCallMP3(t))
	_ = mw.Close()
	resp, err := http.Post(s.URL()+"/api/call-upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload = %d", resp.StatusCode)
	}
}

// replayed lists, per generation, every HTTP capture and the request that
// reproduces it, in the order they are replayed (the failed logins last:
// they lock the address out).
var replayed = map[string][]string{
	"1.3.3": {"health.txt", "setup-status.txt", "login-ok.txt", "refresh-ok.txt", "refresh-no-cookie.txt",
		"history.txt", "audio-range-cookie.txt", "audio-anonymous.txt", "audio-cookie-cross-site.txt",
		"audio-unknown.txt", "login-wrong-password.txt", "login-wrong-password-legacy.txt", "login-after-3-failures.txt"},
	"1.2.0": {"health.txt", "setup-status.txt", "v1-health-404.txt", "login-ok.txt", "refresh-ok.txt",
		"cookie-jar-after-refresh.txt", "refresh-no-cookie.txt", "history.txt", "audio-range-bearer.txt", "audio-range-cookie.txt"},
	"1.1.2": {"health.txt", "setup-status.txt", "v1-health-404.txt", "login-ok.txt", "refresh-ok.txt",
		"cookie-jar-after-refresh.txt", "refresh-no-cookie.txt", "history.txt", "audio-range-bearer.txt", "audio-range-cookie.txt"},
}

var captureGenerations = map[string]Generation{"1.3.3": Gen133, "1.2.0": Gen120, "1.1.2": Gen112}

// TestEveryCaptureIsReplayed keeps the conformance tests complete: a
// capture added to testdata/captures without a replay fails here.
func TestEveryCaptureIsReplayed(t *testing.T) {
	wsDirs := map[string]bool{"1.3.3/ws-listener": true, "1.3.3/ws-legacy": true, "1.2.0/ws-listener": true, "1.1.2/ws-listener": true}
	err := filepath.WalkDir(captureRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == filepath.Join(captureRoot, "README.md") {
			return err
		}
		rel, _ := filepath.Rel(captureRoot, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case len(parts) == 3 && parts[1] == "http":
			for _, name := range replayed[parts[0]] {
				if name == parts[2] {
					return nil
				}
			}
		case len(parts) == 3 && wsDirs[parts[0]+"/"+parts[1]]:
			return nil
		}
		t.Errorf("capture %s is not replayed by the conformance tests", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHTTPConformsToEveryCapture replays every HTTP exchange of every
// generation against the fake.
func TestHTTPConformsToEveryCapture(t *testing.T) {
	for ver, names := range replayed {
		t.Run(ver, func(t *testing.T) {
			t.Parallel()
			gen := captureGenerations[ver]
			s := newServer(t, Options{Generation: gen, Version: "dev",
				OnUnhandled: func(m, p string) { t.Errorf("unhandled %s %s", m, p) }})
			base := s.URL()
			prefix := "/api"
			if gen == Gen133 {
				prefix = "/api/v1"
			}
			anon, c := client(t), client(t)
			var access string
			var signInCookies []*http.Cookie
			bad := `{"username":"listener","password":"nope","rememberMe":true}`
			for _, name := range names {
				var r *http.Response
				var b []byte
				switch name {
				case "health.txt":
					r, b = do(t, anon, "GET", base+prefix+"/health", "", nil)
				case "setup-status.txt":
					r, b = do(t, anon, "GET", base+prefix+"/setup/status", "", nil)
				case "v1-health-404.txt":
					r, b = do(t, anon, "GET", base+"/api/v1/health", "", nil)
				case "login-ok.txt":
					r, b = do(t, c, "POST", base+prefix+"/auth/login", goodLogin, nil)
					access, signInCookies = tokenIn(b), r.Cookies()
					uploadCaptureCall(t, s, time.Now().Unix())
				case "refresh-ok.txt":
					r, b = do(t, c, "POST", base+prefix+"/auth/refresh", "", nil)
					access, signInCookies = tokenIn(b), mergeCookies(signInCookies, r.Cookies())
				case "cookie-jar-after-refresh.txt":
					conformJar(t, ver, signInCookies)
					continue
				case "refresh-no-cookie.txt":
					r, b = do(t, anon, "POST", base+prefix+"/auth/refresh", "", nil)
				case "history.txt":
					r, b = do(t, anon, "GET", base+prefix+"/calls?date_from=0&sort=asc", "", map[string]string{"Authorization": "Bearer " + access})
				case "audio-range-cookie.txt":
					r, b = do(t, c, "GET", base+prefix+"/calls/1/audio", "", map[string]string{"Range": "bytes=0-15"})
				case "audio-range-bearer.txt":
					r, b = do(t, anon, "GET", base+prefix+"/calls/1/audio", "", map[string]string{"Range": "bytes=0-15", "Authorization": "Bearer " + access})
				case "audio-anonymous.txt":
					r, b = do(t, anon, "GET", base+prefix+"/calls/1/audio", "", nil)
				case "audio-cookie-cross-site.txt":
					r, b = do(t, c, "GET", base+prefix+"/calls/1/audio", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
				case "audio-unknown.txt":
					r, b = do(t, c, "GET", base+prefix+"/calls/77/audio", "", nil)
				case "login-wrong-password.txt":
					r, b = do(t, anon, "POST", base+"/api/v1/auth/login", bad, nil)
				case "login-wrong-password-legacy.txt":
					r, b = do(t, anon, "POST", base+"/api/auth/login", bad, nil)
				case "login-after-3-failures.txt":
					do(t, anon, "POST", base+prefix+"/auth/login", bad, nil)
					r, b = do(t, anon, "POST", base+prefix+"/auth/login", goodLogin, nil)
				default:
					t.Fatalf("no replay for %s/%s", ver, name)
				}
				conform(t, ver, name, r, b)
			}
		})
	}
}

// mergeCookies is what a cookie jar holds after next was set over old.
func mergeCookies(old, next []*http.Cookie) []*http.Cookie {
	out := append([]*http.Cookie(nil), next...)
	for _, o := range old {
		replaced := false
		for _, n := range next {
			replaced = replaced || (n.Name == o.Name && n.Path == o.Path)
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// conformJar compares what a client's jar holds after sign-in and refresh
// with the captured Netscape-format jar: names, paths, flags, and the
// refresh token outliving the session cookie by the captured margin.
func conformJar(t *testing.T, ver string, got []*http.Cookie) {
	t.Helper()
	type entry struct {
		path             string
		httpOnly, secure bool
		expires          int64
	}
	want := map[string]entry{}
	for _, line := range strings.Split(strings.TrimSpace(string(captureFile(t, ver, "http", "cookie-jar-after-refresh.txt"))), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Fatalf("%s jar line %q", ver, line)
		}
		exp, _ := strconv.ParseInt(f[4], 10, 64)
		want[f[5]] = entry{f[2], strings.HasPrefix(f[0], "#HttpOnly_"), f[3] == "TRUE", exp}
	}
	have := map[string]entry{}
	for _, c := range got {
		have[c.Name] = entry{c.Path, c.HttpOnly, c.Secure, int64(c.MaxAge)}
	}
	if len(have) != len(want) {
		t.Errorf("%s jar: %d cookies, capture %d", ver, len(have), len(want))
	}
	for name, w := range want {
		g, ok := have[name]
		if !ok || g.path != w.path || g.httpOnly != w.httpOnly || g.secure != w.secure {
			t.Errorf("%s jar: %s = %+v, capture %+v", ver, name, g, w)
		}
	}
	if w, ok := want["os_session"]; ok {
		if gap, wantGap := have["refresh_token"].expires-have["os_session"].expires, want["refresh_token"].expires-w.expires; gap != wantGap {
			t.Errorf("%s jar: refresh token outlives the session cookie by %d s, capture %d s", ver, gap, wantGap)
		}
	}
}

// TestWebSocketConformsToEveryCapture replays the captured moment on each
// generation — listeners connected to a new server, one upload creating its
// system and talkgroup — and compares every frame, in order, with the real
// ones, values and all (the listener count included: the real server sends
// one, debounced, after the call, not one per connect). 1.3.3's count of 2
// is its v1 and legacy listeners together.
func TestWebSocketConformsToEveryCapture(t *testing.T) {
	for _, tc := range []struct {
		ver   string
		gen   Generation
		paths map[string]string // socket path → capture dir
	}{
		{"1.3.3", Gen133, map[string]string{"/api/v1/ws/listener": "ws-listener", "/ws": "ws-legacy"}},
		{"1.3.3", Gen133, map[string]string{"/api/v1/ws/listener": "ws-listener", "/api/ws": "ws-legacy"}},
		{"1.2.0", Gen120, map[string]string{"/ws": "ws-listener"}},
		{"1.1.2", Gen112, map[string]string{"/ws": "ws-listener"}},
	} {
		var names []string
		for p := range tc.paths {
			names = append(names, p)
		}
		sort.Strings(names)
		t.Run(tc.ver+strings.Join(names, "+"), func(t *testing.T) {
			t.Parallel()
			// A wide debounce, so the upload surely comes first on a busy
			// machine, as it did in the capture.
			s := newServer(t, Options{Generation: tc.gen, Version: "dev", ListenerCountDelay: 5 * time.Second,
				OnUnhandled: func(m, p string) { t.Errorf("unhandled %s %s", m, p) }})
			_, body := post(t, client(t), s.URL()+"/api/auth/login", goodLogin)
			socks := map[string]*websocket.Conn{}
			got := map[string][][]byte{}
			for _, p := range names {
				socks[p] = dialWS(t, s, p, body["token"].(string))
				for range 2 { // welcome, config: before the upload
					got[p] = append(got[p], readFrame(t, socks[p]))
				}
			}
			var capCall struct {
				Call     struct{ DateTime int64 } `json:"call"`
				DateTime int64                    `json:"dateTime"`
			}
			var arr []json.RawMessage
			if json.Unmarshal(captureFile(t, tc.ver, "ws-listener", "05.json"), &arr) == nil {
				json.Unmarshal(arr[1], &capCall)
			} else {
				json.Unmarshal(captureFile(t, tc.ver, "ws-listener", "05.json"), &capCall)
				capCall.DateTime = capCall.Call.DateTime
			}
			uploadCaptureCall(t, s, capCall.DateTime)
			for _, p := range names {
				for range 4 { // config, config, call, listener count
					got[p] = append(got[p], readFrame(t, socks[p]))
				}
				for i, f := range got[p] {
					name := "0" + strconv.Itoa(i+1) + ".json"
					want := captureFile(t, tc.ver, tc.paths[p], name)
					if !reflect.DeepEqual(jsonValue(t, "frame", f), jsonValue(t, "capture", want)) {
						t.Errorf("%s frame %d\n got %.300s\nwant %.300s", p, i+1, f, want)
					}
				}
			}
		})
	}
}
