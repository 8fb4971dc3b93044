package backendtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

var t0 = time.Unix(1_795_356_000, 0)

func login(t *testing.T, s *Server, c *http.Client) string {
	t.Helper()
	r, b := post(t, c, s.URL()+"/api/auth/login", goodLogin)
	if r.StatusCode != 200 {
		t.Fatalf("login = %d %v", r.StatusCode, b)
	}
	return b["token"].(string)
}

func strict(t *testing.T) func(string, string) {
	return func(m, p string) { t.Errorf("client called %s %s, which OpenScanner does not have", m, p) }
}

func TestRateLimitLiftsAfterTenMinutes(t *testing.T) {
	clk := NewManualClock(t0)
	s := newServer(t, Options{Clock: clk, OnUnhandled: strict(t)})
	c := client(t)
	for i := 0; i < 3; i++ {
		if r, _ := post(t, c, s.URL()+"/api/v1/auth/login", `{"username":"listener","password":"x"}`); r.StatusCode != 401 {
			t.Fatalf("wrong password %d = %d", i, r.StatusCode)
		}
	}
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin); r.StatusCode != 429 {
		t.Fatalf("4th attempt = %d, want 429", r.StatusCode)
	}
	clk.Advance(9 * time.Minute)
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin); r.StatusCode != 429 {
		t.Fatalf("after 9 min = %d, want 429", r.StatusCode)
	}
	clk.Advance(time.Minute + time.Second)
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/login", goodLogin); r.StatusCode != 200 {
		t.Fatalf("after 10 min = %d, want 200", r.StatusCode)
	}
	if got := s.Counters(); got.Logins != 1 || got.FailedLogins != 5 {
		t.Fatalf("counters %+v", got)
	}
	// Unknown users get the same answer as wrong passwords (no enumeration).
	_, b := post(t, client(t), s.URL()+"/api/v1/auth/login", `{"username":"ghost","password":"x"}`)
	if msg := b["error"].(map[string]any)["message"]; msg != "invalid credentials" {
		t.Fatalf("unknown user: %v", b)
	}
}

func TestLogoutRevokesFamilyClearsCookiesAndClosesSocket(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	c := client(t)
	tok := login(t, s, c)
	ws := dialWS(t, s, "/api/v1/ws/listener", tok)
	wsFrames(t, ws, 2)
	r, _ := do(t, c, "POST", s.URL()+"/api/v1/auth/logout", "", map[string]string{"Authorization": "Bearer " + tok})
	if r.StatusCode != 200 {
		t.Fatalf("logout = %d", r.StatusCode)
	}
	cleared := 0
	for _, ck := range r.Cookies() {
		if (ck.Name == "os_session" || ck.Name == "refresh_token") && ck.MaxAge < 0 && ck.Path == "/api" {
			cleared++
		}
	}
	if cleared != 2 {
		t.Fatalf("logout cookies %v", r.Header["Set-Cookie"])
	}
	for {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, f, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket closed without session.expired: %v", err)
		}
		if strings.Contains(string(f), "session.expired") {
			break
		}
	}
	if r, _ := do(t, client(t), "GET", s.URL()+"/api/v1/auth/me", "", map[string]string{"Authorization": "Bearer " + tok}); r.StatusCode != 401 {
		t.Fatalf("me after logout = %d", r.StatusCode)
	}
	// The jar dropped the cookies; present the old refresh token by hand.
	if got := s.Counters(); got.Logouts != 1 || got.RevokedFamilies != 1 {
		t.Fatalf("counters %+v", got)
	}
}

func TestLogoutThenOldRefreshTokenRefused(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	c := client(t)
	tok := login(t, s, c)
	u, _ := url.Parse(s.URL() + "/api/")
	refresh := cookie(c, u, "refresh_token")
	do(t, c, "POST", s.URL()+"/api/auth/logout", "", map[string]string{"Authorization": "Bearer " + tok})
	other := client(t)
	other.Jar.SetCookies(u, []*http.Cookie{{Name: "refresh_token", Value: refresh, Path: "/api"}})
	if r, b := post(t, other, s.URL()+"/api/auth/refresh", ""); r.StatusCode != 401 || b["error"] != "invalid refresh token" {
		t.Fatalf("refresh after logout = %d %v", r.StatusCode, b)
	}
	if r, _ := do(t, client(t), "POST", s.URL()+"/api/v1/auth/logout", "", nil); r.StatusCode != 401 {
		t.Fatalf("logout without a token = %d", r.StatusCode)
	}
}

