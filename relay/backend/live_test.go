package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// waits records the waits a session asks for, returning at once (or
// doing what then says), so back-off is tested without waiting.
type waits struct {
	mu   sync.Mutex
	all  []time.Duration
	then func(d time.Duration)
	more chan struct{}
}

func recordWaits(s *Session, then func(time.Duration)) *waits {
	w := &waits{then: then, more: make(chan struct{}, 1)}
	s.sleep = func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.mu.Lock()
		w.all = append(w.all, d)
		w.mu.Unlock()
		if w.then != nil {
			w.then(d)
		}
		select {
		case w.more <- struct{}{}:
		default:
		}
		return nil
	}
	return w
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.all...)
}

// until blocks until at least n waits were asked for (a hang guard only).
func (w *waits) until(t *testing.T, n int) []time.Duration {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := w.get(); len(got) >= n {
			return got
		}
		select {
		case <-w.more:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("only %d waits asked for, want %d", len(w.get()), n)
		}
	}
}

func TestBackoffIsExponentialCappedAtThirtySecondsAndJittered(t *testing.T) {
	for attempt := -3; attempt <= 100; attempt++ {
		ceil := min(backoffBase<<min(max(attempt, 0), 10), backoffCap)
		lo, hi := backoffAt(attempt, 0), backoffAt(attempt, 0.999999)
		if lo != ceil/2 || hi > ceil || hi < ceil*99/100 {
			t.Fatalf("backoffAt(%d, 0..1) spans [%v, %v], want [%v, %v]", attempt, lo, hi, ceil/2, ceil)
		}
		for range 50 {
			if d := backoff(attempt); d < ceil/2 || d > ceil || d > 30*time.Second {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v] and never above 30 s", attempt, d, ceil/2, ceil)
			}
		}
	}
	if backoffAt(0, 0.5) >= backoffAt(3, 0.5) || backoffAt(3, 0.5) >= backoffAt(5, 0.5) {
		t.Fatal("backoff does not grow with the attempts")
	}
	// Spread: clients that lost the server together come back apart.
	seen := map[time.Duration]bool{}
	var lo, hi time.Duration = time.Hour, 0
	for range 1000 {
		d := backoff(50)
		seen[d] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	if len(seen) < 900 || hi-lo < 12*time.Second {
		t.Fatalf("1000 capped waits: %d distinct, spanning %v..%v; want them spread over 15..30 s", len(seen), lo, hi)
	}
}

// TestSessionExpiredBeforeWelcomeBacksOffLikeAFailedAttempt: a server
// that refuses every sign-in on the socket (revoked or wrong-role token)
// with session.expired gets exponentially rarer attempts, each with at
// most one refresh, instead of ten refreshes and reconnects a second. A
// welcome later resets the back-off.
func TestSessionExpiredBeforeWelcomeBacksOffLikeAFailedAttempt(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	srv.RefuseSignIns(-1)
	var mu sync.Mutex
	var at []backendtest.Counters // the server's counters at each wait
	w := recordWaits(s, func(time.Duration) {
		c := srv.Counters()
		mu.Lock()
		at = append(at, c)
		mu.Unlock()
	})
	col := run(t, s)
	const attempts = 12
	got := w.until(t, attempts)
	var virtual time.Duration // the time these attempts would have taken
	for i, d := range got[:attempts] {
		ceil := min(backoffBase<<i, backoffCap)
		if d < ceil/2 || d > ceil {
			t.Fatalf("wait %d = %v, want within [%v, %v] (waits %v)", i, d, ceil/2, ceil, got)
		}
		virtual += d
	}
	mu.Lock()
	c := at[attempts-1]
	mu.Unlock()
	if c.WSRefused != attempts || c.WSAuthorized != 0 {
		t.Fatalf("counters at wait %d %+v: want every sign-in refused", attempts, c)
	}
	// Over the time the waits add up to (at least 105 s, 2.6 minutes on
	// average), one connection and at most one refresh per attempt: the
	// old loop made ten of each a second.
	if c.WSConnects != attempts || c.Refreshes > attempts || virtual < 100*time.Second {
		t.Fatalf("%d connects and %d refreshes in %v of waiting", c.WSConnects, c.Refreshes, virtual)
	}
	col.mu.Lock()
	said := false
	for _, st := range col.states {
		said = said || (st.State == event.StateDisconnected && strings.Contains(st.Reason, "refused the live feed's sign-in"))
	}
	col.mu.Unlock()
	if !said {
		t.Fatal("no status said the server refused the sign-in")
	}

	// Let sign-ins through: the session connects, and after a welcome a
	// session.expired waits only a first-attempt back-off.
	srv.RefuseSignIns(0)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	n := len(w.get())
	srv.ExpireSessions()
	after := w.until(t, n+1)[n]
	if after > backoffBase {
		t.Fatalf("wait after a welcomed session expired = %v, want at most %v (back-off reset)", after, backoffBase)
	}
	col.waitFor(t, "reconnected", func(c *collector) bool {
		return c.state() == event.StateConnected && srv.Counters().WSAuthorized == 2
	})
}

