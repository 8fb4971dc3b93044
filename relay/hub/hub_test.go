package hub

import (
	"errors"
	"sync"
	"testing"

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

func TestSlowConsumerDroppedOthersUnaffected(t *testing.T) {
	h := New(nil)
	slow, fast := h.Subscribe(2), h.Subscribe(100)
	for i := int64(1); i <= 10; i++ {
		h.Publish(call(i))
	}
	var got int
	for range slow.Events() {
		got++
	}
	if got != 2 || !errors.Is(slow.Err(), ErrSlowConsumer) {
		t.Fatalf("slow consumer got %d events, err %v; want 2 and ErrSlowConsumer", got, slow.Err())
	}
	if len(fast.Events()) != 10 || fast.Err() != nil {
		t.Fatalf("fast consumer has %d events, err %v; want 10 and nil", len(fast.Events()), fast.Err())
	}
	if h.Subscribers() != 1 {
		t.Fatalf("Subscribers = %d, want 1", h.Subscribers())
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

// BenchmarkPublish1000Subscribers measures one Publish to 1,000 subscribers
// that keep reading (the relay's load target: 1,000 consumers).
func BenchmarkPublish1000Subscribers(b *testing.B) {
	h := New(nil)
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		s := h.Subscribe(1024)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range s.Events() {
			}
		}()
	}
	e := call(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(e)
	}
	b.StopTimer()
	h.Close()
	wg.Wait()
}
