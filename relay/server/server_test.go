package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
)

// fakeSource serves a fixed set of calls from a real hub and cache.
type fakeSource struct {
	hub   *hub.Hub
	cache *cache.Cache
	mu    sync.Mutex
	calls []event.Call // oldest first
	down  bool         // audio not cached → ErrUnavailable
}

func newFakeSource(t testing.TB) *fakeSource {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &fakeSource{hub: hub.New(nil), cache: c}
}

func (f *fakeSource) addCall(t testing.TB, id int64, audio []byte) event.Call {
	t.Helper()
	return f.publish(t, event.Call{ID: id, SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch"}, audio)
}

// publish caches a call's audio (if not nil) and announces the call.
func (f *fakeSource) publish(t testing.TB, c event.Call, audio []byte) event.Call {
	t.Helper()
	c.AudioURL = relay.AudioPath(c.ID)
	if audio != nil {
		if _, err := f.cache.Put(keyOf(c.ID), audio); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	f.hub.Publish(event.Event{Type: event.TypeCall, Call: &c})
	return c
}

func keyOf(id int64) string { return strconv.FormatInt(id, 10) }

func (f *fakeSource) Subscribe(n int) *hub.Subscriber { return f.hub.Subscribe(n) }

func (f *fakeSource) Calls(q relay.Query) []event.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Limit == 0 {
		q.Limit = 50
	}
	var out []event.Call
	for i := len(f.calls) - 1; i >= 0 && len(out) < q.Limit; i-- {
		c := f.calls[i]
		if (q.Before == 0 || c.ID < q.Before) && c.ID > q.After {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSource) Call(id int64) (event.Call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.ID == id {
			return c, true
		}
	}
	return event.Call{}, false
}

func (f *fakeSource) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	if e, ok := f.cache.Lookup(keyOf(id)); ok {
		return e, nil
	}
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, relay.ErrUnavailable
	}
	return nil, relay.ErrNotFound
}

func (f *fakeSource) Status() relay.Report {
	return relay.Report{Backend: event.Status{State: event.StateConnected, Server: "https://scanner.example.org"}}
}

// fakeAuth accepts the tokens in its map until they are revoked.
type fakeAuth struct {
	mu      sync.Mutex
	valid   map[string]Identity
	revoked map[string]bool // by token id
	changed chan struct{}
	touched []string
	clients []string // what Touch was told, in order
}

const goodToken = "good-listen-token"

func newFakeAuth() *fakeAuth {
	return &fakeAuth{
		valid:   map[string]Identity{goodToken: {TokenID: "tok1", Scope: "listen"}},
		revoked: map[string]bool{},
		changed: make(chan struct{}),
	}
}

func (a *fakeAuth) add(token string, id Identity) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.valid[token] = id
}

// revoke stops the token id and signals the change, like tokens.Manager.
func (a *fakeAuth) revoke(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked[id] = true
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *fakeAuth) Authenticate(token string) (Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.valid[token]; ok && !a.revoked[id.TokenID] {
		return id, nil
	}
	return Identity{}, errors.New("invalid stream token")
}

func (a *fakeAuth) Valid(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.revoked[id]
}

func (a *fakeAuth) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

func (a *fakeAuth) Touch(id, client string) {
	a.mu.Lock()
	a.touched = append(a.touched, id)
	a.clients = append(a.clients, client)
	a.mu.Unlock()
}

func newTestServer(t *testing.T) (*Server, *fakeSource, *httptest.Server) {
	t.Helper()
	s, src, _, ts := newTestServerOpts(t, Options{QueueLen: 8})
	return s, src, ts
}

// newTestServerOpts starts a server with opts plus a fake source and
// authenticator (unless opts has its own).
func newTestServerOpts(t *testing.T, opts Options) (*Server, *fakeSource, *fakeAuth, *httptest.Server) {
	t.Helper()
	src := newFakeSource(t)
	auth := newFakeAuth()
	opts.Source = src
	if opts.Auth == nil {
		opts.Auth = auth
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, src, auth, ts
}

// wavFile is a small but well-formed WAV header plus silence.
func wavFile(n int) []byte {
	b := make([]byte, n)
	copy(b, "RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data")
	return b
}

func get(t *testing.T, ts *httptest.Server, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e apiError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not JSON {\"error\":{…}}: %v", err)
	}
	return e.Error.Code
}

