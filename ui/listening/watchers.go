package listening

import "sync"

// Watchers hands out the channels of Watch and wakes them after each
// change: a signal each, at most one pending (a woken watcher reads the
// latest snapshot). The zero value is ready to use. It is shared by the
// core and by the window process's stand-in for it (ipc.Client).
type Watchers struct {
	mu  sync.Mutex
	set map[chan struct{}]struct{}
}

// Watch returns a channel that receives a signal now and after each change,
// and the function that stops watching.
func (ws *Watchers) Watch() (<-chan struct{}, func()) {
	w := make(chan struct{}, 1)
	ws.mu.Lock()
	if ws.set == nil {
		ws.set = map[chan struct{}]struct{}{}
	}
	ws.set[w] = struct{}{}
	ws.mu.Unlock()
	w <- struct{}{}
	return w, func() {
		ws.mu.Lock()
		delete(ws.set, w)
		ws.mu.Unlock()
	}
}

// Wake signals every watcher that has not been signalled since it last read.
func (ws *Watchers) Wake() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.set {
		select {
		case w <- struct{}{}:
		default: // already woken; it reads the latest snapshot
		}
	}
}
