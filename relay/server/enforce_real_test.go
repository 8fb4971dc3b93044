package server

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/tokens"
)

// Live enforcement end to end, through the real token registry: for each
// kind of long-lived connection (a live WebSocket, an audio download, a
// web-player session) and each way a token dies (revoked, rotated out once
// its grace ends, expired), the connection works until that moment and is
// closed after it. Time is a fake clock shared by the registry and the
// server, so expiry is driven, not waited for; how fast the close follows is
// BenchmarkRevokeToClose's business.

const enforceAudioSize = 1 << 20

// tokenDeath is one way for a token to stop working.
type tokenDeath struct {
	name string
	ttl  time.Duration // the token's lifetime (0: none)
	// approach brings the token to the edge of death without killing it.
	approach func(t *testing.T, r *realRig, info tokens.Info)
	// kill is the moment it dies.
	kill func(t *testing.T, r *realRig, info tokens.Info)
}

var tokenDeaths = []tokenDeath{
	{
		name:     "revoked",
		approach: func(*testing.T, *realRig, tokens.Info) {},
		kill: func(t *testing.T, r *realRig, info tokens.Info) {
			if err := r.m.Revoke(context.Background(), info.ID); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		name: "rotated out after its grace",
		approach: func(t *testing.T, r *realRig, info tokens.Info) {
			if _, _, err := r.m.Rotate(context.Background(), info.ID, 10*time.Minute); err != nil {
				t.Fatal(err)
			}
			r.clock.Advance(10*time.Minute - time.Second)
		},
		kill: func(t *testing.T, r *realRig, info tokens.Info) { r.clock.Advance(time.Second) },
	},
	{
		name: "expired",
		ttl:  time.Hour,
		approach: func(t *testing.T, r *realRig, info tokens.Info) {
			r.clock.Advance(time.Hour - time.Second)
		},
		kill: func(t *testing.T, r *realRig, info tokens.Info) { r.clock.Advance(time.Second) },
	},
}

// liveConnKind is one kind of long-lived connection.
type liveConnKind struct {
	name string
	// open opens the connection with token and returns checks that it is
	// still open and that it was closed for its token's death.
	open func(t *testing.T, r *realRig, token string) (stillOpen, closed func())
}

var liveConnKinds = []liveConnKind{
	{name: "live WebSocket", open: openTokenWebSocket},
	{name: "audio download", open: openStalledAudio},
	{name: "web-player session", open: openWebSession},
	{name: "continuous stream", open: openStalledStream},
}

func TestEnforce_RealRegistryClosesEveryConnectionKindWhenItsTokenDies(t *testing.T) {
	for _, kind := range liveConnKinds {
		for _, death := range tokenDeaths {
			t.Run(kind.name+" when the token is "+death.name, func(t *testing.T) {
				r := newRealRig(t, Options{QueueLen: 64})
				tok, info := r.create(t, "consumer", death.ttl)
				stillOpen, closed := kind.open(t, r, tok)

				death.approach(t, r, info)
				// Sweep now, as the enforcer does on a change or a timer:
				// up to this moment the connection must survive it.
				r.s.sweepLive()
				stillOpen()

				death.kill(t, r, info)
				closed()
				if r.s.liveCount() != 0 {
					t.Errorf("%d connections still registered after the token died", r.s.liveCount())
				}
			})
		}
	}
}

// openTokenWebSocket opens /v1/live with ?token=.
func openTokenWebSocket(t *testing.T, r *realRig, token string) (func(), func()) {
	c, err := dialWith(t, r.ts.URL, url.QueryEscape(token), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, c) // status: the connection is registered
	next := int64(100)
	return func() { expectCall(t, r, c, &next) }, func() { waitClosedByRevocation(t, c) }
}

// expectCall publishes a call and reads it from c.
func expectCall(t *testing.T, r *realRig, c *websocket.Conn, next *int64) {
	t.Helper()
	*next++
	r.src.addCall(t, *next, nil)
	for range 10 { // earlier calls (the audio's) may come first
		m := readEvent(t, c)
		if call, _ := m["call"].(map[string]any); m["type"] == "call.new" && call["id"] == float64(*next) {
			return
		}
	}
	t.Fatalf("call %d never reached the connection of a still-valid token", *next)
}

// openStalledAudio starts a 1 MiB download and stops reading after 4 KiB,
// like a paused player: the relay's write blocks on the full socket.
func openStalledAudio(t *testing.T, r *realRig, token string) (func(), func()) {
	return openStalledAudioWith(t, r, "/v1/calls/1/audio?token="+url.QueryEscape(token), nil)
}

func openStalledAudioWith(t *testing.T, r *realRig, path string, hdr http.Header) (func(), func()) {
	t.Helper()
	r.src.addCall(t, 1, wavFile(enforceAudioSize))
	resp := rawGet(t, addrOf(r.ts), path, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("audio = %d, want 200", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	stillOpen := func() {
		t.Helper()
		if r.s.liveCount() != 1 {
			t.Fatalf("the download is no longer registered while its token is valid")
		}
	}
	closed := func() {
		t.Helper()
		waitUntil(t, "the audio download to end", func() bool { return r.s.liveCount() == 0 })
		n, _ := io.Copy(io.Discard, resp.Body)
		if n+4096 >= enforceAudioSize {
			t.Fatalf("the whole file arrived after the token died (%d bytes)", n+4096)
		}
	}
	return stillOpen, closed
}

// openWebSession logs in by link and opens the page's live feed and an
// audio download on the session cookie.
func openWebSession(t *testing.T, r *realRig, token string) (func(), func()) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(r.ts.URL + "/login?token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(r.ts.URL)
	cookies := jar.Cookies(u)
	if resp.StatusCode != 200 || len(cookies) != 1 {
		t.Fatalf("login: %d with %d cookies", resp.StatusCode, len(cookies))
	}
	cookie := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}
	c, err := dialWith(t, r.ts.URL, "", http.Header{"Origin": {r.ts.URL}}, &websocket.Dialer{Jar: jar})
	if err != nil {
		t.Fatalf("live by cookie: %v", err)
	}
	readEvent(t, c)
	_, audioClosed := openStalledAudioWith(t, r, "/v1/calls/1/audio", cookie)
	byCookie := func() int {
		resp, err := client.Get(r.ts.URL + "/v1/calls")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	next := int64(100)
	stillOpen := func() {
		t.Helper()
		if r.s.liveCount() != 2 {
			t.Fatalf("%d connections registered, want the session's live feed and download", r.s.liveCount())
		}
		expectCall(t, r, c, &next)
		if code := byCookie(); code != 200 {
			t.Fatalf("request by cookie = %d while the token is valid, want 200", code)
		}
	}
	closed := func() {
		t.Helper()
		waitClosedByRevocation(t, c)
		audioClosed()
		if code := byCookie(); code != http.StatusUnauthorized {
			t.Fatalf("request by cookie after the token died = %d, want 401", code)
		}
		resp, err := client.Get(r.ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "login") && !strings.Contains(string(page), "sign") {
			t.Fatalf("/ after the token died is not the sign-in page")
		}
	}
	return stillOpen, closed
}

// A web-player session ends at its own expiry too, with its connections,
// even while its token lives on.
func TestEnforce_WebSessionExpiryClosesItsConnections(t *testing.T) {
	r := newRealRig(t, Options{})
	tok, _ := r.create(t, "browser", 0)
	stillOpen, closed := openWebSession(t, r, tok)
	r.clock.Advance(sessionTTL - time.Second)
	r.s.sweepLive()
	stillOpen()
	r.clock.Advance(time.Second)
	closed()
}

// The enforcer needs no polling: with the real registry its timer is set
// for the exact moment the first connected token dies (capped at
// maxEnforceWait, for clocks that jump), and not at all while no connected
// token can die on its own.
func TestEnforce_TimerIsSetForTheExactMomentATokenDies(t *testing.T) {
	r := newRealRig(t, Options{})
	tok, info := r.create(t, "forever", 0)
	openTokenWebSocket(t, r, tok)
	if next, ok := r.s.sweepLive(); ok {
		t.Fatalf("a timer for %v with only a never-expiring token connected: the enforcer polls", next)
	}

	if _, _, err := r.m.Rotate(context.Background(), info.ID, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	old, _ := r.m.Get(info.ID)
	next, ok := r.s.sweepLive()
	if !ok || old.RetiresAt == nil || !next.Equal(*old.RetiresAt) {
		t.Fatalf("timer = %v (%v), want the end of the grace %v", next, ok, old.RetiresAt)
	}

	r.clock.Advance(time.Second)
	r.s.sweepLive()
	long, _ := r.create(t, "a day", 24*time.Hour)
	openTokenWebSocket(t, r, long)
	next, ok = r.s.sweepLive()
	if want := r.clock.Now().Add(maxEnforceWait); !ok || !next.Equal(want) {
		t.Fatalf("timer = %v (%v), want it capped at %v", next, ok, want)
	}
}

// Connections whose token cannot die on its own do not wake the enforcer:
// a burst of audio downloads (every consumer fetching each call) costs no
// sweeps.
func TestEnforce_ConnectionsThatCannotExpireCostNoSweeps(t *testing.T) {
	r := newRealRig(t, Options{})
	tok, _ := r.create(t, "forever", 0)
	r.src.addCall(t, 1, wavFile(4096))
	fetch := func() {
		resp := get(t, r.ts, "/v1/calls/1/audio?token="+url.QueryEscape(tok), nil)
		if n, _ := io.Copy(io.Discard, resp.Body); resp.StatusCode != 200 || n != 4096 {
			t.Fatalf("audio = %d, %d bytes", resp.StatusCode, n)
		}
	}
	fetch()
	before := r.s.sweeps.Load()
	for range 50 {
		fetch()
	}
	// At most the sweep still due for the token's creation.
	if n := r.s.sweeps.Load() - before; n > 1 {
		t.Fatalf("50 downloads on a token that cannot expire cost %d sweeps", n)
	}
	// One that can expire does wake it (its deadline is now the earliest).
	short, _ := r.create(t, "short", time.Minute)
	waitUntil(t, "the sweep for the new token", func() bool { return r.s.sweeps.Load() > before })
	mark := r.s.sweeps.Load()
	resp := get(t, r.ts, "/v1/calls/1/audio?token="+url.QueryEscape(short), nil)
	io.Copy(io.Discard, resp.Body)
	waitUntil(t, "a sweep for a download that can expire", func() bool { return r.s.sweeps.Load() > mark })
}