func TestServer_HealthNeedsNoToken(t *testing.T) {
	_, _, ts := newTestServer(t)
	if resp := get(t, ts, "/v1/health", nil); resp.StatusCode != 200 {
		t.Fatalf("health = %d, want 200", resp.StatusCode)
	}
}

func TestServer_EveryDataRouteNeedsAToken(t *testing.T) {
	_, src, ts := newTestServer(t)
	src.addCall(t, 1, wavFile(64))
	for _, path := range []string{"/v1/status", "/v1/calls", "/v1/calls/1", "/v1/calls/1/audio", "/v1/live"} {
		for name, hdr := range map[string]map[string]string{
			"no token":     nil,
			"bad bearer":   {"Authorization": "Bearer nope"},
			"basic auth":   {"Authorization": "Basic Zm9vOmJhcg=="},
			"bad query":    nil,
			"empty bearer": {"Authorization": "Bearer "},
		} {
			p := path
			if name == "bad query" {
				p += "?token=nope"
			}
			resp := get(t, ts, p, hdr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s = %d, want 401", path, name, resp.StatusCode)
			}
			if code := errorCode(t, resp); code != "unauthorized" {
				t.Errorf("%s with %s: error code %q", path, name, code)
			}
		}
	}
}

func TestServer_LiveWithoutTokenGets401BeforeAnyUpgrade(t *testing.T) {
	_, _, ts := newTestServer(t)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/v1/live"
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil {
		t.Fatal("WebSocket upgrade succeeded without a token")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without token: resp=%v err=%v, want 401", resp, err)
	}
	if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Error("401 response carries upgrade headers")
	}
}

func TestServer_HostMustBeLoopback(t *testing.T) {
	_, _, ts := newTestServer(t)
	bad := []string{"example.com", "localhost.com", "127.0.0.1.nip.io", "0.0.0.0", "0.0.0.0:7373", "evil.localhost.com:7373", "[::ffff:7f00:1]x", "10.0.0.1:7373"}
	for _, host := range bad {
		for _, path := range []string{"/v1/health", "/v1/calls?token=" + goodToken} {
			resp := get(t, ts, path, map[string]string{"Host": host})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("Host %q %s = %d, want 403", host, path, resp.StatusCode)
			}
		}
	}
	good := []string{"127.0.0.1:7373", "localhost:7373", "LOCALHOST", "[::1]:7373", "127.1.2.3"}
	for _, host := range good {
		if resp := get(t, ts, "/v1/health", map[string]string{"Host": host}); resp.StatusCode != 200 {
			t.Errorf("Host %q = %d, want 200", host, resp.StatusCode)
		}
	}
}

func TestServer_EmptyHostIsRefused(t *testing.T) {
	s, _, _ := newTestServer(t)
	req := httptest.NewRequest("GET", "/v1/health", nil)
	req.Host = ""
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("empty Host = %d, want 403", rec.Code)
	}
}

func TestServer_RepeatedTokenIsRefused(t *testing.T) {
	_, _, ts := newTestServer(t)
	resp := get(t, ts, "/v1/calls?token="+goodToken+"&token=other", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("duplicated token = %d, want 400", resp.StatusCode)
	}
	resp = get(t, ts, "/v1/calls?token="+goodToken, map[string]string{"Authorization": "Bearer " + goodToken})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("token in header and query = %d, want 400", resp.StatusCode)
	}
}

