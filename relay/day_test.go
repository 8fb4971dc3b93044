package relay_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// TestSimulatedDay's settings. The test command runs half an hour of the
// day at 60 times real time (30 s, safe on a loaded machine with the race
// detector); by hand, on a quiet machine:
//
//	go test -run TestSimulatedDay -v -timeout 60m ./relay/ -args -day.simulate 24h -day.speed 240
//
// The speed must leave real latencies (a request through the proxy, a
// scheduling stall) well below the server's 30-second replay grace and
// the session's 8-second refresh timeout divided by it: at 240, 125 ms and
// 33 ms of real time.
var (
	daySimulated = flag.Duration("day.simulate", 30*time.Minute, "simulated time TestSimulatedDay runs (24h for the whole day)")
	daySpeed     = flag.Float64("day.speed", 60, "simulated seconds per real second in TestSimulatedDay")
)

// scaledClock is time running speed times faster than real time, from
// start: the fake server's clock (token lifetimes, the replay grace) and
// the session's (refresh checks, back-off, history reads, keyring
// retries). Network deadlines stay real. It can be held still while the
// fake server restarts, which takes the fake a moment of real time but
// would be minutes of the day at this speed.
type scaledClock struct {
	start time.Time
	speed float64

	mu     sync.Mutex
	passed time.Duration // simulated time up to since
	since  time.Time     // real time it last ran from
	held   bool
}

func newScaledClock(start time.Time, speed float64) *scaledClock {
	return &scaledClock{start: start, speed: speed, since: time.Now()}
}

func (c *scaledClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		return c.start.Add(c.passed)
	}
	return c.start.Add(c.passed + time.Duration(float64(time.Since(c.since))*c.speed))
}

// hold stops the clock; run starts it again.
func (c *scaledClock) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		c.passed += time.Duration(float64(time.Since(c.since)) * c.speed)
		c.held = true
	}
}

func (c *scaledClock) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.since, c.held = time.Now(), false
	}
}

func (c *scaledClock) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.speed) }

func (c *scaledClock) After(d time.Duration) <-chan time.Time { return time.After(c.real(d)) }

func (c *scaledClock) sleepUntil(t time.Time) {
	if d := t.Sub(c.Now()); d > 0 {
		time.Sleep(c.real(d))
	}
}

func earliest(ts ...time.Time) time.Time {
	e := ts[0]
	for _, t := range ts[1:] {
		if t.Before(e) {
			e = t
		}
	}
	return e
}

// dayKeyring is the keyring item of the refresh token, which refuses
// writes while "locked" (a window of the simulated day), as a locked
// Secret Service does.
type dayKeyring struct {
	clk            *scaledClock
	lockFrom, lock time.Time
	mu             sync.Mutex
	token          string
	saves, refused int
}

func (k *dayKeyring) save(_ context.Context, tok string) error {
	now := k.clk.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if !now.Before(k.lockFrom) && now.Before(k.lock) {
		k.refused++
		return errors.New("the keyring is locked")
	}
	k.token = tok
	k.saves++
	return nil
}

func (k *dayKeyring) stored() string { k.mu.Lock(); defer k.mu.Unlock(); return k.token }

// lastLines keeps the last lines written to it (a log's tail, to show
// when the day fails).
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	if len(l.lines) > 40 {
		l.lines = l.lines[len(l.lines)-40:]
	}
	return len(p), nil
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// countingBackend counts, per call, the audio downloads that succeeded.
type countingBackend struct {
	*backend.Session
	mu      sync.Mutex
	fetched map[int64]int
	failed  int
}

func (b *countingBackend) FetchAudio(ctx context.Context, c event.Call, w io.Writer) (string, error) {
	typ, err := b.Session.FetchAudio(ctx, c, w)
	b.mu.Lock()
	if err == nil {
		b.fetched[c.ID]++
	} else {
		b.failed++
	}
	b.mu.Unlock()
	return typ, err
}

// dayAudio is call id's audio: a short WAV with the id written into its
// last samples, so no two calls have the same bytes.
func dayAudio(id int64) []byte {
	a := backendtest.SynthWAV(0.2, float64(300+id%500), 8000)
	binary.LittleEndian.PutUint64(a[len(a)-8:], uint64(id))
	return a
}

