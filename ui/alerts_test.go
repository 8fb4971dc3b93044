package ui

import (
	"slices"

	"earshot/relay/event"
)

// What the listening core asks of the player for alerts and priority.

func (f *fakePlayer) Queue() []event.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var q []event.Call
	for _, id := range f.queued {
		q = append(q, event.Call{ID: id})
	}
	return q
}

func (f *fakePlayer) EnqueueAt(c event.Call, pos int, tone bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pos < 0 || pos > len(f.queued) {
		pos = len(f.queued)
	}
	f.queued = slices.Insert(f.queued, pos, c.ID)
	return true
}

func (f *fakePlayer) Alert(id int64, tone, bump bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.queued, id)
}

func (f *fakePlayer) Interrupt(c event.Call, tone, requeue bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("interrupt")
	f.st.Call = &c
}

func (f *fakePlayer) Unqueue(drop func(event.Call) bool) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	f.queued = slices.DeleteFunc(f.queued, func(id int64) bool {
		if drop(event.Call{ID: id}) {
			out = append(out, id)
			return true
		}
		return false
	})
	return out
}
