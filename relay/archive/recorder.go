package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"earshot/relay"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
)

// Source is what Record needs of the relay core (relay.Relay). Audio's
// relay.ErrNotFound means the server does not offer the call: it is not
// tried again.
type Source interface {
	Subscribe(queueLen int) *hub.Subscriber
	Audio(ctx context.Context, id int64) (*cache.Entry, error)
}

// Recording limits.
const (
	// recordQueue bounds the calls waiting to be archived (their audio
	// may be slow to come while the server is away).
	recordQueue = 4096
	// recentCalls is how many archived calls Record remembers by id, for
	// transcripts that come after their call.
	recentCalls = 4096
	// pruneEvery is how often Record drops calls past MaxAge.
	pruneEvery = time.Hour
)

// fetchPauses are the waits between tries of a call's audio while the
// server cannot be reached (the relay's own prefetch tries meanwhile).
func fetchPauses() []time.Duration {
	return []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second, 2 * time.Minute}
}

// Record archives the calls src announces that Keeps chooses, their audio
// from src's cache, and transcripts that come after them, until ctx ends.
func (a *Archive) Record(ctx context.Context, src Source) error {
	work := make(chan event.Event, recordQueue)
	done := make(chan struct{})
	go func() { // ends when work closes; waited for below
		defer close(done)
		a.archiveLoop(ctx, src, work)
	}()
	defer func() {
		close(work)
		<-done
	}()
	sub := src.Subscribe(hub.DefaultQueueLen)
	defer func() { sub.Close() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Events():
			if !ok {
				if !errors.Is(sub.Err(), hub.ErrSlowConsumer) {
					return nil // the relay stopped
				}
				a.log.Warn("the archive fell behind the live feed and may have missed calls")
				sub = src.Subscribe(hub.DefaultQueueLen)
				continue
			}
			switch e.Type {
			case event.TypeCall:
				if e.Call == nil || !a.Keeps(*e.Call) {
					continue
				}
			case event.TypeTranscript, event.TypeReset:
			default:
				continue
			}
			select {
			case work <- e:
			default:
				a.log.Warn("too many calls waiting to be archived; one is not archived", "type", e.Type)
			}
		}
	}
}

// archiveLoop archives what Record queues, in order.
func (a *Archive) archiveLoop(ctx context.Context, src Source, work <-chan event.Event) {
	recent := make(map[int64]Entry)   // call id → its entry
	var order []int64                 // recent's ids, oldest first
	pending := make(map[int64]string) // transcripts of calls not archived (yet)
	var pendingOrder []int64
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		var e event.Event
		var ok bool
		select {
		case e, ok = <-work:
			if !ok {
				return
			}
		case <-prune.C:
			if err := a.Prune(); err != nil {
				a.log.Warn("pruning the archive failed", "err", err)
			}
			continue
		}
		switch e.Type {
		case event.TypeReset:
			// The ids held now name nothing (or other calls).
			clear(recent)
			clear(pending)
			order, pendingOrder = nil, nil
		case event.TypeTranscript:
			if e.Transcript == nil {
				continue
			}
			id, text := e.Transcript.CallID, e.Transcript.Text
			if ent, ok := recent[id]; ok {
				if ent, err := a.SetTranscript(ent, text); err != nil {
					a.log.Warn("could not add a transcript to the archive", "call", id, "err", err)
				} else {
					recent[id] = ent
				}
				continue
			}
			if _, seen := pending[id]; !seen {
				pendingOrder = append(pendingOrder, id)
				if len(pendingOrder) > recentCalls {
					delete(pending, pendingOrder[0])
					pendingOrder = pendingOrder[1:]
				}
			}
			pending[id] = text
		case event.TypeCall:
			c := *e.Call
			if text, ok := pending[c.ID]; ok {
				c.Transcript = text
				delete(pending, c.ID)
			}
			ent, err := a.record(ctx, src, c)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Warn("a call could not be archived", "call", c.ID, "err", err)
				}
				continue
			}
			if _, seen := recent[c.ID]; !seen {
				order = append(order, c.ID)
				if len(order) > recentCalls {
					delete(recent, order[0])
					order = order[1:]
				}
			}
			recent[c.ID] = ent
		}
	}
}

// record archives call c with its audio from src, trying again while the
// server cannot be reached.
func (a *Archive) record(ctx context.Context, src Source, c event.Call) (Entry, error) {
	pauses := fetchPauses()
	for attempt := 0; ; attempt++ {
		ent, err := src.Audio(ctx, c.ID)
		if err == nil {
			f, err := ent.Open()
			if err != nil {
				return Entry{}, err
			}
			e, added, err := a.Add(c, f)
			f.Close()
			if err == nil && added {
				a.log.Debug("call archived", "call", c.ID, "key", e.Key)
			}
			return e, err
		}
		if ctx.Err() != nil || attempt >= len(pauses) || errors.Is(err, relay.ErrNotFound) {
			return Entry{}, fmt.Errorf("its audio: %w", err)
		}
		t := time.NewTimer(pauses[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return Entry{}, ctx.Err()
		case <-t.C:
		}
	}
}