// TestAudio401RefreshesOnceAndRetriesOnce: the server's clock is past the
// access token's expiry while the session's is not, so the session sends
// the token and the audio route answers 401: one refresh, one retry.
func TestAudio401RefreshesOnceAndRetriesOnce(t *testing.T) {
	serverClock := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: serverClock})
	s, sv := signedIn(t, srv, Options{}) // the session's clock is real time
	id, audio := addCall(srv)
	serverClock.Advance(16 * time.Minute)
	got, err := fetch(t, s, id)
	if err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("fetch after the server expired the token: %v", err)
	}
	c := srv.Counters()
	if c.Refreshes != 1 || c.AudioRequests != 2 || c.AudioByCookie != 1 {
		t.Fatalf("counters %+v: want one refused request, one refresh, one retry served by cookie", c)
	}
	if sv.last() != s.refreshToken() {
		t.Fatal("the rotated refresh token was not persisted")
	}
}

// TestRateLimitedLoginInRunWaitsTheLockoutOut: a session that signs in
// with a remembered password from an address the server locked out makes
// one attempt, waits ten minutes (no retry loop), then signs in.
func TestRateLimitedLoginInRunWaitsTheLockoutOut(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	lockOut(t, srv)
	s, err := New(Options{ServerURL: srv.URL(), Username: user, Password: pass, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var during []backendtest.Counters
	w := recordWaits(s, func(d time.Duration) {
		during = append(during, srv.Counters())
		clk.Advance(d) // the wait, passing on the server's clock
	})
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	got := w.get()
	if len(got) != 1 || got[0] < 10*time.Minute {
		t.Fatalf("waits %v: want one wait of at least 10 minutes", got)
	}
	if c := during[0]; c.RateLimited != 1 || c.FailedLogins != 4 {
		t.Fatalf("counters at the wait %+v: want one refused attempt (after the 3 that locked it)", c)
	}
	if c := srv.Counters(); c.Logins != 1 || c.RateLimited != 1 {
		t.Fatalf("counters %+v: want one login after the wait", c)
	}
	assertWaitedStatus(t, col)
}

// TestRateLimitedRefreshInRunWaitsTheLockoutOut: the same for a session
// living on its refresh token, which the server puts behind the same
// per-address lockout as login.
func TestRateLimitedRefreshInRunWaitsTheLockoutOut(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	s, _ := signedIn(t, srv, Options{Now: clk.Now})
	clk.Advance(16 * time.Minute) // the access token is stale: Run must refresh
	lockOut(t, srv)
	var during []backendtest.Counters
	w := recordWaits(s, func(d time.Duration) {
		during = append(during, srv.Counters())
		clk.Advance(d)
	})
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	got := w.get()
	if len(got) != 1 || got[0] < 10*time.Minute {
		t.Fatalf("waits %v: want one wait of at least 10 minutes", got)
	}
	if c := during[0]; c.RateLimited != 1 || c.Refreshes != 0 {
		t.Fatalf("counters at the wait %+v: want one refused refresh", c)
	}
	if c := srv.Counters(); c.Refreshes != 1 || c.RateLimited != 1 || c.RevokedFamilies != 0 {
		t.Fatalf("counters %+v: want one refresh after the wait", c)
	}
	assertWaitedStatus(t, col)
}

// lockOut makes three failed sign-ins from the loopback address.
func lockOut(t *testing.T, srv *backendtest.Server) {
	t.Helper()
	other, _ := New(Options{ServerURL: srv.URL()})
	for range 3 {
		if _, err := other.Login(context.Background(), user, "wrong"); !IsSignInAgain(err) {
			t.Fatalf("wrong password: %v", err)
		}
	}
}

func assertWaitedStatus(t *testing.T, col *collector) {
	t.Helper()
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, st := range col.states {
		if st.State == event.StateDisconnected && strings.Contains(st.Reason, "10 minutes") && st.RetryAt.Sub(st.Since) >= 9*time.Minute {
			return
		}
	}
	t.Fatalf("no status said it waits out the lockout: %+v", col.states)
}

// TestMalformedAndOversizedFramesAreSkipped: garbage, a frame larger than
// the frame cap and a binary frame mid-stream are skipped on the same
// connection, and the calls after them arrive.
func TestMalformedAndOversizedFramesAreSkipped(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	var logs logBuffer
	s, _ := signedIn(t, srv, Options{Logger: debugLogger(&logs)})
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	addCall(srv)
	col.waitFor(t, "call 1", func(c *collector) bool { return len(c.calls) == 1 })

	srv.SendRaw([]byte(`{"type":"call.new","call":`))
	srv.SendRaw([]byte(`not json at all`))
	srv.SendRaw([]byte(`["CAL",{"id":"x"}]`))
	// A call frame past the cap: if it were parsed, call 99 would appear.
	big := append([]byte(`{"type":"call.new","call":{"id":99,"pad":"`), bytes.Repeat([]byte("A"), MaxFrameSize+1<<20)...)
	srv.SendRaw(append(big, `"}}`...))
	id, _ := addCall(srv)
	col.waitFor(t, "the call after the bad frames", func(c *collector) bool { return len(c.calls) == 2 })
	col.mu.Lock()
	ids := []int64{col.calls[0].ID, col.calls[1].ID}
	col.mu.Unlock()
	if ids[1] != id {
		t.Fatalf("calls %v, want [1 %d]", ids, id)
	}
	if c := srv.Counters(); c.WSConnects != 1 {
		t.Fatalf("%d connections: a bad frame cost the connection", c.WSConnects)
	}
	for _, want := range []string{"skipping a malformed frame", "skipping an oversized frame"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "AAAA") {
		t.Error("the log holds frame content")
	}
}

// TestFrameAboveTheHardLimitCostsOnlyAReconnect: a frame beyond the hard
// read limit ends the connection; the session reconnects and loses no
// call. (Small limits stand in for the real ones.)
func TestFrameAboveTheHardLimitCostsOnlyAReconnect(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	s.frameCap, s.readLimit = 16<<10, 64<<10
	recordWaits(s, nil) // reconnect at once
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	srv.SendRaw(append([]byte(`"`), bytes.Repeat([]byte("B"), 32<<10)...)) // skipped
	addCall(srv)
	col.waitFor(t, "call 1", func(c *collector) bool { return len(c.calls) == 1 })
	if c := srv.Counters(); c.WSConnects != 1 {
		t.Fatalf("a frame between the cap and the hard limit cost the connection (%d connects)", c.WSConnects)
	}
	// Call 2's broadcast is lost before the oversized frame goes out (were
	// it dropped after, the session could already have reconnected and
	// backfilled, leaving call 2 to the next gap or periodic backfill):
	// only the reconnect's backfill can bring it.
	srv.DropBroadcasts(1)
	addCall(srv)
	srv.SendRaw(append([]byte(`"`), bytes.Repeat([]byte("C"), 128<<10)...)) // beyond
	col.waitFor(t, "call 2 after the reconnect", func(c *collector) bool { return len(c.calls) == 2 })
	if c := srv.Counters(); c.WSConnects != 2 {
		t.Fatalf("%d connects, want 2", c.WSConnects)
	}
}

// TestLongInlineCallFitsTheFrameCap: a 1.1 CAL carrying several
// megabytes of audio inline (base64) is well within the cap.
func TestLongInlineCallFitsTheFrameCap(t *testing.T) {
	srv := fake(t, backendtest.Options{Generation: backendtest.Gen112})
	s, _ := signedIn(t, srv, Options{})
	col := run(t, s)
	backfilled(t, col, srv)
	audio := bytes.Repeat([]byte("RIFF\x00\x01\x02WAVE"), 200_000) // 2.4 MB: 3.2 MB as base64
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio})
	col.waitFor(t, "the long call", func(c *collector) bool { return len(c.calls) == 1 })
	col.mu.Lock()
	got := col.calls[0].InlineAudio
	col.mu.Unlock()
	if !bytes.Equal(got, audio) {
		t.Fatalf("inline audio of %d bytes arrived as %d bytes (counters %+v)", len(audio), len(got), srv.Counters())
	}
	if c := srv.Counters(); c.AudioRequests != 0 || c.WSConnects != 1 {
		t.Fatalf("counters %+v: want no fetch and one connection", c)
	}
}

