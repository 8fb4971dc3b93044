package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"earshot/relay/secrets"
	"earshot/relay/tokens"
)

// fakeClock is a Clock tests move by hand; timers fire when Advance passes
// them, so expiry is driven without waiting.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	waiters map[*clockWaiter]struct{}
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), waiters: map[*clockWaiter]struct{}{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) At(t time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &clockWaiter{at: t, ch: make(chan time.Time, 1)}
	if !t.After(c.t) {
		w.ch <- c.t
		return w.ch, func() {}
	}
	c.waiters[w] = struct{}{}
	return w.ch, func() {
		c.mu.Lock()
		delete(c.waiters, w)
		c.mu.Unlock()
	}
}

// Advance moves the clock by d and fires every timer it passes.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	for w := range c.waiters {
		if !w.at.After(c.t) {
			w.ch <- c.t
			delete(c.waiters, w)
		}
	}
}

// realRig is the server with the real token registry (tokens.Manager on an
// in-memory keyring) and a fake clock shared by both.
type realRig struct {
	m     *tokens.Manager
	clock *fakeClock
	s     *Server
	src   *fakeSource
	ts    *httptest.Server
}

func newRealRig(t testing.TB, opts Options) *realRig {
	t.Helper()
	clock := newFakeClock()
	r := newRigWithClock(t, opts, clock, clock.Now)
	r.clock = clock
	return r
}

// newRigWithClock is newRealRig on any clock (realClock{} and time.Now for
// benchmarks of real latency); the rig's fake clock is then nil.
func newRigWithClock(t testing.TB, opts Options, clock Clock, now func() time.Time) *realRig {
	t.Helper()
	m, err := tokens.Open(context.Background(), filepath.Join(t.TempDir(), "tokens.json"), secrets.NewMemory(),
		tokens.Options{Now: now, ReloadEvery: -1, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	opts.Source = newFakeSource(t)
	opts.Auth = NewTokenAuth(m)
	opts.Admin = m
	opts.Clock = clock
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Small socket buffers on the server side, so a reader that stops
	// reading blocks the relay's writes after a few KiB rather than after
	// the kernel's megabytes.
	ts := httptest.NewUnstartedServer(s)
	ts.Listener = smallBufListener{ts.Listener}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &realRig{m: m, s: s, src: opts.Source.(*fakeSource), ts: ts}
}

func (r *realRig) create(t testing.TB, name string, ttl time.Duration) (string, tokens.Info) {
	t.Helper()
	tok, info, err := r.m.Create(context.Background(), name, tokens.ScopeListen, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok, info
}

// smallBufListener gives every accepted connection a small send buffer.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// smallBufDialer dials with a small receive buffer (set before connect, so
// the window stays small).
var smallBufDialer = &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = setRecvBuf(fd, 4<<10)
	})
	if err != nil {
		return err
	}
	return serr
}}

// rawGet sends one GET over a fresh connection with a small receive buffer
// and returns the response with its body unread. The caller reads or
// stalls; the connection closes at the end of the test.
func rawGet(t *testing.T, addr, path string, hdr http.Header) *http.Response {
	t.Helper()
	conn, err := smallBufDialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // against a hang only
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4<<10), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitUntil polls cond; the bound only keeps a broken build from hanging,
// it is not a timing target.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func addrOf(ts *httptest.Server) string { return ts.Listener.Addr().String() }