func TestTwentyFamiliesPerUser(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	u, _ := url.Parse(s.URL() + "/api/")
	var first *http.Client
	for i := 0; i < 21; i++ {
		c := client(t)
		login(t, s, c)
		if i == 0 {
			first = c
		}
	}
	if r, _ := post(t, first, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 {
		t.Fatalf("oldest family after a 21st login = %d, want 401", r.StatusCode)
	}
	if s.Counters().RevokedFamilies != 1 {
		t.Fatalf("counters %+v", s.Counters())
	}
	_ = u
}

func TestRememberMeFalseGivesSessionRefreshCookie(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	c := client(t)
	r, _ := post(t, c, s.URL()+"/api/v1/auth/login", `{"username":"listener","password":"listener-pass","rememberMe":false}`)
	check := func(what string, r *http.Response) {
		for _, ck := range r.Cookies() {
			if ck.Name == "refresh_token" && ck.MaxAge != 0 {
				t.Fatalf("%s: refresh cookie Max-Age %d, want a session cookie", what, ck.MaxAge)
			}
		}
	}
	check("login", r)
	r, _ = post(t, c, s.URL()+"/api/v1/auth/refresh", "")
	if r.StatusCode != 200 {
		t.Fatalf("refresh = %d", r.StatusCode)
	}
	check("refresh", r)
}

func TestSecureCookiesBehindHTTPSProxy(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	r, _ := do(t, client(t), "POST", s.URL()+"/api/v1/auth/login", goodLogin, map[string]string{"X-Forwarded-Proto": "https"})
	for _, ck := range r.Cookies() {
		if !ck.Secure {
			t.Fatalf("cookie %s not Secure behind an HTTPS proxy", ck.Name)
		}
	}
}

func TestPublicAccessAudioAndSocket(t *testing.T) {
	s := newServer(t, Options{PublicAccess: true, OnUnhandled: strict(t)})
	audio := SynthWAV(0.2, 600, 8000)
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: audio})
	r, b := do(t, client(t), "GET", s.URL()+"/api/v1/calls/1/audio", "", nil)
	if r.StatusCode != 200 || !bytes.Equal(b, audio) {
		t.Fatalf("anonymous public audio = %d", r.StatusCode)
	}
	// Invalid credentials fall through to anonymous silently.
	r, _ = do(t, client(t), "GET", s.URL()+"/api/v1/calls/1/audio", "", map[string]string{"Authorization": "Bearer not.a.jwt"})
	if r.StatusCode != 200 {
		t.Fatalf("bad bearer on a public server = %d", r.StatusCode)
	}
	if r, _ := do(t, client(t), "GET", s.URL()+"/api/v1/calls", "", nil); r.StatusCode != 200 {
		t.Fatalf("anonymous public history = %d", r.StatusCode)
	}
	if got := s.Counters(); got.AudioAnonymous != 2 || got.AudioByBearer != 0 || got.AudioRequests != 2 {
		t.Fatalf("counters %+v", got)
	}
	// No first message needed: the welcome comes at once.
	ws := dialWS(t, s, "/api/v1/ws/listener", "")
	f, _ := wsFrames(t, ws, 1)
	if !strings.Contains(string(f[0]), "connection.welcome") {
		t.Fatalf("public socket got %s", f[0])
	}
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	f, _ = wsFrames(t, ws, 2)
	if !strings.Contains(string(f[1]), `"call.new"`) {
		t.Fatalf("public socket got %s", f[1])
	}
}

