package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"earshot/relay/cache"
	"earshot/relay/event"
)

// next reads the subscriber's next event, failing after 5 s.
func next(t *testing.T, ch <-chan event.Event) event.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("the subscription was closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return event.Event{}
}

// A sign-in or sign-out swaps the account behind the one relay: its
// subscribers keep their subscription and get a reset, the old account's
// calls are gone, the new session's calls flow, and a late event of the
// old session never reaches anyone.
func TestSwap_SubscribersKeepTheirFeedAndGetAReset(t *testing.T) {
	old := newFakeBackend()
	old.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write([]byte("old account's audio"))
		return "audio/mpeg", err
	}
	r := startRelay(t, old)
	sub := r.Subscribe(16)
	defer sub.Close()
	old.send(callEvent(41))
	if e := next(t, sub.Events()); e.Type != event.TypeCall || e.Call.ID != 41 {
		t.Fatalf("first event %+v", e)
	}

	fresh := newFakeBackend()
	fresh.fetch = func(ctx context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write([]byte("new account's audio"))
		return "audio/mpeg", err
	}
	c, err := cache.Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r.Swap(fresh, c, event.ResetAccount)
	if e := next(t, sub.Events()); e.Type != event.TypeReset || e.Reason != event.ResetAccount {
		t.Fatalf("after the swap the subscriber got %+v, want a reset (account)", e)
	}
	if got := r.Calls(Query{}); len(got) != 0 {
		t.Fatalf("the old account's calls are still held: %v", got)
	}
	old.send(callEvent(42)) // the old session, late
	<-fresh.ready
	fresh.send(callEvent(1)) // the new account's ids start low
	for {
		e := next(t, sub.Events())
		if e.Type == event.TypeStatus {
			continue
		}
		if e.Type != event.TypeCall || e.Call.ID != 1 {
			t.Fatalf("after the swap the subscriber got %+v, want the new account's call 1 (and never the old session's 42)", e)
		}
		break
	}
	if sub.Err() != nil {
		t.Fatalf("the subscription ended: %v", sub.Err())
	}
	ent, err := r.Audio(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ent.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if !bytes.Equal(b, []byte("new account's audio")) {
		t.Fatalf("call 1's audio is %q, want the new account's", b)
	}
}

// stoppingBackend ends its session for good at once, as a refused sign-in
// does.
type stoppingBackend struct{ fakeBackend }

func (b *stoppingBackend) Run(context.Context, func(event.Event)) error {
	return errors.New("the server refused the stored sign-in")
}

// With OutliveSession, a session that stops for good leaves the relay
// running (its subscribers too) until the next account is swapped in.
func TestSwap_OutliveSessionWaitsForTheNextAccount(t *testing.T) {
	c, err := cache.Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := New(Options{Backend: &stoppingBackend{}, Cache: c, OutliveSession: true})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe(16)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if e := next(t, sub.Events()); e.Type != event.TypeStatus || e.Status.State != event.StateStopped {
		t.Fatalf("got %+v, want the stop reported", e)
	}
	select {
	case err := <-done:
		t.Fatalf("Run ended (%v) although OutliveSession is set", err)
	case <-time.After(100 * time.Millisecond):
	}
	fresh := newFakeBackend()
	fresh.fetch = func(context.Context, event.Call, io.Writer) (string, error) { return "", errNoSuchCall }
	r.Swap(fresh, c, event.ResetAccount)
	<-fresh.ready
	fresh.send(callEvent(7))
	for {
		e := next(t, sub.Events())
		if e.Type == event.TypeCall {
			if e.Call.ID != 7 {
				t.Fatalf("got call %d, want 7", e.Call.ID)
			}
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
