package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/cache"
	"earshot/relay/event"
)

// fakeBackend plays the OpenScanner session: tests push events through
// emit and decide what FetchAudio does.
type fakeBackend struct {
	mu      sync.Mutex
	emit    func(event.Event)
	ready   chan struct{}
	fetch   func(ctx context.Context, c event.Call, w io.Writer) (string, error)
	fetches atomic.Int64
}

func newFakeBackend() *fakeBackend { return &fakeBackend{ready: make(chan struct{})} }

func (b *fakeBackend) Run(ctx context.Context, emit func(event.Event)) error {
	b.mu.Lock()
	b.emit = emit
	b.mu.Unlock()
	close(b.ready)
	<-ctx.Done()
	return ctx.Err()
}

func (b *fakeBackend) FetchAudio(ctx context.Context, c event.Call, w io.Writer) (string, error) {
	b.fetches.Add(1)
	return b.fetch(ctx, c, w)
}

func (b *fakeBackend) Status() event.Status { return event.Status{State: event.StateConnecting} }

func (b *fakeBackend) send(e event.Event) {
	<-b.ready
	b.mu.Lock()
	emit := b.emit
	b.mu.Unlock()
	emit(e)
}

var errNoSuchCall = errors.New("fake: 404")

func startRelay(t *testing.T, b *fakeBackend) *Relay {
	t.Helper()
	return startRelayWith(t, b, nil)
}

// startRelayWith is startRelay with a chance to adjust the relay before
// it runs.
func startRelayWith(t *testing.T, b *fakeBackend, adjust func(*Relay)) *Relay {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r, err := New(Options{Backend: b, Cache: c, IsUnavailable: func(err error) bool { return errors.Is(err, errNoSuchCall) }})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil after cancel", err)
		}
	})
	<-b.ready
	return r
}

func callEvent(id int64) event.Event {
	return event.Event{Type: event.TypeCall, Call: &event.Call{ID: id, TalkgroupLabel: "Fire Dispatch"}}
}

func wavBytes(n int) []byte {
	b := make([]byte, n)
	copy(b, "RIFF\x00\x00\x00\x00WAVEfmt ")
	return b
}

func TestRelay_CallsReachSubscribersInOrderWithAudioURL(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(100))
		return "application/octet-stream", err
	}
	r := startRelay(t, b)
	sub := r.Subscribe(16)
	defer sub.Close()
	for id := int64(1); id <= 5; id++ {
		b.send(callEvent(id))
	}
	for want := int64(1); want <= 5; want++ {
		e := <-sub.Events()
		if e.Type != event.TypeCall || e.Call.ID != want {
			t.Fatalf("event %d = %+v, want call %d", want, e, want)
		}
		if got := e.Call.AudioURL; got != AudioPath(want) {
			t.Errorf("AudioURL = %q, want %q", got, AudioPath(want))
		}
	}
}

func TestRelay_InlineAudioIsCachedAndNeverFetched(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(context.Context, event.Call, io.Writer) (string, error) {
		t.Error("FetchAudio called for a call whose audio came inline")
		return "", errors.New("unexpected fetch")
	}
	r := startRelay(t, b)
	sub := r.Subscribe(4)
	defer sub.Close()
	audio := wavBytes(500)
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 7, InlineAudio: audio}})
	e := <-sub.Events()
	if len(e.Call.InlineAudio) != 0 {
		t.Error("inline audio was published to consumers")
	}
	entry, err := r.Audio(context.Background(), 7)
	if err != nil {
		t.Fatalf("Audio(7): %v", err)
	}
	if entry.ContentType != "audio/wav" {
		t.Errorf("ContentType = %q, want audio/wav (sniffed from the bytes)", entry.ContentType)
	}
	f, err := entry.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, audio) {
		t.Error("cached inline audio differs from what the frame carried")
	}
}