func TestGen112BearerOnlyAndInlineAudio(t *testing.T) {
	s := newServer(t, Options{Generation: Gen112, OnUnhandled: strict(t)})
	s.AddTalkgroup(1, 101, "Fire Dispatch", "", "", "", "")
	c := client(t)
	tok := login(t, s, c)
	audio := SynthWAV(0.3, 500, 8000)
	ws := dialWS(t, s, "/ws", tok)
	wsFrames(t, ws, 2)
	id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio})
	f, _ := wsFrames(t, ws, 1)
	var cal []json.RawMessage
	json.Unmarshal(f[0], &cal)
	var p struct{ Audio []byte }
	if len(cal) != 2 || string(cal[0]) != `"CAL"` || json.Unmarshal(cal[1], &p) != nil || !bytes.Equal(p.Audio, audio) {
		t.Fatalf("1.1 CAL without its audio: %.200s", f[0])
	}
	au := s.URL() + "/api/calls/" + itoa(id) + "/audio"
	if r, _ := do(t, c, "GET", au, "", nil); r.StatusCode != 401 {
		t.Fatalf("1.1 audio with only cookies = %d, want 401", r.StatusCode)
	}
	if r, b := do(t, c, "GET", au, "", map[string]string{"Authorization": "Bearer " + tok}); r.StatusCode != 200 || !bytes.Equal(b, audio) {
		t.Fatalf("1.1 audio by bearer = %d", r.StatusCode)
	}
	if r, _ := do(t, c, "GET", s.URL()+"/api/v1/setup/status", "", nil); r.StatusCode != 404 {
		t.Fatalf("v1 on 1.1 = %d", r.StatusCode)
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/api/v1/ws/listener", nil); err == nil {
		t.Fatal("v1 socket on 1.1 connected")
	}
}

func TestHistoryFiltersSortsAndPages(t *testing.T) {
	s := newServer(t, Options{Clock: NewManualClock(t0), OnUnhandled: strict(t)})
	// Radio ids differ from the server's row ids (system 11 is row 1,
	// system 12 row 2; talkgroup 101 row 1, 301 row 2): the filters take
	// row ids, the calls show radio ids.
	s.AddTalkgroup(11, 101, "Fire", "Fire Dispatch", "Fire", "Dispatch", "red")
	s.AddTalkgroup(12, 301, "PD", "Police", "Law", "Dispatch", "blue")
	for i := 0; i < 10; i++ {
		sys, tg := int64(11), int64(101)
		if i%2 == 1 {
			sys, tg = 12, 301
		}
		s.AddCall(CallSpec{SystemID: sys, TalkgroupID: tg, DateTime: t0.Add(time.Duration(i) * time.Minute)})
	}
	s.SetTranscript(3, "Engine 5 respond")
	c := client(t)
	login(t, s, c)
	q := func(query string) (ids []int64, total int) {
		t.Helper()
		r, b := do(t, c, "GET", s.URL()+"/api/v1/calls?"+query, "", nil)
		if r.StatusCode != 200 {
			t.Fatalf("%s = %d %s", query, r.StatusCode, b)
		}
		var h struct {
			Calls []struct{ ID int64 }
			Total int
		}
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		for _, c := range h.Calls {
			ids = append(ids, c.ID)
		}
		return ids, h.Total
	}
	from := itoa(t0.Add(2 * time.Minute).Unix())
	to := itoa(t0.Add(6 * time.Minute).Unix())
	for _, tc := range []struct {
		query string
		ids   string
		total int
	}{
		{"date_from=" + from + "&sort=asc&limit=3", "[3,4,5]", 8},
		{"date_from=" + from + "&sort=asc&limit=3&page=3", "[9,10]", 8},
		{"date_from=" + from + "&date_to=" + to + "&sort=asc", "[3,4,5,6,7]", 5},
		{"date_from=" + from + "&date_to=" + to + "&sort=desc", "[7,6,5,4,3]", 5},
		{"limit=2", "[10,9]", 10},
		{"system_ids=2&sort=asc", "[2,4,6,8,10]", 5},
		{"system_ids=12&sort=asc", "null", 0}, // a radio id is not a row id
		{"system_id=1&sort=asc&limit=2", "[1,3]", 5},
		{"talkgroup_ids=1,%202,&limit=1&sort=asc", "[1]", 10},
		{"talkgroup_ids=2", "[10,8,6,4,2]", 5},
		{"groups=Fire&sort=asc&date_to=" + to, "[1,3,5,7]", 4},
		{"transcript=engine", "[3]", 1},
		{"bookmarked_only=true", "null", 0},
	} {
		ids, total := q(tc.query)
		got, _ := json.Marshal(ids)
		if string(got) != tc.ids || total != tc.total {
			t.Errorf("%s: %s total %d, want %s total %d", tc.query, got, total, tc.ids, tc.total)
		}
	}
	for i := 0; i < 120; i++ {
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: t0.Add(time.Hour)})
	}
	if ids, total := q("limit=500"); len(ids) != 100 || total != 130 {
		t.Errorf("limit=500 gave %d of %d, want 100 of 130", len(ids), total)
	}
	if ids, _ := q(""); len(ids) != 25 {
		t.Errorf("no limit gave %d calls, want the server's default 25", len(ids))
	}
	for _, bad := range []string{"date_from=yesterday", "limit=0", "page=0", "sort=up", "system_ids=1,x"} {
		if r, _ := do(t, c, "GET", s.URL()+"/api/v1/calls?"+bad, "", nil); r.StatusCode != 400 {
			t.Errorf("%s = %d, want 400", bad, r.StatusCode)
		}
	}
	r, _ := do(t, c, "GET", s.URL()+"/api/calls?limit=1", "", nil)
	if r.StatusCode != 200 || r.Header.Get("Sunset") == "" {
		t.Errorf("legacy history = %d %v", r.StatusCode, r.Header)
	}
	s.GrantSystems("listener", 11)
	if _, total := q("date_to=" + to); total != 4 {
		t.Errorf("history outside the grants: total %d, want 4", total)
	}
	// Grants cut into the page after it is taken, as on the real server:
	// page 1 of two-call pages holds calls 7 and 6, of which only 7 is
	// granted — a short page although calls 5, 3 and 1 follow.
	if ids, total := q("date_to=" + to + "&limit=2"); fmt.Sprint(ids) != "[7]" || total != 1 {
		t.Errorf("a page cut by grants: %v total %d, want [7] total 1", ids, total)
	}
	if ids, _ := q("date_to=" + to + "&limit=2&page=2"); fmt.Sprint(ids) != "[5]" {
		t.Errorf("page 2 cut by grants: %v, want [5]", ids)
	}
}

