package player

import (
	"slices"

	"earshot/relay/event"
)

// Unqueue takes the live calls drop chooses out of the queue (never calls
// the listener picked with Play or Replay) and returns their ids, in
// queue order: quiet hours starting silence what waits.
func (p *Player) Unqueue(drop func(event.Call) bool) []int64 {
	p.mu.Lock()
	defer p.unlock()
	var ids []int64
	q := slices.DeleteFunc(slices.Clone(p.queue), func(e *entry) bool {
		if e.user || !drop(e.call) {
			return false
		}
		ids = append(ids, e.call.ID)
		return true
	})
	if len(ids) > 0 {
		p.setQueueLocked(q)
	}
	return ids
}