// dayConsumer follows /v1/live like a local program would, checks the
// calls come in order, each once, and downloads each call's audio from
// the relay to compare it with what the server was given.
type dayConsumer struct {
	base string
	mu   sync.Mutex
	next int64 // the id expected next
	bad  []string
	// audio checks: calls whose audio was compared, and how often the
	// relay answered 503 first (the server unreachable, not cached yet).
	verified, unavailable int
	resyncs               int
	err                   error
	checks                chan int64
	wg                    sync.WaitGroup
}

func (c *dayConsumer) run(ctx context.Context, conn *websocket.Conn) {
	defer c.wg.Done()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if ctx.Err() == nil {
				c.err = err
			}
			c.mu.Unlock()
			close(c.checks)
			return
		}
		var e event.Event
		if json.Unmarshal(data, &e) != nil {
			continue
		}
		c.mu.Lock()
		switch e.Type {
		case event.TypeCall:
			if e.Call.ID != c.next && len(c.bad) < 20 {
				c.bad = append(c.bad, fmt.Sprintf("got call %d, want %d", e.Call.ID, c.next))
			}
			c.next = e.Call.ID + 1
		case event.TypeResync:
			c.resyncs++
		case event.TypeReset:
			c.bad = append(c.bad, "a reset")
		}
		c.mu.Unlock()
		if e.Type == event.TypeCall {
			c.checks <- e.Call.ID
		}
	}
}