func TestRelay_CallsQueryNewestFirstWithBounds(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(10))
		return "", err
	}
	r := startRelay(t, b)
	for id := int64(1); id <= 10; id++ {
		b.send(callEvent(id))
	}
	ids := func(cs []event.Call) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	tests := []struct {
		name string
		q    Query
		want []int64
	}{
		{"limit", Query{Limit: 3}, []int64{10, 9, 8}},
		{"before", Query{Limit: 2, Before: 5}, []int64{4, 3}},
		{"after", Query{Limit: 50, After: 7}, []int64{10, 9, 8}},
		{"between", Query{Limit: 50, After: 2, Before: 5}, []int64{4, 3}},
	}
	for _, tt := range tests {
		if got := ids(r.Calls(tt.q)); !equalIDs(got, tt.want) {
			t.Errorf("%s: Calls(%+v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	if _, ok := r.Call(4); !ok {
		t.Error("Call(4) not found")
	}
	if _, ok := r.Call(99); ok {
		t.Error("Call(99) found, want not found")
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRelay_UnavailableCallIsAskedForOnce(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(context.Context, event.Call, io.Writer) (string, error) { return "", errNoSuchCall }
	r := startRelay(t, b)
	for range 3 {
		if _, err := r.Audio(context.Background(), 42); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Audio(42) error = %v, want ErrNotFound", err)
		}
	}
	if n := b.fetches.Load(); n != 1 {
		t.Errorf("server asked %d times for a call it refused, want 1", n)
	}
}

func TestRelay_UnreachableServerMeansUnavailable(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(context.Context, event.Call, io.Writer) (string, error) {
		return "", errors.New("dial tcp: connection refused")
	}
	r := startRelay(t, b)
	if _, err := r.Audio(context.Background(), 3); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Audio error = %v, want ErrUnavailable", err)
	}
}

func TestRelay_PrefetchMakesAudioReadyWithoutARequest(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(1000))
		return "", err
	}
	r := startRelay(t, b)
	b.send(callEvent(11))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := r.cache.Lookup(cacheKey(*callEvent(11).Call)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call audio was not prefetched")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := r.Audio(context.Background(), 11); err != nil {
		t.Fatal(err)
	}
	if n := b.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1 (prefetch, then served from cache)", n)
	}
}

func TestRelay_TranscriptUpdatesHeldCall(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(10))
		return "", err
	}
	r := startRelay(t, b)
	sub := r.Subscribe(4)
	defer sub.Close()
	b.send(callEvent(5))
	b.send(event.Event{Type: event.TypeTranscript, Transcript: &event.Transcript{CallID: 5, Text: "engine 4 respond"}})
	<-sub.Events()
	if e := <-sub.Events(); e.Type != event.TypeTranscript {
		t.Fatalf("second event = %s, want transcript", e.Type)
	}
	if c, _ := r.Call(5); c.Transcript != "engine 4 respond" {
		t.Errorf("held call transcript = %q", c.Transcript)
	}
}

func TestRelay_RecentRingIsBounded(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(10))
		return "", err
	}
	c, err := cache.Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r, err := New(Options{Backend: b, Cache: c, RecentCalls: 8})
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= 100; id++ {
		r.remember(event.Call{ID: id})
	}
	if n := r.Status().CallsHeld; n > 8 {
		t.Errorf("held %d calls, want at most 8", n)
	}
	if _, ok := r.Call(100); !ok {
		t.Error("newest call not held")
	}
	if got := r.Calls(Query{Limit: 1}); len(got) != 1 || got[0].ID != 100 {
		t.Errorf("newest = %v", got)
	}
}

func TestRelay_CatalogIsPublishedAndKeptAsACopy(t *testing.T) {
	b := newFakeBackend()
	r := startRelay(t, b)
	if got := r.Catalog(); len(got.Systems) != 0 {
		t.Fatalf("Catalog before any config = %+v, want empty", got)
	}
	sub := r.Subscribe(4)
	defer sub.Close()
	sent := &event.Catalog{Systems: []event.System{{ID: 1, Label: "Harness County", LEDColor: "red",
		Talkgroups: []event.Talkgroup{{ID: 101, Label: "Fire Dispatch", Name: "County Fire Dispatch", Group: "Fire", Tag: "Dispatch", LEDColor: "#ff0000"}}}}}
	b.send(event.Event{Type: event.TypeCatalog, Catalog: sent})
	e := <-sub.Events()
	if e.Type != event.TypeCatalog || e.Catalog == nil || e.Catalog.Systems[0].Talkgroups[0].Label != "Fire Dispatch" {
		t.Fatalf("published %+v, want the catalog", e)
	}
	got := r.Catalog()
	tg, sys, ok := got.Talkgroup(1, 101)
	if !ok || tg.Name != "County Fire Dispatch" || tg.Group != "Fire" || tg.Tag != "Dispatch" || tg.LEDColor != "#ff0000" || sys.LEDColor != "red" {
		t.Fatalf("Catalog() = %+v", got)
	}
	// Neither the backend's value, nor a subscriber's, nor an earlier
	// snapshot is the relay's own copy.
	sent.Systems[0].Label = "changed by the backend"
	e.Catalog.Systems[0].Talkgroups[0].Label = "changed by a subscriber"
	got.Systems[0].Talkgroups = nil
	again := r.Catalog()
	if again.Systems[0].Label != "Harness County" || len(again.Systems[0].Talkgroups) != 1 || again.Systems[0].Talkgroups[0].Label != "Fire Dispatch" {
		t.Fatalf("Catalog() after outside changes = %+v", again)
	}
}

