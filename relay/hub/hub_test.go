package hub

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/event"
)

func call(id int64) event.Event {
	return event.Event{Type: event.TypeCall, Call: &event.Call{ID: id}}
}

func TestFanOutInOrder(t *testing.T) {
	h := New(nil)
	a, b := h.Subscribe(10), h.Subscribe(10)
	for i := int64(1); i <= 5; i++ {
		h.Publish(call(i))
	}
	for _, s := range []*Subscriber{a, b} {
		for i := int64(1); i <= 5; i++ {
			e := <-s.Events()
			if e.Call.ID != i {
				t.Fatalf("got call %d, want %d", e.Call.ID, i)
			}
		}
	}
	if h.Subscribers() != 2 {
		t.Fatalf("Subscribers = %d, want 2", h.Subscribers())
	}
}

// drain reads what is queued now, naming each event.
func drain(s *Subscriber) []string {
	var out []string
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				return append(out, "closed")
			}
			switch e.Type {
			case event.TypeCall:
				out = append(out, fmt.Sprint(e.Call.ID))
			case event.TypeResync:
				out = append(out, fmt.Sprintf("resync:%d", e.After))
			default:
				out = append(out, e.Type)
			}
		default:
			return out
		}
	}
}

// TestConsumerBehindABurstGetsAResync: a consumer whose queue fills is not
// dropped. What it misses is not queued; a resync naming the last call it
// got is, and once it has read everything it gets events again. The
// others are unaffected.
func TestConsumerBehindABurstGetsAResync(t *testing.T) {
	h := New(nil)
	small, big := h.Subscribe(2), h.Subscribe(100)
	for i := int64(1); i <= 10; i++ {
		h.Publish(call(i))
	}
	if got := strings.Join(drain(small), " "); got != "1 2 resync:2" {
		t.Fatalf("behind a burst the consumer got %s, want 1 2 resync:2", got)
	}
	h.Publish(call(11))
	h.Publish(call(12))
	if got := strings.Join(drain(small), " "); got != "11 12" || small.Err() != nil {
		t.Fatalf("after catching up the consumer got %q (err %v), want 11 12", got, small.Err())
	}
	if got := len(drain(big)); got != 12 || big.Err() != nil || h.Subscribers() != 2 {
		t.Fatalf("the other consumer got %d events (err %v), %d subscribers; want 12, nil, 2", got, big.Err(), h.Subscribers())
	}
}

// TestConsumerThatStopsReadingIsDropped: behind and not one event read for
// StallTimeout: dropped, with ErrSlowConsumer. A consumer that reads, even
// slowly, is not.
func TestConsumerThatStopsReadingIsDropped(t *testing.T) {
	h := New(nil)
	now := time.Unix(1_800_000_000, 0)
	h.now = func() time.Time { return now }
	stopped, slow := h.Subscribe(2), h.Subscribe(2)
	for i := int64(1); i <= 3; i++ {
		h.Publish(call(i))
	}
	for i := int64(4); i <= 40; i++ {
		now = now.Add(time.Second) // 37 s: past StallTimeout
		<-slow.Events()            // one event a second
		h.Publish(call(i))
	}
	if !errors.Is(stopped.Err(), ErrSlowConsumer) {
		t.Fatalf("the consumer that stopped reading: err %v, want ErrSlowConsumer", stopped.Err())
	}
	if slow.Err() != nil {
		t.Fatalf("the slow reader was dropped: %v", slow.Err())
	}
}

// TestResetReachesAConsumerThatIsBehind: a reset gets through a full queue
// (everything queued before it is void anyway), and resets the resync's
// numbering.
func TestResetReachesAConsumerThatIsBehind(t *testing.T) {
	h := New(nil)
	s := h.Subscribe(2)
	for i := int64(1); i <= 5; i++ {
		h.Publish(call(i))
	}
	h.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	got := drain(s)
	if len(got) == 0 || got[len(got)-1] != event.TypeReset {
		t.Fatalf("a consumer behind got %v; want the reset last", got)
	}
	h.Publish(call(1))
	h.Publish(call(2))
	h.Publish(call(3))
	if got := strings.Join(drain(s), " "); got != "1 2 resync:2" {
		t.Fatalf("after the reset the consumer got %s, want 1 2 resync:2", got)
	}
}

func TestCloseSubscriberAndHub(t *testing.T) {
	h := New(nil)
	a, b := h.Subscribe(1), h.Subscribe(1)
	a.Close()
	a.Close() // twice is fine
	if _, ok := <-a.Events(); ok || !errors.Is(a.Err(), ErrClosed) {
		t.Fatalf("closed subscriber: channel open or err %v", a.Err())
	}
	h.Publish(call(1)) // must not panic on a's closed channel
	h.Close()
	if e, ok := <-b.Events(); !ok || e.Call.ID != 1 {
		t.Fatal("queued event lost on hub close")
	}
	if _, ok := <-b.Events(); ok || !errors.Is(b.Err(), ErrClosed) {
		t.Fatalf("hub close: channel open or err %v", b.Err())
	}
	late := h.Subscribe(1)
	if _, ok := <-late.Events(); ok || !errors.Is(late.Err(), ErrClosed) {
		t.Fatal("subscribing to a closed hub should give a closed subscription")
	}
	h.Publish(call(2))
}

func TestConcurrentPublishSubscribeClose(t *testing.T) {
	h := New(nil)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := h.Subscribe(4)
				h.Publish(call(int64(i)))
				if i%3 == 0 {
					s.Close()
				}
				_ = s.Err()
			}
		}()
	}
	wg.Wait()
	h.Close()
	if h.Subscribers() != 0 {
		t.Fatalf("Subscribers after Close = %d", h.Subscribers())
	}
}

// BenchmarkPublish1000Subscribers measures one Publish to 1,000
// subscribers that keep reading (the relay's load target: 1,000
// consumers; target ≤ 2 ms per event). Publishing pauses (off the clock)
// every half queue until every subscriber has drained, so no subscriber
// is dropped for being slow on a shared machine — a dropped subscriber
// would make Publish cheaper and the figure a lie; the benchmark fails if
// any is gone at the end or any event went unread. delivered-µs/op is the
// wall time per event until every subscriber had read it.
func BenchmarkPublish1000Subscribers(b *testing.B) {
	const (
		subscribers = 1000
		queueLen    = 1024
		batch       = queueLen / 2
	)
	h := New(nil)
	var wg sync.WaitGroup
	var received atomic.Int64
	subs := make([]*Subscriber, subscribers)
	for i := range subs {
		s := h.Subscribe(queueLen)
		subs[i] = s
		wg.Go(func() {
			for range s.Events() {
				received.Add(1)
			}
		})
	}
	drained := func(events int) {
		want := int64(events) * subscribers
		deadline := time.Now().Add(time.Minute) // a hang guard
		for received.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("subscribers read %d events, want %d", received.Load(), want)
			}
			runtime.Gosched()
		}
	}
	e := call(1)
	start := time.Now()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		h.Publish(e)
		if i%batch == 0 {
			b.StopTimer()
			drained(i)
			b.StartTimer()
		}
	}
	b.StopTimer()
	drained(b.N)
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "delivered-µs/op")
	if n := h.Subscribers(); n != subscribers {
		b.Fatalf("%d subscribers left, want all %d", n, subscribers)
	}
	for i, s := range subs {
		if err := s.Err(); err != nil {
			b.Fatalf("subscriber %d: %v", i, err)
		}
	}
	if got, want := received.Load(), int64(b.N)*subscribers; got != want {
		b.Fatalf("subscribers read %d events, want %d", got, want)
	}
	h.Close()
	wg.Wait()
}
