package backend

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

const (
	user = "listener"
	pass = "listener-pass"
)

func fake(t *testing.T, opts backendtest.Options) *backendtest.Server {
	t.Helper()
	s := backendtest.NewServer(opts)
	t.Cleanup(s.Close)
	// A user who has set their own password: the server no longer asks
	// for a new one (see TestPasswordChangeRequestIsToldOnce).
	s.ChangePassword(user, pass)
	s.AddSystem(1, "Harness County")
	s.AddTalkgroup(1, 101, "Fire Dispatch", "Fire Dispatch Main", "Fire", "Dispatch", "#ff0000")
	return s
}

// saved records what SaveRefreshToken was given.
type saved struct {
	mu     sync.Mutex
	tokens []string
}

func (s *saved) save(_ context.Context, tok string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, tok)
	return nil
}

func (s *saved) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) == 0 {
		return ""
	}
	return s.tokens[len(s.tokens)-1]
}

func signedIn(t *testing.T, srv *backendtest.Server, opts Options) (*Session, *saved) {
	t.Helper()
	sv := &saved{}
	opts.ServerURL, opts.Username = srv.URL(), user
	opts.SaveRefreshToken = sv.save
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := s.Login(context.Background(), user, pass)
	if err != nil || refresh == "" {
		t.Fatalf("Login: %q, %v", refresh, err)
	}
	return s, sv
}

func TestLoginAndWrongPassword(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	if v, public := s.ServerInfo(); v != "1.3.3" || public {
		t.Fatalf("ServerInfo = %q, %v", v, public)
	}
	bad, _ := New(Options{ServerURL: srv.URL(), Username: user})
	_, err := bad.Login(context.Background(), user, "wrong")
	if !IsSignInAgain(err) {
		t.Fatalf("wrong password = %v, want ErrSignInAgain", err)
	}
	if c := srv.Counters(); c.FailedLogins != 1 || c.Logins != 1 {
		t.Fatalf("counters %+v: want exactly one failed attempt", c)
	}
	bad.Login(context.Background(), user, "wrong")
	bad.Login(context.Background(), user, "wrong")
	if _, err := bad.Login(context.Background(), user, pass); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("after 3 failures = %v, want ErrRateLimited", err)
	}
}

func TestNotOpenScanner(t *testing.T) {
	if _, err := New(Options{ServerURL: "ftp://x"}); err == nil {
		t.Fatal("ftp URL accepted")
	}
	srv := fake(t, backendtest.Options{})
	s, _ := New(Options{ServerURL: srv.URL() + "/nothing-here"})
	if err := s.Probe(context.Background()); err == nil {
		t.Fatal("probe of a non-OpenScanner path succeeded")
	}
}

func addCall(srv *backendtest.Server) (int64, []byte) {
	audio := backendtest.SynthWAV(0.2, 440, 8000)
	return srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio, AudioName: "call.wav", Duration: 0.2}), audio
}

func fetch(t *testing.T, s *Session, id int64) ([]byte, error) {
	var buf bytes.Buffer
	_, err := s.FetchAudio(context.Background(), event.Call{ID: id}, &buf)
	return buf.Bytes(), err
}

func TestRefreshAheadOfExpiryAndPersisted(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	s, sv := signedIn(t, srv, Options{Now: clk.Now})
	id, audio := addCall(srv)
	if got, err := fetch(t, s, id); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("fetch: %v", err)
	}
	if srv.Counters().Refreshes != 0 {
		t.Fatal("refreshed a fresh token")
	}
	// 14.5 minutes into a 15-minute token: inside the refresh margin.
	clk.Advance(14*time.Minute + 30*time.Second)
	if _, err := fetch(t, s, id); err != nil {
		t.Fatal(err)
	}
	c := srv.Counters()
	if c.Refreshes != 1 || c.AudioByCookie != 2 || c.AudioByBearer != 0 {
		t.Fatalf("counters %+v: want one refresh ahead of expiry, audio by cookie only", c)
	}
	if sv.last() == "" || sv.last() != s.refreshToken() {
		t.Fatal("the rotated refresh token was not persisted")
	}
}