func TestManualClockDrivesTokens(t *testing.T) {
	clk := NewManualClock(t0)
	s := newServer(t, Options{Clock: clk, AccessTTL: 2 * time.Second, OnUnhandled: strict(t)})
	c := client(t)
	tok := login(t, s, c)
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		t.Fatal(err)
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil || !exp.Time.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("exp = %v, want clock + 2s", exp)
	}
	me := func(tok string) int {
		r, _ := do(t, client(t), "GET", s.URL()+"/api/v1/auth/me", "", map[string]string{"Authorization": "Bearer " + tok})
		return r.StatusCode
	}
	if me(tok) != 200 {
		t.Fatal("fresh token refused")
	}
	// A socket authenticated before expiry is not re-checked against it.
	live := dialWS(t, s, "/api/v1/ws/listener", tok)
	wsFrames(t, live, 2)
	clk.Advance(3 * time.Second)
	if me(tok) != 401 {
		t.Fatal("expired token accepted")
	}
	ws := dialWS(t, s, "/api/v1/ws/listener", tok)
	if f, _ := wsFrames(t, ws, 1); !strings.Contains(string(f[0]), "session.expired") {
		t.Fatalf("expired first message got %s", f[0])
	}
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	if f, _ := wsFrames(t, live, 3); !strings.Contains(string(f[2]), "call.new") {
		t.Fatalf("live socket after expiry got %s", f[2])
	}
	_, b := post(t, c, s.URL()+"/api/v1/auth/refresh", "")
	if me(b["token"].(string)) != 200 {
		t.Fatal("refreshed token refused")
	}
	// The refresh token's own lifetime follows the clock too.
	clk.Advance(31 * 24 * time.Hour)
	if r, b := post(t, c, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 ||
		b["error"].(map[string]any)["message"] != "refresh token expired" {
		t.Fatalf("refresh after 31 days = %d %v", r.StatusCode, b)
	}
	clk.Set(t0)
	if clk.Now() != t0 {
		t.Fatal("Set")
	}
}

func TestFirstMessageMustBeTheToken(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	tok := login(t, s, client(t))
	for _, first := range []string{`{"token":"` + tok + `"}`, `"` + tok + `"`, `[]`, `["VER"]`} {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/api/v1/ws/listener", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.WriteMessage(websocket.TextMessage, []byte(first))
		f, _ := wsFrames(t, c, 1)
		if string(f[0]) != `{"type":"session.expired"}` {
			t.Errorf("first message %.20s… got %s", first, f[0])
		}
		c.Close()
	}
	// Legacy framing of the same refusal.
	c := dialWS(t, s, "/ws", "bad")
	if f, _ := wsFrames(t, c, 1); string(f[0]) != `["XPR"]` {
		t.Errorf("legacy refusal %s", f[0])
	}
	// Origin is checked against the server's own host.
	h := http.Header{"Origin": {"https://evil.example"}}
	if _, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/ws", h); err == nil {
		t.Error("foreign Origin accepted")
	}
	h = http.Header{"Origin": {s.URL()}}
	c2, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/ws", h)
	if err != nil {
		t.Errorf("own Origin refused: %v", err)
	} else {
		c2.Close()
	}
}