func TestServer_CallsAndCall(t *testing.T) {
	_, src, ts := newTestServer(t)
	for id := int64(1); id <= 5; id++ {
		src.addCall(t, id, nil)
	}
	auth := map[string]string{"Authorization": "Bearer " + goodToken}
	resp := get(t, ts, "/v1/calls?limit=2&before=5", auth)
	var body struct{ Calls []event.Call }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Calls) != 2 || body.Calls[0].ID != 4 || body.Calls[1].ID != 3 {
		t.Errorf("calls = %+v, want ids 4, 3", body.Calls)
	}
	for _, q := range []string{"limit=0", "limit=abc", "limit=100000", "before=-1", "after=x", "before=99999999999999999999"} {
		if resp := get(t, ts, "/v1/calls?"+q, auth); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/v1/calls?%s = %d, want 400", q, resp.StatusCode)
		}
	}
	resp = get(t, ts, "/v1/calls/3", auth)
	var one struct{ Call event.Call }
	if err := json.NewDecoder(resp.Body).Decode(&one); err != nil || one.Call.TalkgroupLabel != "Fire Dispatch" {
		t.Errorf("call 3 = %+v (%v)", one, err)
	}
	if resp := get(t, ts, "/v1/calls/99", auth); resp.StatusCode != 404 {
		t.Errorf("unknown call = %d, want 404", resp.StatusCode)
	}
	if resp := get(t, ts, "/v1/calls/abc", auth); resp.StatusCode != 400 {
		t.Errorf("bad id = %d, want 400", resp.StatusCode)
	}
	if resp := get(t, ts, "/v1/nope", auth); resp.StatusCode != 404 || errorCode(t, resp) != "not_found" {
		t.Errorf("unknown route = %d, want JSON 404", resp.StatusCode)
	}
}

func TestServer_AudioRangeETagAndType(t *testing.T) {
	_, src, ts := newTestServer(t)
	audio := wavFile(5000)
	src.addCall(t, 7, audio)
	auth := map[string]string{"Authorization": "Bearer " + goodToken}

	resp := get(t, ts, "/v1/calls/7/audio", auth)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(body) != len(audio) {
		t.Fatalf("full audio = %d, %d bytes; want 200, %d", resp.StatusCode, len(body), len(audio))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("Content-Type = %q, want audio/wav", ct)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Last-Modified") == "" {
		t.Errorf("missing ETag/Accept-Ranges/Last-Modified: %v", resp.Header)
	}

	auth["Range"] = "bytes=100-199"
	resp = get(t, ts, "/v1/calls/7/audio", auth)
	part, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || string(part) != string(audio[100:200]) {
		t.Errorf("range = %d, %d bytes; want 206 with bytes 100-199", resp.StatusCode, len(part))
	}
	if cr := resp.Header.Get("Content-Range"); cr != "bytes 100-199/5000" {
		t.Errorf("Content-Range = %q", cr)
	}
	auth["Range"] = "bytes=9000-"
	if resp := get(t, ts, "/v1/calls/7/audio", auth); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range = %d, want 416", resp.StatusCode)
	}
	delete(auth, "Range")
	auth["If-None-Match"] = etag
	if resp := get(t, ts, "/v1/calls/7/audio", auth); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", resp.StatusCode)
	}
	delete(auth, "If-None-Match")
	if resp := get(t, ts, "/v1/calls/latest/audio", auth); resp.StatusCode != 200 {
		t.Errorf("latest = %d, want 200", resp.StatusCode)
	}
	if resp := get(t, ts, "/v1/calls/8/audio", auth); resp.StatusCode != 404 {
		t.Errorf("unknown call audio = %d, want 404", resp.StatusCode)
	}
	src.mu.Lock()
	src.down = true
	src.mu.Unlock()
	resp = get(t, ts, "/v1/calls/8/audio", auth)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, resp) != "backend_unavailable" {
		t.Errorf("uncached audio with server down = %d, want 503", resp.StatusCode)
	}
}

func dialLive(t *testing.T, ts *httptest.Server, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/v1/live?token=" + goodToken + query
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func readEvent(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read live event: %v", err)
	}
	return m
}

