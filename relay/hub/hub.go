// Package hub fans live events out from the relay to its local consumers
// (WebSocket clients, the desktop UI).
//
// It owns the subscriber set and each subscriber's bounded queue. Publish
// never blocks: a consumer that cannot keep up is dropped with
// ErrSlowConsumer rather than delaying the others or growing memory without
// bound.
package hub

import (
	"errors"
	"log/slog"
	"sync"

	"earshot/relay/event"
)

var (
	// ErrSlowConsumer means the subscriber's queue filled up and it was
	// dropped.
	ErrSlowConsumer = errors.New("consumer too slow: its event queue filled up")
	// ErrClosed means the subscriber or the hub was closed.
	ErrClosed = errors.New("subscription closed")
)

// DefaultQueueLen is the queue length Subscribe uses for queueLen ≤ 0.
const DefaultQueueLen = 256

// Hub is a set of subscribers. The zero value is not usable; call New.
type Hub struct {
	log *slog.Logger

	mu     sync.Mutex
	subs   map[*Subscriber]struct{}
	closed bool
}

// New returns an empty hub.
func New(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{log: logger, subs: make(map[*Subscriber]struct{})}
}

// Subscriber receives the events published after it subscribed.
type Subscriber struct {
	hub *Hub
	ch  chan event.Event
	err error // set under hub.mu before ch is closed
}

// Subscribe adds a subscriber with a queue of queueLen events. On a closed
// hub the subscriber's channel is already closed (Err is ErrClosed).
func (h *Hub) Subscribe(queueLen int) *Subscriber {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	s := &Subscriber{hub: h, ch: make(chan event.Event, queueLen)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.err = ErrClosed
		close(s.ch)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// Publish hands e to every subscriber without blocking. Subscribers whose
// queue is full are dropped (their channel closes, Err is ErrSlowConsumer).
func (h *Hub) Publish(e event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var dropped int
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			h.removeLocked(s, ErrSlowConsumer)
			dropped++
		}
	}
	if dropped > 0 {
		h.log.Warn("dropped consumers that could not keep up", "dropped", dropped, "remaining", len(h.subs))
	}
}

// Subscribers is the number of current subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close drops every subscriber (Err is ErrClosed) and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.removeLocked(s, ErrClosed)
	}
}

func (h *Hub) removeLocked(s *Subscriber, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.ch)
}

// Events is the subscriber's queue. It is closed when the subscriber is
// dropped or closed; Err then says why.
func (s *Subscriber) Events() <-chan event.Event { return s.ch }

// Err is nil while the subscription is live, then ErrSlowConsumer or
// ErrClosed.
func (s *Subscriber) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscriber) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, ErrClosed)
}