func TestGrantsLimitBroadcastsAndAudioNotConfig(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	s.AddTalkgroup(1, 101, "Fire", "", "", "", "")
	s.AddTalkgroup(2, 301, "PD", "", "", "", "")
	s.GrantSystems("listener", 1)
	c := client(t)
	tok := login(t, s, c)
	ws := dialWS(t, s, "/api/v1/ws/listener", tok)
	f, _ := wsFrames(t, ws, 2)
	// The real server lists ungranted systems in the config too (seen on
	// 1.3.3, 1.2.0 and 1.1.2): grants hide calls, not names.
	if !strings.Contains(string(f[1]), `"PD"`) || !strings.Contains(string(f[1]), `"Fire"`) {
		t.Fatalf("config should list every system, granted or not: %s", f[1])
	}
	hidden := s.AddCall(CallSpec{SystemID: 2, TalkgroupID: 301})
	shown := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101})
	f, _ = wsFrames(t, ws, 1)
	if !strings.Contains(string(f[0]), `"id":`+itoa(shown)) {
		t.Fatalf("got %s, want call %d only", f[0], shown)
	}
	if r, _ := do(t, c, "GET", s.URL()+"/api/v1/calls/"+itoa(hidden)+"/audio", "", nil); r.StatusCode != 404 {
		t.Fatalf("audio outside the grants = %d, want 404", r.StatusCode)
	}
}

func TestTranscriptFrames(t *testing.T) {
	s := newServer(t, Options{PublicAccess: true, OnUnhandled: strict(t)})
	id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	v1 := dialWS(t, s, "/api/v1/ws/listener", "")
	legacy := dialWS(t, s, "/ws", "")
	wsFrames(t, v1, 2)
	wsFrames(t, legacy, 2)
	s.SetTranscript(id, "Engine 5 respond")
	if f, _ := wsFrames(t, v1, 1); !jsonEqual(t, f[0], []byte(`{"type":"call.transcript","callId":1,"text":"Engine 5 respond"}`)) {
		t.Errorf("v1 transcript %s", f[0])
	}
	if f, _ := wsFrames(t, legacy, 1); !jsonEqual(t, f[0], []byte(`["TRN",{"callId":1,"text":"Engine 5 respond"}]`)) {
		t.Errorf("legacy transcript %s", f[0])
	}
	r, b := do(t, client(t), "GET", s.URL()+"/api/v1/calls", "", nil)
	if r.StatusCode != 200 || !strings.Contains(string(b), `"transcript":"Engine 5 respond"`) {
		t.Errorf("history transcript %s", b)
	}
}

