// Package hub fans live events out from the relay to its local consumers
// (WebSocket clients, the desktop UI).
//
// It owns the subscriber set and each subscriber's bounded queue. Publish
// never blocks and memory stays bounded: a consumer whose queue fills (a
// burst of calls: a backfill after an outage, a server flushing its own
// queue) is not dropped but falls behind — what it misses is not queued,
// and it gets one event.TypeResync with the id of the last call queued for
// it (After), from which it catches up with the relay's held calls (the
// loopback server does that for /v1/live consumers). Only a consumer that
// stops reading — its queue still full StallTimeout after it fell behind —
// is dropped with ErrSlowConsumer. A TypeReset always gets through (it
// voids what was queued before it).
package hub

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"earshot/relay/event"
)

var (
	// ErrSlowConsumer means the subscriber stopped reading: its queue
	// stayed full for StallTimeout, and it was dropped.
	ErrSlowConsumer = errors.New("consumer stopped reading: its event queue stayed full")
	// ErrClosed means the subscriber or the hub was closed.
	ErrClosed = errors.New("subscription closed")
)

// DefaultQueueLen is the queue length Subscribe uses for queueLen ≤ 0.
const DefaultQueueLen = 256

// StallTimeout is how long a subscriber that fell behind may leave its
// full queue unread before it is dropped: it has stopped reading.
const StallTimeout = 30 * time.Second

// Hub is a set of subscribers. The zero value is not usable; call New.
type Hub struct {
	log   *slog.Logger
	now   func() time.Time
	stall time.Duration

	mu     sync.Mutex
	subs   map[*Subscriber]struct{}
	closed bool
}

// New returns an empty hub.
func New(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{log: logger, now: time.Now, stall: StallTimeout, subs: make(map[*Subscriber]struct{})}
}

// SetStallTimeout sets how long a subscriber that fell behind may leave its
// full queue unread before it is dropped (StallTimeout by default).
func (h *Hub) SetStallTimeout(d time.Duration) {
	h.mu.Lock()
	h.stall = d
	h.mu.Unlock()
}

// Subscriber receives the events published after it subscribed.
type Subscriber struct {
	hub      *Hub
	ch       chan event.Event // queueLen events, and a last slot kept for a resync
	queueLen int
	err      error // set under hub.mu before ch is closed

	// Under hub.mu: behind says the queue filled and a resync was queued;
	// events are not queued until the subscriber has read everything.
	behind      bool
	behindSince time.Time
	lastCall    int64 // id of the last call queued (0 after a reset)
}

// Subscribe adds a subscriber with a queue of queueLen events. On a closed
// hub the subscriber's channel is already closed (Err is ErrClosed).
func (h *Hub) Subscribe(queueLen int) *Subscriber {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	s := &Subscriber{hub: h, ch: make(chan event.Event, queueLen+1), queueLen: queueLen}
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

// Publish hands e to every subscriber without blocking. A subscriber whose
// queue is full falls behind (see the package comment); one that stopped
// reading is dropped (its channel closes, Err is ErrSlowConsumer).
func (h *Hub) Publish(e event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var fell, dropped int
	for s := range h.subs {
		if s.behind {
			switch {
			case len(s.ch) == 0:
				s.behind = false // read everything, the resync too: caught up
			case e.Type == event.TypeReset:
				// A reset must arrive, and voids everything queued
				// before it: make room by forgetting the oldest.
				select {
				case <-s.ch:
				default: // the subscriber emptied it meanwhile
				}
				s.ch <- e // room: only the subscriber takes out
				s.lastCall = 0
				continue
			case len(s.ch) == cap(s.ch) && now.Sub(s.behindSince) >= h.stall:
				h.removeLocked(s, ErrSlowConsumer)
				dropped++
				continue
			default:
				continue // missed; the queued resync covers it
			}
		}
		if len(s.ch) < s.queueLen { // only the subscriber takes out: it cannot fill meanwhile
			s.ch <- e
			switch {
			case e.Type == event.TypeCall && e.Call != nil:
				s.lastCall = e.Call.ID
			case e.Type == event.TypeReset:
				s.lastCall = 0
			}
			continue
		}
		// The queue is full: the last slot takes the resync, and the
		// subscriber is behind until it has read it.
		s.behind, s.behindSince = true, now
		s.ch <- event.Event{Type: event.TypeResync, After: s.lastCall}
		fell++
	}
	if fell > 0 {
		h.log.Info("consumers fell behind a burst of events; they catch up from the held calls", "behind", fell)
	}
	if dropped > 0 {
		h.log.Warn("dropped consumers that stopped reading", "dropped", dropped, "remaining", len(h.subs))
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
// ErrClosed. A subscriber that falls behind stays live (it gets a
// TypeResync event).
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