func TestRelay_PrefetchTriesAgainWhileTheServerIsUnreachable(t *testing.T) {
	b := newFakeBackend()
	var calls atomic.Int64
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		if calls.Add(1) <= 2 {
			return "", errors.New("dial tcp: connection refused")
		}
		_, err := w.Write(wavBytes(100))
		return "", err
	}
	r := startRelayWith(t, b, func(r *Relay) { r.prefetchPauses = []time.Duration{0, 0, 0} })
	b.send(callEvent(21))
	waitCached(t, r, 21)
	if n := b.fetches.Load(); n != 3 {
		t.Errorf("fetches = %d, want 3 (two refused, one served)", n)
	}
	if n := r.Status().PrefetchFailures; n != 0 {
		t.Errorf("PrefetchFailures = %d, want 0 (it got there)", n)
	}
}

func TestRelay_PrefetchGivesUpAfterItsPausesAndOnUnavailableCalls(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		if c.ID == 1 {
			return "", errNoSuchCall
		}
		return "", errors.New("dial tcp: connection refused")
	}
	r := startRelayWith(t, b, func(r *Relay) { r.prefetchPauses = []time.Duration{0, 0} })
	// Call 1 is unavailable (one try), call 2 unreachable (three tries).
	b.send(callEvent(1))
	b.send(callEvent(2))
	deadline := time.Now().Add(10 * time.Second) // a hang guard
	for r.Status().PrefetchFailures < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("PrefetchFailures = %d, want 2", r.Status().PrefetchFailures)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := b.fetches.Load(); n != 4 {
		t.Errorf("fetches = %d, want 4 (1 for the unavailable call, 3 for the other)", n)
	}
}

func waitCached(t *testing.T, r *Relay, id int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a hang guard
	for {
		if _, ok := r.cache.Lookup(cacheKey(*callEvent(id).Call)); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %d's audio never reached the cache", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRelay_ServerResetVoidsTheHeldCalls: after a server reset the calls
// held under the old ids are gone (a new call 1 is not the old call 1),
// and subscribers get the reset event in order.
func TestRelay_ServerResetVoidsTheHeldCalls(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(wavBytes(100))
		return "", err
	}
	r := startRelay(t, b)
	sub := r.Subscribe(16)
	defer sub.Close()
	for id := int64(1); id <= 3; id++ {
		b.send(callEvent(id))
	}
	b.send(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 1, TalkgroupLabel: "Police"}})
	var got []string
	for len(got) < 5 {
		e := <-sub.Events()
		switch e.Type {
		case event.TypeCall:
			got = append(got, "call "+strconv.FormatInt(e.Call.ID, 10))
		case event.TypeReset:
			got = append(got, "reset "+e.Reason)
		}
	}
	if s := strings.Join(got, ", "); s != "call 1, call 2, call 3, reset server, call 1" {
		t.Fatalf("subscriber saw %s", s)
	}
	held := r.Calls(Query{})
	if len(held) != 1 || held[0].TalkgroupLabel != "Police" {
		t.Fatalf("held after the reset: %+v; want only the new call 1", held)
	}
	if c, ok := r.Call(2); ok {
		t.Fatalf("call 2 of the old numbering still held: %+v", c)
	}
}