func TestStopStartKeepsStateAndAddress(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	c := client(t)
	login(t, s, c)
	for i := 0; i < 3; i++ {
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
	}
	url0 := s.URL()
	s.Stop()
	if _, err := http.Get(url0 + "/api/v1/health"); err == nil {
		t.Fatal("server answered while stopped")
	}
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1}) // a call while down is kept
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url0 {
		t.Fatalf("address changed: %s → %s", url0, s.URL())
	}
	// Sessions survive: the refresh cookie still works.
	c.CloseIdleConnections()
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 200 {
		t.Fatalf("refresh after restart = %d", r.StatusCode)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	_, b := do(t, c, "GET", s.URL()+"/api/v1/calls?sort=asc", "", nil)
	var h struct{ Total int }
	json.Unmarshal(b, &h)
	if h.Total != 4 || s.Calls() != 4 {
		t.Fatalf("after restarts: %d calls in history, %d stored", h.Total, s.Calls())
	}
	s.Close()
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// TestCloseEndsEverySocket: sockets still waiting for their first message
// (which http.Server no longer tracks) are closed too, not left to time out.
func TestCloseEndsEverySocket(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	pending, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	tok := login(t, s, client(t))
	live := dialWS(t, s, "/api/v1/ws/listener", tok)
	wsFrames(t, live, 2)
	s.CloseSockets()
	if err := readUntilError(live); isTimeout(err) {
		t.Fatalf("CloseSockets left a socket open: %v", err)
	}
	s.Close() // returns once every handler goroutine has ended
	if err := readUntilError(pending); isTimeout(err) {
		t.Fatalf("Close left a pending socket open: %v", err)
	}
}

// readUntilError drains frames already sent and returns the read error
// that ends the socket (a timeout if it stays open for 10 s).
func readUntilError(c *websocket.Conn) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRejectNextAndExpireSessions(t *testing.T) {
	s := newServer(t, Options{Generation: Gen120, OnUnhandled: strict(t)})
	tok := login(t, s, client(t))
	s.RejectNext(2, "max_clients")
	for i := 0; i < 2; i++ {
		ws := dialWS(t, s, "/ws", tok)
		if f, _ := wsFrames(t, ws, 1); !jsonEqual(t, f[0], []byte(`["MAX"]`)) {
			t.Fatalf("rejected legacy socket got %s", f[0])
		}
	}
	ws := dialWS(t, s, "/ws", tok)
	wsFrames(t, ws, 2)
	s.ExpireSessions()
	if f, _ := wsFrames(t, ws, 1); string(f[0]) != `["XPR"]` {
		t.Fatalf("expired socket got %s", f[0])
	}
	// Tokens issued before are dead; a refresh brings a working one.
	ws = dialWS(t, s, "/ws", tok)
	if f, _ := wsFrames(t, ws, 1); string(f[0]) != `["XPR"]` {
		t.Fatalf("old token after ExpireSessions got %s", f[0])
	}
	v1 := newServer(t, Options{OnUnhandled: strict(t)})
	v1.RejectNext(1, "max_clients")
	ws = dialWS(t, v1, "/api/v1/ws/listener", login(t, v1, client(t)))
	if f, _ := wsFrames(t, ws, 1); !jsonEqual(t, f[0], []byte(`{"type":"connection.rejected","reason":"max_clients"}`)) {
		t.Fatalf("rejected v1 socket got %s", f[0])
	}
}

func TestUnhandledRoutesAreLoud(t *testing.T) {
	var calls []string
	s := newServer(t, Options{OnUnhandled: func(m, p string) { calls = append(calls, m+" "+p) }})
	r, b := do(t, client(t), "GET", s.URL()+"/api/v1/calls/1/waveform", "", nil)
	if r.StatusCode != 404 || !strings.Contains(string(b), `"code":"not_found"`) {
		t.Fatalf("unhandled = %d %s", r.StatusCode, b)
	}
	do(t, client(t), "DELETE", s.URL()+"/api/v1/calls", "", nil)
	if s.Counters().Unhandled != 2 || len(calls) != 2 || calls[0] != "GET /api/v1/calls/1/waveform" {
		t.Fatalf("unhandled counted %d, hook %v", s.Counters().Unhandled, calls)
	}
}

func TestSynthWAVIsRealAudio(t *testing.T) {
	w := SynthWAV(1.5, 440, 16000)
	if string(w[:4]) != "RIFF" || string(w[8:12]) != "WAVE" || string(w[12:16]) != "fmt " || string(w[36:40]) != "data" {
		t.Fatalf("header % x", w[:44])
	}
	le := binary.LittleEndian
	if le.Uint32(w[4:]) != uint32(len(w)-8) || le.Uint16(w[20:]) != 1 || le.Uint16(w[22:]) != 1 ||
		le.Uint32(w[24:]) != 16000 || le.Uint32(w[28:]) != 32000 || le.Uint16(w[34:]) != 16 {
		t.Fatalf("fmt chunk % x", w[:44])
	}
	n := int(le.Uint32(w[40:])) / 2
	if n != 24000 || len(w) != 44+2*n {
		t.Fatalf("%d samples, %d bytes", n, len(w))
	}
	var peak float64
	var crossings int
	prev := int16(0)
	for i := 0; i < n; i++ {
		v := int16(le.Uint16(w[44+2*i:]))
		peak = math.Max(peak, math.Abs(float64(v)))
		if (prev < 0) != (v < 0) {
			crossings++
		}
		prev = v
	}
	// Audible, not clipped, and roughly the tone asked for (±20 %).
	if peak < 3000 || peak >= 32767 {
		t.Fatalf("peak %v", peak)
	}
	if hz := float64(crossings) / 2 / 1.5; hz < 350 || hz > 530 {
		t.Fatalf("about %.0f Hz, want 440", hz)
	}
}

func BenchmarkAudioFetch(b *testing.B) {
	s := NewServer(Options{PublicAccess: true})
	defer s.Close()
	id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: SynthWAV(3, 440, 16000)})
	u := s.URL() + "/api/v1/calls/" + itoa(id) + "/audio"
	c := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := c.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		r.Body.Close()
	}
}