// TestSilentConnectionIsNoticedAndReplaced: when the link dies without a
// reset (nothing arrives, pings go unanswered), the read deadline ends
// the connection and the session reconnects; a healthy link outlives the
// deadline many times over because the session's pings bring pongs.
func TestSilentConnectionIsNoticedAndReplaced(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	s.pingEvery, s.pongWait = 25*time.Millisecond, 1500*time.Millisecond
	recordWaits(s, nil)
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	// Healthy and idle: pings are answered, the connection stays.
	start := time.Now()
	col.waitFor(t, "pings over twice the deadline", func(*collector) bool {
		return time.Since(start) > 2*s.pongWait && srv.Counters().WSPings >= 10
	})
	if c := srv.Counters(); c.WSConnects != 1 {
		t.Fatalf("an idle, healthy connection was replaced (%d connects)", c.WSConnects)
	}
	srv.FreezeSockets()
	col.waitFor(t, "a new connection", func(c *collector) bool {
		return srv.Counters().WSAuthorized == 2 && c.state() == event.StateConnected
	})
	addCall(srv)
	col.waitFor(t, "a call on the new connection", func(c *collector) bool { return len(c.calls) == 1 })
}

// TestReaderStopsWhenTheSessionEndsWithAFullQueue: a reader blocked on
// handing a frame over returns once its context ends.
func TestReaderStopsWhenTheSessionEndsWithAFullQueue(t *testing.T) {
	srv := fake(t, backendtest.Options{PublicAccess: true})
	s, err := New(Options{ServerURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := s.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Frame) // nobody reads: the first frame blocks
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.readFrames(ctx, conn, out, make(chan error, 1))
	}()
	for srv.Counters().WSAuthorized == 0 {
		time.Sleep(time.Millisecond)
	}
	b, _ := json.Marshal(map[string]any{"type": "listener.count", "count": 3})
	srv.SendRaw(b)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("readFrames still blocked after its context ended")
	}
}

