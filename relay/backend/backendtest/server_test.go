package backendtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func post(t *testing.T, c *http.Client, u, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

const goodLogin = `{"username":"listener","password":"listener-pass","rememberMe":true}`

func TestLoginCookiesAndRateLimit(t *testing.T) {
	s := newServer(t, Options{})
	c := client(t)
	resp, body := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin)
	if resp.StatusCode != 200 || body["token"] == "" {
		t.Fatalf("login = %d %v", resp.StatusCode, body)
	}
	var sawSession, sawRefresh bool
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "os_session":
			sawSession = ck.Path == "/api" && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode && ck.MaxAge == 900
		case "refresh_token":
			sawRefresh = ck.Path == "/api" && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode && len(ck.Value) == 64
		}
	}
	if !sawSession || !sawRefresh {
		t.Fatalf("cookies = %v", resp.Header["Set-Cookie"])
	}
	for i := 0; i < 3; i++ {
		if r, _ := post(t, c, s.URL()+"/api/v1/auth/login", `{"username":"listener","password":"wrong"}`); r.StatusCode != 401 {
			t.Fatalf("wrong password = %d", r.StatusCode)
		}
	}
	r, b := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin)
	if r.StatusCode != 429 || b["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("after 3 failures = %d %v", r.StatusCode, b)
	}
	// Legacy route: legacy error shape and deprecation headers.
	r, b = post(t, client(t), s.URL()+"/api/auth/login", `{"username":"nobody","password":"x"}`)
	if r.StatusCode != 429 && (r.StatusCode != 401 || b["error"] != "invalid credentials") {
		t.Fatalf("legacy login = %d %v", r.StatusCode, b)
	}
	if r.Header.Get("Deprecation") != "true" || !strings.Contains(r.Header.Get("Link"), "/api/v1/auth/login") {
		t.Fatalf("legacy headers %v", r.Header)
	}
	if got := s.Counters(); got.Logins != 1 || got.FailedLogins != 5 {
		t.Fatalf("counters %+v", got)
	}
}

func TestRefreshRotationGraceAndFamilyRevocation(t *testing.T) {
	clk := NewManualClock(time.Unix(1_795_356_000, 0))
	s := newServer(t, Options{Clock: clk})
	c := client(t)
	post(t, c, s.URL()+"/api/v1/auth/login", goodLogin)
	u, _ := url.Parse(s.URL() + "/api/")
	oldRefresh := cookie(c, u, "refresh_token")
	r, _ := post(t, c, s.URL()+"/api/v1/auth/refresh", "")
	if r.StatusCode != 200 {
		t.Fatalf("refresh = %d", r.StatusCode)
	}
	successor := cookie(c, u, "refresh_token")
	if successor == oldRefresh {
		t.Fatal("refresh did not rotate")
	}
	// A duplicate within the grace gets the same successor.
	replay := client(t)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "refresh_token", Value: oldRefresh, Path: "/api"}})
	clk.Advance(time.Second)
	if r, _ := post(t, replay, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 200 || cookie(replay, u, "refresh_token") != successor {
		t.Fatalf("replay within grace = %d", r.StatusCode)
	}
	// After the grace: theft; the family dies, successor included.
	clk.Advance(31 * time.Second)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "refresh_token", Value: oldRefresh, Path: "/api"}})
	if r, _ := post(t, replay, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 {
		t.Fatalf("replay after grace = %d", r.StatusCode)
	}
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 {
		t.Fatalf("successor after family revocation = %d", r.StatusCode)
	}
	if s.Counters().RevokedFamilies != 1 {
		t.Fatalf("counters %+v", s.Counters())
	}
	if r, b := post(t, client(t), s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 || !strings.Contains(b["error"].(map[string]any)["message"].(string), "no refresh token") {
		t.Fatalf("refresh without cookie = %d %v", r.StatusCode, b)
	}
}

func cookie(c *http.Client, u *url.URL, name string) string {
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func get(t *testing.T, c *http.Client, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
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

func TestAudioIdentityOrderAndHistory(t *testing.T) {
	clk := NewManualClock(time.Unix(1_795_356_000, 0))
	s := newServer(t, Options{Clock: clk})
	s.AddSystem(1, "Harness County")
	s.AddSystem(2, "Secret Ops")
	s.AddTalkgroup(1, 101, "Fire Dispatch", "Fire Dispatch Main", "Fire", "Dispatch", "#f00")
	audio := SynthWAV(0.5, 440, 8000)
	id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio, AudioName: "call.wav", Frequency: 851012500, Duration: 0.5})
	hidden := s.AddCall(CallSpec{SystemID: 2, TalkgroupID: 7, Audio: audio})
	s.GrantSystems("listener", 1)
	anon := client(t)
	au := s.URL() + "/api/v1/calls/" + itoa(id) + "/audio"
	if r, _ := get(t, anon, au, nil); r.StatusCode != 401 {
		t.Fatalf("anonymous audio = %d", r.StatusCode)
	}
	c := client(t)
	_, body := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin)
	if r, b := get(t, c, au, map[string]string{"Range": "bytes=0-15"}); r.StatusCode != 206 || len(b) != 16 || r.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("cookie range = %d %d", r.StatusCode, len(b))
	}
	if r, _ := get(t, c, au, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.StatusCode != 401 {
		t.Fatalf("cross-site cookie = %d", r.StatusCode)
	}
	if r, b := get(t, anon, au, map[string]string{"Authorization": "Bearer " + body["token"].(string)}); r.StatusCode != 200 || string(b) != string(audio) {
		t.Fatalf("bearer = %d", r.StatusCode)
	}
	if r, _ := get(t, c, s.URL()+"/api/v1/calls/"+itoa(hidden)+"/audio", nil); r.StatusCode != 404 {
		t.Fatalf("ungranted call = %d, want 404", r.StatusCode)
	}
	if r, _ := get(t, c, s.URL()+"/api/v1/calls/999/audio", nil); r.StatusCode != 404 {
		t.Fatalf("unknown call = %d", r.StatusCode)
	}
	got := s.Counters()
	if got.AudioByCookie != 1 || got.AudioByBearer != 1 {
		t.Fatalf("counters %+v", got)
	}
	// Access expiry: the cookie stops working until a refresh.
	clk.Advance(16 * time.Minute)
	if r, _ := get(t, c, au, nil); r.StatusCode != 401 {
		t.Fatalf("expired cookie = %d", r.StatusCode)
	}
	post(t, c, s.URL()+"/api/v1/auth/refresh", "")
	_, hb := get(t, c, s.URL()+"/api/v1/calls?date_from=0&sort=asc&limit=500", nil)
	var h struct {
		Calls []historyCall
		Total int
	}
	json.Unmarshal(hb, &h)
	if h.Total != 1 || h.Calls[0].ID != id || h.Calls[0].TalkgroupLabel != "Fire Dispatch" {
		t.Fatalf("history = %s", hb)
	}
}