func BenchmarkBroadcastToListener(b *testing.B) {
	s := NewServer(Options{PublicAccess: true})
	defer s.Close()
	s.AddTalkgroup(1, 1, "TG", "", "", "", "")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/api/v1/ws/listener", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	for i := 0; i < 3; i++ { // welcome, config, count
		ws.ReadMessage()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1})
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSynthRadioWAV(t *testing.T) {
	w := SynthRadioWAV(2, 140, 16000, 7)
	le := binary.LittleEndian
	if string(w[:4]) != "RIFF" || string(w[8:16]) != "WAVEfmt " || le.Uint32(w[40:]) != 64000 || len(w) != 64044 {
		t.Fatalf("header % x, %d bytes", w[:44], len(w))
	}
	if !bytes.Equal(w, SynthRadioWAV(2, 140, 16000, 7)) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(w, SynthRadioWAV(2, 140, 16000, 8)) {
		t.Fatal("the seed changes nothing")
	}
	// Speech-like: loud syllables and quiet gaps, never clipped.
	var loud, quiet int
	for k := 44; k+3200 <= len(w); k += 3200 { // 100 ms windows
		var sum float64
		for i := k; i < k+3200; i += 2 {
			v := float64(int16(le.Uint16(w[i:])))
			if math.Abs(v) >= 32767 {
				t.Fatal("clipped")
			}
			sum += v * v
		}
		switch rms := math.Sqrt(sum / 1600); {
		case rms > 1500:
			loud++
		case rms < 800:
			quiet++
		}
	}
	if loud == 0 || quiet == 0 {
		t.Fatalf("%d loud and %d quiet windows", loud, quiet)
	}
}

func TestCallUpload(t *testing.T) {
	s := newServer(t, Options{PublicAccess: true, OnUnhandled: strict(t)})
	ws := dialWS(t, s, "/ws", "")
	wsFrames(t, ws, 2)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, kv := range [][2]string{{"key", "test-api-key"}, {"audioName", "call.mp3"}, {"dateTime", "2026-11-22T14:13:15Z"},
		{"system", "1"}, {"talkgroup", "101"}, {"systemLabel", "Harness County"}, {"talkgroupLabel", "Fire Dispatch"},
		{"frequency", "851012500"}} {
		mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("audio", "call.mp3")
	fw.Write([]byte("ID3 audio"))
	mw.Close()
	resp, err := http.Post(s.URL()+"/api/call-upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"id":1,"message":"Call imported successfully."}` {
		t.Fatalf("upload = %d %s", resp.StatusCode, b)
	}
	f, _ := wsFrames(t, ws, 3) // config (system), config (talkgroup), call
	if !strings.Contains(string(f[1]), "Fire Dispatch") || !strings.HasPrefix(string(f[2]), `["CAL"`) ||
		!strings.Contains(string(f[2]), `"dateTime":1795356795`) {
		t.Fatalf("frames after upload: %s", f)
	}
	if r, b := do(t, client(t), "GET", s.URL()+"/api/v1/calls/1/audio", "", nil); r.StatusCode != 200 || string(b) != "ID3 audio" {
		t.Fatalf("uploaded audio = %d %q", r.StatusCode, b)
	}
	resp, err = http.Post(s.URL()+"/api/call-upload", "multipart/form-data; boundary=x", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nwrong\r\n--x--\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("upload with a wrong key = %d", resp.StatusCode)
	}
}

func TestKeepCallsPrunesTheOldestFromHistoryAndAudio(t *testing.T) {
	s := newServer(t, Options{Clock: NewManualClock(t0), OnUnhandled: strict(t), KeepCalls: 3})
	s.AddTalkgroup(1, 101, "Fire", "Fire Dispatch", "Fire", "Dispatch", "red")
	for i := 0; i < 5; i++ {
		s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: t0.Add(time.Duration(i) * time.Minute), Audio: []byte("RIFF-call-" + itoa(int64(i+1)))})
	}
	if s.Calls() != 3 {
		t.Fatalf("Calls()=%d after 5 calls with KeepCalls 3, want 3", s.Calls())
	}
	c := client(t)
	login(t, s, c)
	r, b := do(t, c, "GET", s.URL()+"/api/v1/calls?sort=asc", "", nil)
	var h struct {
		Calls []struct{ ID int64 }
		Total int
	}
	if r.StatusCode != 200 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("history = %d %s", r.StatusCode, b)
	}
	if got, _ := json.Marshal(h.Calls); string(got) != `[{"ID":3},{"ID":4},{"ID":5}]` || h.Total != 3 {
		t.Fatalf("history after pruning = %s total %d, want calls 3, 4, 5", got, h.Total)
	}
	for id, want := range map[int64]int{1: 404, 2: 404, 3: 200, 5: 200} {
		r, b := do(t, c, "GET", s.URL()+"/api/v1/calls/"+itoa(id)+"/audio", "", nil)
		if r.StatusCode != want {
			t.Errorf("audio of call %d = %d, want %d", id, r.StatusCode, want)
		}
		if want == 200 && string(b) != "RIFF-call-"+itoa(id) {
			t.Errorf("audio of call %d = %q: ids shifted by the pruning", id, b)
		}
	}
	// New calls keep counting from the last id.
	if id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: t0.Add(time.Hour)}); id != 6 {
		t.Errorf("the call after pruning got id %d, want 6", id)
	}
}