func TestSingleFlightRefresh(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	s, _ := signedIn(t, srv, Options{Now: clk.Now})
	id, _ := addCall(srv)
	clk.Advance(16 * time.Minute) // expired
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fetch(t, s, id); err != nil {
				t.Log(err)
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d fetches failed", failed.Load())
	}
	if c := srv.Counters(); c.Refreshes != 1 || c.RevokedFamilies != 0 {
		t.Fatalf("counters %+v: want exactly one refresh", c)
	}
}

// TestReplaySafety runs a live session with audio fetchers for 60 seconds
// of server time with 2-second access tokens: no refresh family may ever be
// revoked (no refresh token is ever replayed).
func TestReplaySafety(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk, AccessTTL: 2 * time.Second, ReplayGrace: 30 * time.Second})
	s, _ := signedIn(t, srv, Options{Now: clk.Now, BackfillEvery: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx, func(event.Event) {})
	id, _ := addCall(srv)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var fetchErrs atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := fetch(t, s, id); err != nil {
					fetchErrs.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 600; i++ { // 60 s of server time in 100 ms steps
		clk.Advance(100 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	c := srv.Counters()
	if c.RevokedFamilies != 0 {
		t.Fatalf("a refresh family was revoked: %+v", c)
	}
	if c.Refreshes < 20 {
		t.Fatalf("only %d refreshes in 60 s of 2 s tokens", c.Refreshes)
	}
	if fetchErrs.Load() != 0 {
		t.Fatalf("%d audio fetches failed", fetchErrs.Load())
	}
}

func TestLogoutWithOnlyARefreshToken(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	first, _ := signedIn(t, srv, Options{})
	refresh := first.refreshToken()
	s, err := New(Options{ServerURL: srv.URL(), Username: user, RefreshToken: refresh})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := srv.Counters()
	if c.Logouts != 1 || c.RevokedFamilies != 1 {
		t.Fatalf("counters %+v", c)
	}
	again, _ := New(Options{ServerURL: srv.URL(), Username: user, RefreshToken: refresh})
	if _, err := fetch(t, again, 1); !IsSignInAgain(err) {
		t.Fatalf("after logout: %v, want ErrSignInAgain", err)
	}
}

func TestAudioUnavailableAndBearerOnOldServers(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	srv.AddCall(backendtest.CallSpec{SystemID: 2, TalkgroupID: 5, Audio: []byte("x")})
	srv.GrantSystems(user, 1)
	s, _ := signedIn(t, srv, Options{})
	if _, err := fetch(t, s, 1); !errors.Is(err, ErrCallUnavailable) {
		t.Fatalf("ungranted call = %v, want ErrCallUnavailable", err)
	}
	old := fake(t, backendtest.Options{Generation: backendtest.Gen112})
	id, audio := addCall(old)
	s2, _ := signedIn(t, old, Options{})
	if got, err := fetch(t, s2, id); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("1.1 fetch: %v", err)
	}
	if c := old.Counters(); c.AudioByBearer != 1 || c.AudioByCookie != 0 {
		t.Fatalf("1.1 counters %+v: want Bearer", c)
	}
}

// collector gathers Run's events.
type collector struct {
	mu       sync.Mutex
	calls    []event.Call
	states   []event.Status
	trans    []event.Transcript
	catalogs []event.Catalog
	resets   []string // reasons of TypeReset events
	notify   chan struct{}
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (c *collector) emit(e event.Event) {
	c.mu.Lock()
	switch e.Type {
	case event.TypeCall:
		c.calls = append(c.calls, *e.Call)
	case event.TypeStatus:
		c.states = append(c.states, *e.Status)
	case event.TypeTranscript:
		c.trans = append(c.trans, *e.Transcript)
	case event.TypeCatalog:
		c.catalogs = append(c.catalogs, *e.Catalog)
	case event.TypeReset:
		c.resets = append(c.resets, e.Reason)
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *collector) waitFor(t *testing.T, what string, ok func(c *collector) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second) // a hang, not slowness
	for {
		c.mu.Lock()
		done := ok(c)
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-c.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("timed out waiting for %s (%d calls, states %v)", what, len(c.calls), c.states)
		}
	}
}

func (c *collector) state() string {
	if len(c.states) == 0 {
		return ""
	}
	return c.states[len(c.states)-1].State
}

func run(t *testing.T, s *Session) *collector {
	t.Helper()
	col := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, col.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	return col
}

// TestTwoHundredCallsThroughRestartsAndDrops restarts the server five
// times while it broadcasts 200 calls, dropping some broadcasts: the
// session emits all 200, in order, none twice, each with fetchable audio —
// on every server generation.
func TestTwoHundredCallsThroughRestartsAndDrops(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run([]string{"1.3", "1.2", "1.1"}[gen], func(t *testing.T) {
			srv := fake(t, backendtest.Options{Generation: gen})
			s, _ := signedIn(t, srv, Options{BackfillEvery: 300 * time.Millisecond})
			col := run(t, s)
			col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
			audio := map[int64][]byte{}
			for i := 1; i <= 200; i++ {
				if i%40 == 0 {
					if err := srv.Restart(); err != nil {
						t.Fatal(err)
					}
				}
				if i%25 == 0 {
					srv.DropBroadcasts(2)
				}
				id, a := addCall(srv)
				audio[id] = a
				time.Sleep(2 * time.Millisecond)
			}
			col.waitFor(t, "200 calls", func(c *collector) bool { return len(c.calls) >= 200 })
			col.mu.Lock()
			calls := append([]event.Call(nil), col.calls...)
			col.mu.Unlock()
			if len(calls) != 200 {
				t.Fatalf("%d calls emitted, want 200", len(calls))
			}
			before := srv.Counters().AudioRequests
			inline := 0
			for i, c := range calls {
				if c.ID != int64(i+1) {
					t.Fatalf("call %d has id %d: out of order, missing or repeated", i, c.ID)
				}
				if c.TalkgroupLabel != "Fire Dispatch" || c.SystemLabel != "Harness County" {
					t.Fatalf("call %d labels %q/%q", c.ID, c.SystemLabel, c.TalkgroupLabel)
				}
				if len(c.InlineAudio) > 0 {
					inline++
				}
				var buf bytes.Buffer
				if _, err := s.FetchAudio(context.Background(), c, &buf); err != nil || !bytes.Equal(buf.Bytes(), audio[c.ID]) {
					t.Fatalf("call %d audio: %v", c.ID, err)
				}
			}
			fetched := srv.Counters().AudioRequests - before
			switch gen {
			case backendtest.Gen112:
				// Live 1.1 calls carry their audio: used as is, never
				// fetched. Calls the server dropped came from history,
				// without audio, and are fetched (by Bearer).
				if inline == 0 || fetched != 200-inline {
					t.Fatalf("1.1: %d calls carried inline audio and %d were fetched; want the other %d fetched, and no inline one",
						inline, fetched, 200-inline)
				}
			default:
				if inline != 0 || fetched != 200 {
					t.Fatalf("%d calls carried inline audio and %d were fetched; want none inline, 200 fetched", inline, fetched)
				}
			}
			if c := srv.Counters(); c.Unhandled != 0 {
				t.Fatalf("the session called %d routes the server lacks", c.Unhandled)
			}
		})
	}
}

func TestServerDownAtStartThenAppears(t *testing.T) {
	srv := fake(t, backendtest.Options{PublicAccess: true})
	srv.Stop()
	s, err := New(Options{ServerURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	col := run(t, s)
	col.waitFor(t, "disconnected", func(c *collector) bool { return c.state() == event.StateDisconnected })
	if st := s.Status(); st.RetryAt.IsZero() || st.Reason == "" {
		t.Fatalf("status %+v: want a reason and a retry time", st)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	addCall(srv)
	col.waitFor(t, "a call", func(c *collector) bool { return len(c.calls) == 1 })
	// The server's listener.count reaches the status.
	col.waitFor(t, "the listener count", func(c *collector) bool {
		return len(c.states) > 0 && c.states[len(c.states)-1].Listeners >= 1
	})
}

func TestSessionExpiredRefreshesAndReconnects(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	col := run(t, s)
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })
	srv.ExpireSessions()
	col.waitFor(t, "reconnected", func(c *collector) bool {
		return len(c.states) >= 3 && c.state() == event.StateConnected
	})
	if srv.Counters().Refreshes < 1 {
		t.Fatal("no refresh after session.expired")
	}
	srv.SetTranscript(func() int64 { id, _ := addCall(srv); return id }(), "engine 5 respond")
	col.waitFor(t, "transcript", func(c *collector) bool { return len(c.trans) == 1 })
}

func TestRejectedConnectionBacksOffWithReason(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	srv.RejectNext(1, "max_clients")
	s, _ := signedIn(t, srv, Options{})
	col := run(t, s)
	col.waitFor(t, "rejected", func(c *collector) bool { return c.state() == event.StateRejected })
	st := s.Status()
	if !strings.Contains(st.Reason, "this account's own connection limit") || st.RetryAt.Sub(st.Since) < time.Minute {
		t.Fatalf("status %+v: want the reason in words (the server's limit or the account's) and a long back-off", st)
	}
}

// A server's own reason reaches the listener clipped and quoted: it is the
// server's text, shown in the window and the tray.
func TestRejectedReasonIsClippedAndQuoted(t *testing.T) {
	got := (&rejectedError{reason: "busy\n\x1b[31m" + strings.Repeat("x", 500)}).Error()
	if len(got) > 200 || !strings.Contains(got, `"busy\n\x1b[31m`) || !strings.HasSuffix(got, `…"`) {
		t.Fatalf("reason shown as %q", got)
	}
}

func TestRefusedRefreshStopsRun(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, err := New(Options{ServerURL: srv.URL(), Username: user, RefreshToken: "0000"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), func(event.Event) {})
	if !IsSignInAgain(err) || s.Status().State != event.StateSignedOut {
		t.Fatalf("Run = %v, status %v; want ErrSignInAgain and signed_out", err, s.Status())
	}
	if c := srv.Counters(); c.RefreshFailures != 1 {
		t.Fatalf("counters %+v: exactly one refusal, no loop", c)
	}
}

// TestAccountDisabledWhileListening: an admin disables the account while
// the live feed is open. The socket lives until the server's 5-minute
// account re-validation sends session.expired; the session's refresh is
// then refused, and it stops with "sign in again" instead of retrying.
func TestAccountDisabledWhileListening(t *testing.T) {
	clock := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clock})
	s, _ := signedIn(t, srv, Options{})
	col := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, col.emit) }()
	col.waitFor(t, "connected", func(c *collector) bool { return c.state() == event.StateConnected })

	srv.DisableUser(user, true)
	clock.Advance(5 * time.Minute)
	select {
	case err := <-done:
		if !IsSignInAgain(err) || s.Status().State != event.StateSignedOut {
			t.Fatalf("Run = %v, status %v; want ErrSignInAgain and signed_out", err, s.Status())
		}
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatalf("Run still going after the account was disabled; status %+v", s.Status())
	}
	if c := srv.Counters(); c.RefreshFailures != 1 || c.WSAuthorized != 1 || c.Logins != 1 {
		t.Fatalf("counters %+v: want one refused refresh, no reconnect, no new login", c)
	}
}

// The listener count was gone after a reconnect: a drop zeroed it, and the
// server need not say it again. It is kept until the server says another.
func TestListenerCountSurvivesAReconnect(t *testing.T) {
	s, err := New(Options{ServerURL: "https://scanner.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	s.setStatus(event.StateConnected, "", time.Time{})
	s.setListeners(3)
	s.setStatus(event.StateDisconnected, "live feed: EOF", time.Now().Add(time.Second))
	s.setStatus(event.StateConnected, "", time.Time{})
	if n := s.Status().Listeners; n != 3 {
		t.Fatalf("after a reconnect the status says %d listening, want the 3 last reported", n)
	}
}