func (c *dayConsumer) verify(ctx context.Context) {
	defer c.wg.Done()
	client := &http.Client{Timeout: 30 * time.Second}
	for id := range c.checks {
		for {
			resp, err := client.Get(c.base + "/v1/calls/" + strconv.FormatInt(id, 10) + "/audio?token=bench")
			if err != nil {
				c.fail(fmt.Sprintf("audio of call %d: %v", id, err))
				break
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && ctx.Err() == nil {
				c.mu.Lock()
				c.unavailable++
				c.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if resp.StatusCode != 200 || !bytes.Equal(body, dayAudio(id)) {
				c.fail(fmt.Sprintf("audio of call %d: %d, %d bytes, not the server's", id, resp.StatusCode, len(body)))
			}
			break
		}
		c.mu.Lock()
		c.verified++
		c.mu.Unlock()
	}
}

func (c *dayConsumer) fail(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) < 20 {
		c.bad = append(c.bad, s)
	}
}

// TestSimulatedDay runs the real relay — backend session, relay core,
// audio cache, loopback server, a consumer on /v1/live — against the fake
// server for a simulated day (an hour in the test command) on a clock
// running -day.speed times real time: access tokens live 2 s (a refresh
// every second of the day), a call every 10 s, the server restarted every
// 5 minutes, every connection to it through a proxy that resets,
// blackholes or slows some at random, and the keyring locked for 2 minutes
// a third of the way in. It must lose no call, repeat none, keep their
// order, never have a refresh family revoked, sign in with the password
// once, fetch each call's audio once and serve it byte for byte, and keep
// memory and goroutines flat.
func TestSimulatedDay(t *testing.T) {
	simulated, speed := *daySimulated, *daySpeed
	clk := newScaledClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), speed)
	// Refresh tokens live an hour (each rotation starts a new one), so the
	// fake forgets spent ones within the day, as a real server's database
	// prunes them; its memory is not the relay's to answer for.
	warnings := &lastLines{}
	warnLog := slog.New(slog.NewTextHandler(warnings, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fake := backendtest.NewServer(backendtest.Options{Clock: clk, AccessTTL: 2 * time.Second, RefreshTTL: time.Hour, KeepCalls: 500,
		Logger: warnLog.With("part", "fake")})
	defer fake.Close()
	fake.ChangePassword("listener", "listener-pass")
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "", "", "", "")
	// Faults strike within 5 simulated minutes of a connection opening (the
	// server restarts replace the live socket that often); a blackhole
	// lasts a simulated minute.
	proxy, err := backendtest.NewFaultProxy(fake.URL()[len("http://"):], backendtest.FaultOptions{
		Seed: 20261201, Reset: 0.15, Blackhole: 0.10, Slow: 0.15,
		FaultWithin: clk.real(5 * time.Minute), BlackholeFor: clk.real(time.Minute), SlowBy: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	keys := &dayKeyring{clk: clk, lockFrom: clk.start.Add(simulated / 3), lock: clk.start.Add(simulated/3 + 2*time.Minute)}

	sess, err := backend.New(backend.Options{ServerURL: proxy.URL(), Username: "listener",
		Logger:           warnLog.With("part", "session"),
		SaveRefreshToken: keys.save, Clock: clk, PingEvery: 100 * time.Millisecond, PongWait: 400 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	// The one password sign-in; everything after lives on refresh tokens.
	first, err := sess.Login(context.Background(), "listener", "listener-pass")
	if err != nil {
		t.Fatal(err)
	}
	_ = keys.save(context.Background(), first)
	counted := &countingBackend{Session: sess, fetched: map[int64]int{}}
	lr := startLoopbackRelay(t, counted, 8<<20)
	core := lr.core
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	base := "http://" + lr.addr
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+lr.addr+"/v1/live?token=bench", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	consumer := &dayConsumer{base: base, next: 1, checks: make(chan int64, 1<<16)}
	consumer.wg.Add(3)
	go consumer.run(ctx, conn)
	go consumer.verify(ctx)
	go consumer.verify(ctx)

	// The day.
	began := time.Now()
	const callEvery, restartEvery = 10 * time.Second, 5 * time.Minute
	end := clk.start.Add(simulated)
	nextCall, nextRestart := clk.start.Add(callEvery), clk.start.Add(restartEvery)
	sampleEvery := max(simulated/8, time.Hour)
	if simulated < 8*time.Hour {
		sampleEvery = simulated / 8
	}
	nextSample := clk.start.Add(sampleEvery)
	var calls, restarts int64
	type sample struct {
		at         time.Duration
		heapMB     float64
		goroutines int
	}
	var samples []sample
	for {
		at := earliest(nextCall, nextRestart, nextSample)
		if !at.Before(end) {
			break
		}
		clk.sleepUntil(at)
		switch {
		case at.Equal(nextCall):
			calls++
			if id := fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: dayAudio(calls),
				DateTime: clk.Now(), AudioName: "call-" + strconv.FormatInt(calls, 10) + ".wav"}); id != calls {
				t.Fatalf("the server numbered call %d as %d", calls, id)
			}
			nextCall = nextCall.Add(callEvery)
		case at.Equal(nextRestart):
			// Down for 3 s of the day; stopping and starting the fake
			// take no time of it.
			clk.hold()
			fake.Stop()
			clk.run()
			clk.sleepUntil(at.Add(3 * time.Second))
			clk.hold()
			err := fake.Start()
			clk.run()
			if err != nil {
				t.Fatal(err)
			}
			restarts++
			nextRestart = nextRestart.Add(restartEvery)
		case at.Equal(nextSample):
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			samples = append(samples, sample{at.Sub(clk.start), float64(ms.HeapAlloc) / (1 << 20), runtime.NumGoroutine()})
			nextSample = nextSample.Add(sampleEvery)
		}
	}
	simulatedEnd := clk.Now()
	// Everything the day brought must reach the consumer, and be checked.
	for hang := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		consumer.mu.Lock()
		got, verified, cerr := consumer.next-1, consumer.verified, consumer.err
		consumer.mu.Unlock()
		if cerr != nil {
			t.Fatalf("the consumer was cut off after call %d: %v (relay %+v, server %+v)\nsession warnings:\n%s",
				got, cerr, core.Status().Backend, fake.Counters(), warnings.String())
		}
		if got >= calls && int64(verified) >= calls {
			break
		}
		if time.Now().After(hang) {
			t.Fatalf("after the day the consumer has %d of %d calls, %d audio checked (relay: %+v)\nsession warnings:\n%s",
				got, calls, verified, core.Status(), warnings.String())
		}
	}
	took := time.Since(began)
	fc, pc := fake.Counters(), proxy.Counts()
	counted.mu.Lock()
	fetchedOnce, fetchedMore := 0, 0
	for id := int64(1); id <= calls; id++ {
		switch counted.fetched[id] {
		case 1:
			fetchedOnce++
		case 0:
		default:
			fetchedMore++
		}
	}
	fetchFailures := counted.failed
	counted.mu.Unlock()
	st := sess.Status()
	runErr := lr.stop()
	cancel()
	conn.Close()
	consumer.wg.Wait()

	t.Logf("simulated %v in %v (%.0f×): %d calls, %d refreshes (%d refresh failures), %d password sign-in, %d families revoked, "+
		"%d server restarts, %d live connections; proxy: %d connections, %d refused, %d reset, %d blackholed, %d slowed; "+
		"keyring: %d writes, %d refused while locked; audio: %d fetched once, %d more than once, %d failed attempts, %d answered 503 first; "+
		"consumer: %d resyncs",
		simulatedEnd.Sub(clk.start).Round(time.Minute), took.Round(time.Second), speed, calls, fc.Refreshes, fc.RefreshFailures,
		fc.Logins, fc.RevokedFamilies, restarts, fc.WSAuthorized, pc.Connections, pc.Refused, pc.Resets, pc.Blackholes, pc.Slowed,
		keys.saves, keys.refused, fetchedOnce, fetchedMore, fetchFailures, consumer.unavailable, consumer.resyncs)
	for _, s := range samples {
		t.Logf("  at %-8v heap %.1f MB, %d goroutines", s.at, s.heapMB, s.goroutines)
	}

	if runErr != nil {
		t.Errorf("the relay stopped: %v", runErr)
	}
	if len(consumer.bad) > 0 {
		t.Errorf("the consumer saw %d faults (lost, repeated or out of order calls, wrong audio): %v", len(consumer.bad), consumer.bad)
	}
	if fc.RevokedFamilies != 0 || fc.Logins != 1 {
		t.Errorf("%d families revoked, %d password sign-ins; want 0 and 1", fc.RevokedFamilies, fc.Logins)
	}
	if want := int(simulated / (2 * time.Second)); fc.Refreshes < want {
		t.Errorf("%d refreshes in %v of 2-second tokens, want at least %d", fc.Refreshes, simulated, want)
	}
	if fetchedOnce != int(calls) {
		t.Errorf("%d of %d calls' audio downloaded exactly once (%d more than once)", fetchedOnce, calls, fetchedMore)
	}
	if keys.refused == 0 || st.Problem != "" {
		t.Errorf("keyring: %d writes refused while locked, problem now %q; want some refused and none left", keys.refused, st.Problem)
	}
	// Flat: at the end the heap may be at most a quarter and a megabyte
	// above its highest in the first half (bounded tables still filling on
	// a short run), goroutines 20 above theirs (connections come and go). A
	// leak of a few kilobytes per call, refresh or reconnect fails this
	// over a day.
	if len(samples) >= 4 {
		var top sample
		for _, s := range samples[:len(samples)/2+1] {
			top.heapMB, top.goroutines = max(top.heapMB, s.heapMB), max(top.goroutines, s.goroutines)
		}
		if last := samples[len(samples)-1]; last.heapMB > top.heapMB*1.25+1 || last.goroutines > top.goroutines+20 {
			t.Errorf("memory grew: at most %.1f MB and %d goroutines in the first half, %.1f MB and %d at the end",
				top.heapMB, top.goroutines, last.heapMB, last.goroutines)
		}
	}
	// The keyring holds a sign-in that works: the next start would not ask
	// for the password.
	next, err := backend.New(backend.Options{ServerURL: fake.URL(), Username: "listener", RefreshToken: keys.stored(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := next.FetchAudio(context.Background(), event.Call{ID: calls}, &buf); err != nil || !bytes.Equal(buf.Bytes(), dayAudio(calls)) {
		t.Errorf("a start from the stored sign-in: %v", err)
	}
}