// TestPasswordNeedChangeUntilTheUserChangesIt: a listener account an admin
// created is asked for a new password at every sign-in (as the captures
// show) until its user changes it.
func TestPasswordNeedChangeUntilTheUserChangesIt(t *testing.T) {
	s := newServer(t, Options{})
	for _, tc := range []struct {
		password string
		want     bool
	}{{"listener-pass", true}, {"listener-pass", true}, {"new-pass", false}} {
		if !tc.want {
			s.ChangePassword("listener", tc.password)
		}
		r, body := post(t, client(t), s.URL()+"/api/v1/auth/login", `{"username":"listener","password":"`+tc.password+`","rememberMe":true}`)
		if r.StatusCode != 200 || body["passwordNeedChange"] != tc.want {
			t.Fatalf("login = %d, passwordNeedChange %v, want %v", r.StatusCode, body["passwordNeedChange"], tc.want)
		}
	}
}

// TestRestoreCallsAndSetNextCallID: a restore from a backup takes the ids
// back (the next call reuses one), a reinstall starts them at 1, and a
// bumped sequence runs up to the largest id and then hands out the lowest
// unused ones, as SQLite does.
func TestRestoreCallsAndSetNextCallID(t *testing.T) {
	s := newServer(t, Options{PublicAccess: true})
	add := func() int64 { return s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: []byte("RIFFxxxxWAVE")}) }
	for range 5 {
		add()
	}
	s.RestoreCalls(2)
	if id, n := add(), s.Calls(); id != 3 || n != 3 {
		t.Fatalf("after a restore to call 2: new call %d, %d stored; want 3, 3", id, n)
	}
	s.RestoreCalls(0)
	if id, n := add(), s.Calls(); id != 1 || n != 1 {
		t.Fatalf("after a reinstall: new call %d, %d stored; want 1, 1", id, n)
	}
	s.SetNextCallID(math.MaxInt64 - 1)
	s.SetNextCallID(0) // backwards: ignored
	var got []int64
	for range 4 {
		got = append(got, add())
	}
	if want := []int64{math.MaxInt64 - 1, math.MaxInt64, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
	r, b := get(t, client(t), s.URL()+"/api/v1/calls/9223372036854775807/audio", nil)
	if r.StatusCode != 200 || string(b) != "RIFFxxxxWAVE" {
		t.Fatalf("audio of the largest id = %d", r.StatusCode)
	}
	r, b = get(t, client(t), s.URL()+"/api/v1/calls?date_from=0&sort=asc&limit=100", nil)
	var h struct{ Total int }
	json.Unmarshal(b, &h)
	if r.StatusCode != 200 || h.Total != 5 {
		t.Fatalf("history = %d, %d calls; want all 5", r.StatusCode, h.Total)
	}
}