// flakyKeyring fails its first n writes (n < 0: all), then works.
type flakyKeyring struct {
	mu     sync.Mutex
	fail   int
	tries  []string
	stored string
}

func (k *flakyKeyring) save(_ context.Context, tok string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tries = append(k.tries, tok)
	if k.fail != 0 {
		k.fail--
		return errors.New("the Secret Service did not answer within 3s")
	}
	k.stored = tok
	return nil
}

func (k *flakyKeyring) heal() { k.mu.Lock(); k.fail = 0; k.mu.Unlock() }

func (k *flakyKeyring) state() ([]string, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.tries...), k.stored
}

func TestRotatedRefreshTokenIsWrittenAgainWhenTheKeyringRefuses(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	s, _ := signedIn(t, srv, Options{Now: clk.Now})
	k := &flakyKeyring{fail: 2}
	s.opts.SaveRefreshToken = k.save
	w := recordWaits(s, nil)
	id, _ := addCall(srv)
	clk.Advance(16 * time.Minute)
	if _, err := fetch(t, s, id); err != nil {
		t.Fatal(err)
	}
	tries, stored := k.state()
	next := s.refreshToken()
	if len(tries) != 3 || stored != next || tries[0] != next || tries[2] != next {
		t.Fatalf("keyring writes %d, stored the current token: %v; want 3 writes of it", len(tries), stored == next)
	}
	if got := w.get(); len(got) != 2 || got[0] <= 0 || got[1] < got[0] {
		t.Fatalf("pauses between writes %v, want two growing pauses", got)
	}
	if p := s.Status().Problem; p != "" {
		t.Fatalf("Problem = %q after the write succeeded", p)
	}
}

