package backendtest

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frames reads a socket on a goroutine of its own (a gorilla connection
// cannot be read again after a read deadline passes), so a test can wait
// for a frame or for a stretch of silence.
type frames struct {
	ch  chan []byte // closed when the socket ends
	err error       // why, once ch is closed
}

func readFrames(ws *websocket.Conn) *frames {
	f := &frames{ch: make(chan []byte, 64)}
	go func() {
		defer close(f.ch)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				f.err = err
				return
			}
			f.ch <- b
		}
	}()
	return f
}

// until waits for a frame containing want and fails if the socket ends
// first (or after the hang guard).
func (f *frames) until(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b, ok := <-f.ch:
			if !ok {
				t.Fatalf("socket ended before %q: %v", want, f.err)
			}
			if strings.Contains(string(b), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 10 s", want)
		}
	}
}

// quietFor reports whether the socket stays open and delivers nothing but
// listener counts for d (the fake's re-validation poll is 100 ms, so
// several polls pass in d).
func (f *frames) quietFor(d time.Duration) bool {
	end := time.After(d)
	for {
		select {
		case b, ok := <-f.ch:
			if !ok || !(strings.Contains(string(b), "listener.count") || strings.HasPrefix(string(b), `["LSC"`)) {
				return false
			}
		case <-end:
			return true
		}
	}
}

// ended waits for the socket to end.
func (f *frames) ended(t *testing.T) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-f.ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the socket stayed open")
		}
	}
}

// TestDisabledAccount: login and refresh answer 401 at once, the access
// token stops working for audio, and the open socket is closed with a
// session-expired frame at its next 5-minute re-validation, not before.
func TestDisabledAccount(t *testing.T) {
	clock := NewManualClock(t0)
	s := newServer(t, Options{Clock: clock, OnUnhandled: strict(t)})
	id := s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, DateTime: t0, Audio: SynthWAV(0.2, 440, 8000), AudioName: "a.wav", AudioType: "audio/wav"})
	c := client(t)
	tok := login(t, s, c)
	ws := readFrames(dialWS(t, s, "/api/v1/ws/listener", tok))
	ws.until(t, "scanner.config")

	s.DisableUser("listener", true)
	if r, b := post(t, client(t), s.URL()+"/api/v1/auth/login", goodLogin); r.StatusCode != 401 {
		t.Fatalf("login of a disabled account = %d %v", r.StatusCode, b)
	}
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 401 {
		t.Fatalf("refresh of a disabled account = %d", r.StatusCode)
	}
	audio := s.URL() + "/api/v1/calls/" + itoa(id) + "/audio"
	if r, _ := get(t, client(t), audio, map[string]string{"Authorization": "Bearer " + tok}); r.StatusCode != 401 {
		t.Fatalf("audio on a disabled account's token = %d", r.StatusCode)
	}
	clock.Advance(4 * time.Minute)
	if !ws.quietFor(500 * time.Millisecond) {
		t.Fatal("the socket was closed before its 5-minute re-validation")
	}
	clock.Advance(time.Minute)
	ws.until(t, "session.expired")
	ws.ended(t)
	if got := s.Counters(); got.WSRechecked < 1 {
		t.Fatalf("counters %+v: no re-validation counted", got)
	}

	// Re-enabled, the account signs in again.
	s.DisableUser("listener", false)
	login(t, s, client(t))
}

// TestAccountValidSocketSurvivesRevalidation: re-validation of a good
// account closes nothing, and the access token's own expiry does not
// matter to an open socket.
func TestAccountValidSocketSurvivesRevalidation(t *testing.T) {
	clock := NewManualClock(t0)
	s := newServer(t, Options{Clock: clock, Generation: Gen120, OnUnhandled: strict(t)})
	ws := readFrames(dialWS(t, s, "/ws", login(t, s, client(t))))
	ws.until(t, `["CFG"`)
	clock.Advance(31 * time.Minute) // past the 15-minute access token, six re-validations
	if !ws.quietFor(500 * time.Millisecond) {
		t.Fatal("a valid account's socket was closed")
	}
	if got := s.Counters(); got.WSRechecked < 1 {
		t.Fatalf("counters %+v: no re-validation counted", got)
	}
}

// TestExpiredAccount: an account past its expiry is refused at refresh
// with "account expired" and its socket closed at re-validation.
func TestExpiredAccount(t *testing.T) {
	clock := NewManualClock(t0)
	s := newServer(t, Options{Clock: clock, Generation: Gen120, OnUnhandled: strict(t)})
	c := client(t)
	ws := readFrames(dialWS(t, s, "/ws", login(t, s, c)))
	ws.until(t, `["CFG"`)
	s.SetAccountExpiry("listener", t0.Add(time.Minute))
	clock.Advance(2 * time.Minute)
	if r, b := post(t, c, s.URL()+"/api/auth/refresh", ""); r.StatusCode != 401 || b["error"] != "account expired" {
		t.Fatalf("refresh of an expired account = %d %v", r.StatusCode, b)
	}
	clock.Advance(3 * time.Minute)
	ws.until(t, `["XPR"]`)
}

// TestMaxClientsAndUserConnectionLimit: one socket more than the server's
// maxClients, or than a user's own limit, gets connection.rejected and is
// closed; when a slot frees, the next one is welcomed.
func TestMaxClientsAndUserConnectionLimit(t *testing.T) {
	s := newServer(t, Options{MaxClients: 2, OnUnhandled: strict(t)})
	tok := login(t, s, client(t))
	first := dialWS(t, s, "/api/v1/ws/listener", tok)
	readFrames(first).until(t, "connection.welcome")
	readFrames(dialWS(t, s, "/api/v1/ws/listener", tok)).until(t, "connection.welcome")
	third := dialWS(t, s, "/api/v1/ws/listener", tok)
	f, _ := wsFrames(t, third, 1)
	if !jsonEqual(t, f[0], []byte(`{"type":"connection.rejected","reason":"max_clients"}`)) {
		t.Fatalf("one over maxClients got %s", f[0])
	}
	if err := readUntilError(third); err == nil {
		t.Fatal("the rejected socket stayed open")
	}
	first.Close()
	waitCounters(t, s, func(c Counters) bool { return c.WSRejected == 1 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		again := dialWS(t, s, "/api/v1/ws/listener", tok)
		f, _ := wsFrames(t, again, 1)
		if strings.Contains(string(f[0]), "connection.welcome") {
			break
		}
		// The server may not have seen the first socket go yet.
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a socket closed: %s", f[0])
		}
		time.Sleep(20 * time.Millisecond)
	}

	legacy := newServer(t, Options{Generation: Gen120, OnUnhandled: strict(t)})
	legacy.SetConnectionLimit("listener", 1)
	tok = login(t, legacy, client(t))
	readFrames(dialWS(t, legacy, "/ws", tok)).until(t, `["VER"`)
	over := dialWS(t, legacy, "/ws", tok)
	if f, _ := wsFrames(t, over, 1); string(f[0]) != `["MAX"]` {
		t.Fatalf("one over the user's limit got %s", f[0])
	}
	if got := legacy.Counters(); got.WSRejected != 1 || got.WSAuthorized != 1 {
		t.Fatalf("counters %+v", got)
	}
}

func waitCounters(t *testing.T, s *Server, ok func(Counters) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(s.Counters()) {
		if time.Now().After(deadline) {
			t.Fatalf("counters %+v", s.Counters())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
