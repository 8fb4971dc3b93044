package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitClosedByRevocation reads until the connection ends and checks it was
// closed with the revocation code. The deadline only keeps a broken build
// from hanging; how fast revocation acts is BenchmarkRevokeToClose's job.
func waitClosedByRevocation(t testing.TB, c *websocket.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closeTokenRevoked {
			t.Fatalf("connection ended with %v, want close %d", err, closeTokenRevoked)
		}
		return
	}
}

func dialWith(t *testing.T, ts string, token string, hdr http.Header, dialer *websocket.Dialer) (*websocket.Conn, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ts, "http") + "/v1/live"
	if token != "" {
		url += "?token=" + token
	}
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	c, _, err := dialer.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestEnforce_RevokedTokenClosesLiveWebSocket(t *testing.T) {
	_, _, auth, ts := newTestServerOpts(t, Options{})
	c, err := dialWith(t, ts.URL, goodToken, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, c) // status: the connection is registered
	auth.revoke("tok1")
	waitClosedByRevocation(t, c)
	if _, err := dialWith(t, ts.URL, goodToken, nil, nil); err == nil {
		t.Fatal("a revoked token opened a new connection")
	}
}

// With an Authenticator that cannot tell when its tokens die (no
// Deadliner), a token that dies without any registry change is caught by
// the periodic sweep.
func TestEnforce_ExpiryWithoutChangeSignalIsCaughtByPolling(t *testing.T) {
	_, _, auth, ts := newTestServerOpts(t, Options{})
	c, err := dialWith(t, ts.URL, goodToken, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, c)
	auth.mu.Lock()
	auth.revoked["tok1"] = true // no Changed signal, as when exp passes
	auth.mu.Unlock()
	waitClosedByRevocation(t, c)
}

func TestEnforce_RevokedTokenStopsAudioDownload(t *testing.T) {
	const size = 16 << 20
	_, src, auth, ts := newTestServerOpts(t, Options{})
	src.addCall(t, 1, wavFile(size))
	// A small, fixed receive buffer (rawGet): loopback's autotuned one (up
	// to tcp_rmem's 32 MiB here) could take the whole file before the
	// revoke, and then there would be nothing left to stop.
	resp := rawGet(t, ts.Listener.Addr().String(), "/v1/calls/1/audio?token="+goodToken, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("audio = %d", resp.StatusCode)
	}
	// Read a little, then stall like a slow player while the token dies.
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	auth.revoke("tok1")
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n+4096 >= size {
		t.Fatalf("the whole file arrived after the token was revoked (%d bytes)", n+4096)
	}
}

func TestEnforce_RevokedTokenEndsWebSession(t *testing.T) {
	_, src, auth, ts := newTestServerOpts(t, Options{})
	src.addCall(t, 1, wavFile(64))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(ts.URL + "/login?token=" + goodToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.RawQuery != "" {
		t.Fatalf("login: status %d, landed on %s; want 200 on / without the token", resp.StatusCode, resp.Request.URL)
	}
	// The cookie authenticates the page's audio and live feed.
	origin := http.Header{"Origin": {ts.URL}}
	c, err := dialWith(t, ts.URL, "", origin, &websocket.Dialer{Jar: jar})
	if err != nil {
		t.Fatalf("live by cookie: %v", err)
	}
	readEvent(t, c)
	if resp, err := client.Get(ts.URL + "/v1/calls/1/audio"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("audio by cookie: %v %v", resp.StatusCode, err)
	}
	auth.revoke("tok1")
	waitClosedByRevocation(t, c)
	resp, err = client.Get(ts.URL + "/v1/calls/1/audio")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("audio by cookie after revocation = %d, want 401", resp.StatusCode)
	}
}

// TestEnforce_HundredConnectionsHalfRevoked checks that what a connection
// was authenticated as lives with the connection: 100 connections with
// different tokens, opened concurrently; revoking half closes exactly those.
func TestEnforce_HundredConnectionsHalfRevoked(t *testing.T) {
	_, src, auth, ts := newTestServerOpts(t, Options{QueueLen: 64})
	const n = 100
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		tok := fmt.Sprintf("token-%03d", i)
		auth.add(tok, Identity{TokenID: fmt.Sprintf("id-%03d", i), Scope: ScopeListen})
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/v1/live?token="+tok, nil)
			if err != nil {
				errs <- err
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := c.ReadMessage(); err != nil { // status
				errs <- err
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var rw sync.WaitGroup
	for i := 0; i < n; i += 2 {
		rw.Add(1)
		go func() { defer rw.Done(); auth.revoke(fmt.Sprintf("id-%03d", i)) }()
	}
	rw.Wait()
	src.addCall(t, 7, nil)
	var cw sync.WaitGroup
	for i, c := range conns {
		cw.Add(1)
		go func() {
			defer cw.Done()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := c.ReadMessage()
			var ce *websocket.CloseError
			revoked := i%2 == 0
			switch {
			case revoked && !(errors.As(err, &ce) && ce.Code == closeTokenRevoked):
				t.Errorf("connection %d (revoked): got %q, %v; want close %d", i, data, err, closeTokenRevoked)
			case !revoked && (err != nil || !strings.Contains(string(data), `"id":7`)):
				t.Errorf("connection %d (kept): got %q, %v; want call 7", i, data, err)
			}
		}()
	}
	cw.Wait()
}