func TestPublicAccessAndOldGenerations(t *testing.T) {
	s := newServer(t, Options{PublicAccess: true, Generation: Gen120})
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: []byte("RIFFxxxxWAVE")})
	if r, _ := get(t, client(t), s.URL()+"/api/calls/1/audio", nil); r.StatusCode != 200 || r.Header.Get("Deprecation") != "" {
		t.Fatalf("public legacy audio = %d, Deprecation %q (1.2 has no v1 to point to)", r.StatusCode, r.Header.Get("Deprecation"))
	}
	if r, _ := get(t, client(t), s.URL()+"/api/v1/health", nil); r.StatusCode != 404 {
		t.Fatalf("v1 on 1.2 = %d, want 404", r.StatusCode)
	}
	if s.Counters().Unhandled != 0 {
		t.Fatal("a v1 probe on 1.2 counted as unhandled")
	}
	if r, _ := get(t, client(t), s.URL()+"/api/v2/nothing", nil); r.StatusCode != 404 || s.Counters().Unhandled != 1 {
		t.Fatal("unknown route not counted")
	}
	old := newServer(t, Options{Generation: Gen112})
	r, _ := post(t, client(t), old.URL()+"/api/auth/login", goodLogin)
	for _, ck := range r.Cookies() {
		if ck.Name == "os_session" {
			t.Fatal("1.1 set an os_session cookie")
		}
	}
}

// dialWS connects and authenticates with the first message.
func dialWS(t *testing.T, s *Server, path, token string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if token != "" {
		b, _ := json.Marshal([]string{token})
		c.WriteMessage(websocket.TextMessage, b)
	}
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLegacyDeprecationHeadersNameTheRealSuccessor: 1.3's legacy answers
// point at their v1 twin, the call id filled in; 1.2 and 1.1 have no v1
// and send no such headers.
func TestLegacyDeprecationHeadersNameTheRealSuccessor(t *testing.T) {
	for _, gen := range []Generation{Gen133, Gen120, Gen112} {
		s := newServer(t, Options{Generation: gen, PublicAccess: true})
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: []byte("RIFFxxxxWAVE")})
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: []byte("RIFFxxxxWAVE")})
		r, _ := get(t, client(t), s.URL()+"/api/calls/2/audio", nil)
		want := map[string]string{"Deprecation": "", "Sunset": "", "Link": ""}
		if gen == Gen133 {
			want = map[string]string{"Deprecation": "true", "Sunset": "Mon, 26 Apr 2027 00:00:00 GMT",
				"Link": `</api/v1/calls/2/audio>; rel="successor-version"`}
		}
		for h, w := range want {
			if g := r.Header.Get(h); g != w {
				t.Errorf("%s legacy audio: %s = %q, want %q", gen.version(), h, g, w)
			}
		}
	}
}

func TestWebSocketAuthDropRestartAndHooks(t *testing.T) {
	s := newServer(t, Options{})
	c := dialWS(t, s, "/api/v1/ws/listener", "not.a.token")
	if f := readFrame(t, c); !strings.Contains(string(f), "session.expired") {
		t.Fatalf("bad token got %s", f)
	}
	_, body := post(t, client(t), s.URL()+"/api/v1/auth/login", goodLogin)
	tok := body["token"].(string)
	s.AddTalkgroup(1, 1, "TG 1", "", "", "", "")
	ws := dialWS(t, s, "/api/v1/ws/listener", tok)
	for i := 0; i < 3; i++ {
		readFrame(t, ws)
	}
	s.DropBroadcasts(1)
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	if f := readFrame(t, ws); !strings.Contains(string(f), `"id":2`) {
		t.Fatalf("after a dropped broadcast got %s, want call 2", f)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("socket survived a restart")
	}
	if s.Calls() != 2 {
		t.Fatal("calls lost across restart")
	}
	s.RejectNext(1, "max_clients")
	ws = dialWS(t, s, "/api/v1/ws/listener", tok)
	if f := readFrame(t, ws); !strings.Contains(string(f), "max_clients") {
		t.Fatalf("rejected socket got %s", f)
	}
	ws = dialWS(t, s, "/api/v1/ws/listener", tok)
	readFrame(t, ws)
	s.ExpireSessions()
	for {
		f := readFrame(t, ws)
		if strings.Contains(string(f), "session.expired") {
			break
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(jsonValue(t, "a", a), jsonValue(t, "b", b))
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
