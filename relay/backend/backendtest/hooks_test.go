package backendtest

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestRefuseSignInsAnswersSessionExpiredWhateverTheToken(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	tok := login(t, s, client(t))
	s.RefuseSignIns(2)
	for i := 0; i < 2; i++ {
		ws := dialWS(t, s, "/api/v1/ws/listener", tok)
		if f, _ := wsFrames(t, ws, 1); !jsonEqual(t, f[0], []byte(`{"type":"session.expired"}`)) {
			t.Fatalf("refused sign-in %d got %s", i, f[0])
		}
		if err := readUntilError(ws); isTimeout(err) {
			t.Fatalf("refused socket %d stayed open", i)
		}
	}
	ws := dialWS(t, s, "/api/v1/ws/listener", tok)
	if f, _ := wsFrames(t, ws, 1); !strings.Contains(string(f[0]), "connection.welcome") {
		t.Fatalf("third sign-in got %s, want the welcome", f[0])
	}
	if c := s.Counters(); c.WSRefused != 2 || c.WSAuthorized != 1 {
		t.Fatalf("counters %+v: want 2 refused, 1 authorized", c)
	}
}

func TestSendRawDeliversTheBytesAsGiven(t *testing.T) {
	s := newServer(t, Options{Generation: Gen120, OnUnhandled: strict(t)})
	ws := dialWS(t, s, "/ws", login(t, s, client(t)))
	wsFrames(t, ws, 2) // welcome, config
	s.SendRaw([]byte(`{not json`))
	if f, _ := wsFrames(t, ws, 1); string(f[0]) != `{not json` {
		t.Fatalf("raw frame arrived as %q", f[0])
	}
}

func TestFreezeSocketsSilencesEverythingButKeepsTheConnection(t *testing.T) {
	s := newServer(t, Options{OnUnhandled: strict(t)})
	ws := dialWS(t, s, "/api/v1/ws/listener", login(t, s, client(t)))
	wsFrames(t, ws, 2)
	pongs := make(chan struct{}, 8)
	ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	frames := make(chan []byte, 8)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			frames <- b
		}
	}()
	ping := func() {
		if err := ws.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	ping()
	select {
	case <-pongs:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("no pong to a ping before the freeze")
	}
	s.FreezeSockets()
	ping()
	for deadline := time.Now().Add(10 * time.Second); s.Counters().WSPings < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the server never saw the second ping")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.AddCall(CallSpec{SystemID: 1, TalkgroupID: 1, Audio: []byte("x")})
	// Absence can only be watched for a while. (A listener.count queued
	// before the freeze may still come in.)
	quiet := time.After(300 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case b := <-frames:
			if !strings.Contains(string(b), "listener.count") {
				t.Fatalf("a frozen socket delivered %s", b)
			}
		case <-pongs:
			t.Fatal("a frozen socket answered a ping")
		case err := <-readErr:
			t.Fatalf("a frozen socket ended (%v); want it open and silent", err)
		case <-quiet:
			waiting = false
		}
	}
	ws.Close()
	<-readErr
}

func TestRefreshIsRateLimitedWithLogin(t *testing.T) {
	clk := NewManualClock(t0)
	s := newServer(t, Options{Clock: clk, OnUnhandled: strict(t)})
	c := client(t)
	login(t, s, c) // the jar holds a good refresh token
	for i := 0; i < 3; i++ {
		post(t, client(t), s.URL()+"/api/v1/auth/login", `{"username":"listener","password":"x"}`)
	}
	r, b := post(t, c, s.URL()+"/api/v1/auth/refresh", "")
	if r.StatusCode != 429 || b["error"].(map[string]any)["code"] != "rate_limited" {
		t.Fatalf("refresh from a locked-out address = %d %v, want 429 rate_limited", r.StatusCode, b)
	}
	clk.Advance(10*time.Minute + time.Second)
	if r, _ := post(t, c, s.URL()+"/api/v1/auth/refresh", ""); r.StatusCode != 200 {
		t.Fatalf("refresh after the lockout = %d, want 200", r.StatusCode)
	}
	if got := s.Counters(); got.RateLimited != 1 || got.Refreshes != 1 || got.RefreshFailures != 0 {
		t.Fatalf("counters %+v", got)
	}
}