// TestUnkeptRefreshTokenShowsInStatusAndIsKeptOnceTheKeyringWorks: the
// keyring refuses every attempt, so the session says so in Status (and in
// a status event) without a secret; it keeps working, and once the
// keyring answers again the token is stored and the problem goes.
func TestUnkeptRefreshTokenShowsInStatusAndIsKeptOnceTheKeyringWorks(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	var logs logBuffer
	s, _ := signedIn(t, srv, Options{Now: clk.Now, Logger: debugLogger(&logs)})
	k := &flakyKeyring{fail: -1}
	s.opts.SaveRefreshToken = k.save
	s.saveRetry = []time.Duration{0, 0}
	s.saveEvery = 0 // the next keepFresh tick writes again
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	clk.Advance(16 * time.Minute) // keepFresh refreshes within a second
	col.waitFor(t, "a status with the problem", func(c *collector) bool {
		return len(c.states) > 0 && c.states[len(c.states)-1].Problem != ""
	})
	tries, stored := k.state()
	if len(tries) < 3 || stored != "" {
		t.Fatalf("%d keyring writes, stored %v; want at least 3 refused", len(tries), stored != "")
	}
	st := s.Status()
	if !strings.Contains(st.Problem, "keyring") || !strings.Contains(st.Problem, "sign in again") {
		t.Fatalf("Problem = %q: want it to name the keyring and the consequence", st.Problem)
	}
	next := s.refreshToken()
	s.mu.Lock() // keepFresh may be refreshing it right now
	access := s.access
	s.mu.Unlock()
	for _, secret := range []string{next, access} {
		if strings.Contains(st.Problem, secret) || strings.Contains(logs.String(), secret) {
			t.Fatal("a token appears in the status or the log")
		}
	}
	// Still working: a call arrives.
	addCall(srv)
	col.waitFor(t, "a call", func(c *collector) bool { return len(c.calls) == 1 })

	k.heal()
	col.waitFor(t, "the problem gone", func(c *collector) bool {
		return len(c.states) > 0 && c.states[len(c.states)-1].Problem == ""
	})
	if _, stored := k.state(); stored != s.refreshToken() {
		t.Fatal("the keyring does not hold the current refresh token")
	}
	if c := srv.Counters(); c.RevokedFamilies != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func debugLogger(w *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestSkippedOversizedCallComesFromHistory: a 1.1 CAL too big for the
// frame cap (its inline audio) is skipped, and the next call's id gap
// brings it back from history, in order, its audio fetched by URL.
func TestSkippedOversizedCallComesFromHistory(t *testing.T) {
	srv := fake(t, backendtest.Options{Generation: backendtest.Gen112})
	s, _ := signedIn(t, srv, Options{})
	s.frameCap = 16 << 10
	col := run(t, s)
	backfilled(t, col, srv)
	bigAudio := backendtest.SynthWAV(2, 440, 8000) // 32 KB: 43 KB as base64
	big := srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: bigAudio})
	next, _ := addCall(srv)
	col.waitFor(t, "both calls", func(c *collector) bool { return len(c.calls) == 2 })
	col.mu.Lock()
	calls := append([]event.Call(nil), col.calls...)
	col.mu.Unlock()
	if calls[0].ID != big || calls[1].ID != next || len(calls[0].InlineAudio) != 0 || len(calls[1].InlineAudio) == 0 {
		t.Fatalf("calls %d (inline %d B), %d (inline %d B): want %d from history, then %d live",
			calls[0].ID, len(calls[0].InlineAudio), calls[1].ID, len(calls[1].InlineAudio), big, next)
	}
	var buf bytes.Buffer
	if _, err := s.FetchAudio(context.Background(), calls[0], &buf); err != nil || !bytes.Equal(buf.Bytes(), bigAudio) {
		t.Fatalf("audio of the skipped call: %v", err)
	}
	if c := srv.Counters(); c.WSConnects != 1 || c.AudioByBearer != 1 {
		t.Fatalf("counters %+v: want one connection and one Bearer fetch", c)
	}
}

