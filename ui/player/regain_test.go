package player

import (
	"math"
	"sync"
	"testing"

	"earshot/relay/event"
	"earshot/relay/loudness"
)

// A talkgroup's volume changed while its call plays: Regain glides the
// playing call to the new gain, without a click, instead of waiting for
// the next call.
func TestPlayer_RegainAppliesANewOffsetToThePlayingCall(t *testing.T) {
	var mu sync.Mutex
	offset := 0.0
	gain := func(_ event.Call, m loudness.Result) float64 {
		mu.Lock()
		defer mu.Unlock()
		return loudness.Leveller{}.Gain(m, offset, true)
	}
	h := newHarness(t, Options{Gain: gain})
	call := h.audio.put(t, 1, sineWAV(-31, 4*48000))
	h.enqueue(call)
	before := h.out.pull(t, 48000)
	mu.Lock()
	offset = -6
	mu.Unlock()
	h.p.Regain()
	h.audio.mu.Lock()
	m, _ := h.audio.entries[1].Loudness()
	h.audio.mu.Unlock()
	h.awaitGlide(playing, loudness.Leveller{}.Gain(m, -6, true))
	after := h.out.pull(t, 2*48000)
	was := lufs(t, before[len(before)/2:]).Integrated
	now := lufs(t, after[len(after)/2:]).Integrated
	if d := now - was; math.Abs(d+6) > 0.3 {
		t.Fatalf("after Regain the call plays %.2f dB from before, want -6", d)
	}
	clickFree(t, append(before, after...), 440, ceiling)
}