func TestServer_LiveStreamsStatusThenCalls(t *testing.T) {
	_, src, ts := newTestServer(t)
	c, _, err := dialLive(t, ts, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := readEvent(t, c); m["type"] != "status" {
		t.Fatalf("first event = %v, want status", m)
	}
	src.addCall(t, 1, nil)
	m := readEvent(t, c)
	call, _ := m["call"].(map[string]any)
	if m["type"] != "call.new" || call["id"] != float64(1) || call["audioUrl"] != "/v1/calls/1/audio" || call["talkgroupLabel"] != "Fire Dispatch" {
		t.Fatalf("call event = %v", m)
	}
}

func TestServer_LiveResumesAfterACallID(t *testing.T) {
	_, src, ts := newTestServer(t)
	for id := int64(1); id <= 4; id++ {
		src.addCall(t, id, nil)
	}
	c, _, err := dialLive(t, ts, "&after=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, c) // status
	for _, want := range []float64{3, 4} {
		m := readEvent(t, c)
		if id := m["call"].(map[string]any)["id"]; id != want {
			t.Fatalf("replayed call %v, want %v", id, want)
		}
	}
}

// TestServer_LiveSendsTheResetAndTheNewNumbering: after a server reset,
// calls under ids the consumer had (replayed with ?after=) are sent again:
// they are new calls. Before, they were taken for repeats and withheld.
func TestServer_LiveSendsTheResetAndTheNewNumbering(t *testing.T) {
	_, src, ts := newTestServer(t)
	for id := int64(1); id <= 3; id++ {
		src.addCall(t, id, nil)
	}
	c, _, err := dialLive(t, ts, "&after=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 { // status, calls 2 and 3
		got = append(got, eventName(readEvent(t, c)))
	}
	src.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	src.addCall(t, 1, nil)
	src.addCall(t, 2, nil)
	for len(got) < 6 {
		got = append(got, eventName(readEvent(t, c)))
	}
	if s := strings.Join(got, " "); s != "status call.new:2 call.new:3 reset:server call.new:1 call.new:2" {
		t.Fatalf("consumer got %s", s)
	}
}

// eventName names a /v1/live event for comparisons: its type, with the
// call id or reset reason.
func eventName(m map[string]any) string {
	switch m["type"] {
	case event.TypeCall:
		return fmt.Sprintf("call.new:%v", m["call"].(map[string]any)["id"])
	case event.TypeReset:
		return fmt.Sprintf("reset:%v", m["reason"])
	}
	return fmt.Sprint(m["type"])
}

func TestServer_LiveRefusesForeignOrigins(t *testing.T) {
	_, _, ts := newTestServer(t)
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, origin := range []string{"http://127.0.0.1:1", "null", "http://localhost.evil.com", "https://" + host, "http://" + host + ".evil.com"} {
		_, resp, err := dialLive(t, ts, "", http.Header{"Origin": {origin}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: err=%v resp=%v, want 403", origin, err, resp)
		}
	}
	if _, _, err := dialLive(t, ts, "", http.Header{"Origin": {"http://" + host}}); err != nil {
		t.Errorf("own origin refused: %v", err)
	}
}

// TestServer_LiveConsumerThatStopsReadingIsCutOff: a consumer that stops
// reading while events pile up is cut off (its socket write times out) and
// does not hold the relay's resources; a consumer that only fell behind a
// burst is not (see relay's TestBurstOf1000LiveCallsKeepsEveryConsumer).
func TestServer_LiveConsumerThatStopsReadingIsCutOff(t *testing.T) {
	s, src, ts := newTestServer(t) // queue of 8
	c, _, err := dialLive(t, ts, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, c)
	// Flood far beyond the queue and the socket buffers, never reading.
	big := strings.Repeat("x", 64<<10)
	for id := int64(1); id <= 400; id++ {
		cl := event.Call{ID: id, TalkgroupName: big}
		src.mu.Lock()
		src.calls = append(src.calls, cl) // held, so a catch-up sends it too
		src.mu.Unlock()
		src.hub.Publish(event.Event{Type: event.TypeCall, Call: &cl})
	}
	deadline := time.Now().Add(liveWriteWait + 10*time.Second) // the write deadline, and a margin
	for s.Counters().LiveConsumers != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a consumer that stopped reading is still served after %v", liveWriteWait+10*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if isTimeout(err) {
				t.Fatal("the cut-off connection is still open")
			}
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