func TestReadFrameKeepsFramesUpToTheCapAndThrowsTheRestAway(t *testing.T) {
	const limit = 10
	tests := []struct {
		name     string
		typ      int
		in       string
		wantData string // "" means thrown away
	}{
		{"under the cap", websocket.TextMessage, "abc", "abc"},
		{"at the cap", websocket.TextMessage, "0123456789", "0123456789"},
		{"one over", websocket.TextMessage, "0123456789X", ""},
		{"far over", websocket.TextMessage, strings.Repeat("x", 1000), ""},
		{"binary", websocket.BinaryMessage, "abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.in)
			data, size, err := readFrame(r, tt.typ, limit)
			if err != nil || string(data) != tt.wantData || size != int64(len(tt.in)) {
				t.Fatalf("readFrame = %q, %d, %v; want %q, %d, nil", data, size, err, tt.wantData, len(tt.in))
			}
			if r.Len() != 0 {
				t.Fatalf("%d bytes left unread: the next frame would start mid-frame", r.Len())
			}
		})
	}
}

// backfilled waits until the session is connected and has read history
// once (the backfill after the welcome), so calls added from now on
// arrive live.
func backfilled(t *testing.T, col *collector, srv *backendtest.Server) {
	t.Helper()
	col.waitFor(t, "connected and backfilled", func(c *collector) bool {
		return c.state() == event.StateConnected && srv.Counters().HistoryRequests >= 1
	})
}

// TestSessionsExpiredAsSoonAsWelcomedBackOff: a server that welcomes every
// connection and expires it at once (each with a refresh) would otherwise
// be reconnected to twice a second forever; from the second brief
// connection in a row the waits grow like failed attempts.
func TestSessionsExpiredAsSoonAsWelcomedBackOff(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	w := recordWaits(s, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // expire every session as soon as the server authorized it
		defer close(done)
		seen := 0
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if c := srv.Counters().WSAuthorized; c > seen {
				seen = c
				srv.ExpireSessions()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	run(t, s)
	const n = 10
	got := w.until(t, n)[:n]
	if got[0] > backoffBase {
		t.Fatalf("first wait after a welcomed session expired = %v, want at most %v (waits %v)", got[0], backoffBase, got)
	}
	var total time.Duration
	for _, d := range got {
		total += d
	}
	// Ten attempts at the first-attempt wait would take at most 5 s; growing
	// waits reach the 30 s cap (at least 15 s each) by the seventh.
	if last := got[n-1]; last < backoffCap/2 || total < 40*time.Second {
		t.Fatalf("waits %v (total %v): brief sessions are reconnected to without backing off", got, total)
	}
}
