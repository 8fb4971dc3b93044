package player

import (
	"slices"
	"testing"

	"earshot/relay/event"
)

// Quiet hours beginning take the live calls they silence out of the queue;
// what the listener picked stays, and what is left plays in order.
func TestPlayer_UnqueueTakesLiveCallsButNotPickedOnes(t *testing.T) {
	h := newHarness(t, Options{})
	calls := h.addCalls(1, 2, 3, 4)
	h.enqueue(calls[0])
	checkRuns(t, h.out.pull(t, 10), want(100, 20))
	h.p.Pause()
	h.p.Play(calls[3])
	h.p.Pause()
	h.enqueue(calls[1], calls[2])
	dropped := h.p.Unqueue(func(c event.Call) bool { return c.ID != 3 })
	if !slices.Equal(dropped, []int64{2}) {
		t.Fatalf("Unqueue took %v, want [2] (4 was picked, 3 is kept)", dropped)
	}
	if q := h.p.Queue(); len(q) != 2 || q[0].ID != 4 || q[1].ID != 3 {
		t.Fatalf("queue %v, want 4 then 3", q)
	}
	h.p.Resume()
	checkRuns(t, h.out.pull(t, 2*callFrames), want(400, 2*callFrames, 300, 2*callFrames))
}
