package player

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"testing"

	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
	"earshot/relay/loudness"
)

// sineWAV is 48 kHz stereo 16-bit audio of a 440 Hz tone at dbfs.
func sineWAV(dbfs float64, frames int) []byte {
	a := math.Pow(10, dbfs/20)
	return audiotest.MakeWAV(audiotest.WAVSpec{Rate: 48000, Channels: 2, Bits: 16, Frames: frames,
		Sample: func(i, _ int) float64 { return a * math.Sin(2*math.Pi*440*float64(i)/48000) }})
}

func s16le(v []int16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
	}
	return b
}

func lufs(t *testing.T, v []int16) loudness.Result {
	t.Helper()
	m, err := loudness.MeasureS16(s16le(v), 2, 48000)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPlayer_GainIsAppliedToTheSamples(t *testing.T) {
	var mu sync.Mutex
	measured := map[int64]loudness.Result{}
	offsets := map[int64]float64{102: -6} // talkgroup 102 a little quieter
	var l loudness.Leveller
	h := newHarness(t, Options{Gain: func(c event.Call, m loudness.Result) float64 {
		mu.Lock()
		measured[c.ID] = m
		mu.Unlock()
		return l.Gain(m, offsets[c.TalkgroupID], true)
	}})
	const frames = 48000 * 2 // 2 s a call
	quiet := h.audio.put(t, 1, sineWAV(-31, frames))
	loud := h.audio.put(t, 2, sineWAV(-6, frames))
	quiet.TalkgroupID, loud.TalkgroupID = 101, 101
	offset := h.audio.put(t, 3, sineWAV(-6, frames))
	offset.TalkgroupID = 102
	h.enqueue(quiet, loud, offset)
	got := h.out.pull(t, 3*frames)
	var out []loudness.Result
	for i := range 3 {
		out = append(out, lufs(t, got[i*2*frames:(i+1)*2*frames]))
	}
	mu.Lock()
	if m := measured[1]; !m.Measurable() || math.Abs(m.Integrated-(-31.7)) > 0.3 {
		t.Errorf("the quiet call was measured at %+v, want about -31.7 LUFS (a -31 dBFS 440 Hz tone)", m)
	}
	mu.Unlock()
	// Levelled: both within 1 LU of each other and of the target.
	if math.Abs(out[0].Integrated-out[1].Integrated) > 1 || math.Abs(out[1].Integrated-loudness.DefaultTarget) > 1 {
		t.Fatalf("played at %.2f and %.2f LUFS, want both %.0f ± 1", out[0].Integrated, out[1].Integrated, loudness.DefaultTarget)
	}
	if d := out[1].Integrated - out[2].Integrated; math.Abs(d-6) > 0.3 {
		t.Fatalf("the -6 dB talkgroup played %.2f dB below the other, want 6", d)
	}
	for i, m := range out {
		if m.Peak > math.Pow(10, loudness.DefaultCeiling/20)+1e-3 {
			t.Errorf("call %d peaks at %.3f: clipped", i+1, m.Peak)
		}
	}
	// The volume still applies on top.
	h.p.SetVolume(0.5)
	more := h.audio.put(t, 4, sineWAV(-6, frames))
	more.TalkgroupID = 101
	h.enqueue(more)
	if m := lufs(t, h.out.pull(t, frames)); math.Abs(m.Integrated-(loudness.DefaultTarget-6.02)) > 0.5 {
		t.Fatalf("at half volume: %.2f LUFS, want %.1f", m.Integrated, loudness.DefaultTarget-6)
	}
}

func TestPlayer_NoGainFuncPlaysAsRecorded(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(40)...)
	checkRuns(t, h.out.pull(t, 10), want(4000, 20))
}

func TestAlertToneIsShortAndDistinct(t *testing.T) {
	tone := audiotest.Samples(AlertTone(48000))
	if d := float64(len(tone)/2) / 48000; d < 0.3 || d > 0.5 {
		t.Fatalf("the tone lasts %.3f s", d)
	}
	m := lufs(t, tone)
	if m.Peak > 0.26 || m.Peak < 0.24 || !m.Measurable() {
		t.Fatalf("the tone: %+v, want a -12 dBFS peak", m)
	}
	if tone[0] != 0 || tone[len(tone)-1] != 0 {
		t.Fatal("the tone does not start and end in silence (it would click)")
	}
}

func TestPlayer_ToneBeforeAnAlertedCall(t *testing.T) {
	h := newHarness(t, Options{})
	calls := h.addCalls(1, 2)
	h.enqueue(calls[0])
	h.p.EnqueueAt(calls[1], -1, true)
	tone := audiotest.Samples(AlertTone(48000))
	got := h.out.pull(t, callFrames+len(tone)/2+10)
	checkRuns(t, got[:2*callFrames], want(100, 2*callFrames))
	if !slices.Equal(got[2*callFrames:2*callFrames+len(tone)], tone) {
		t.Fatal("the alert tone did not play before the alerted call")
	}
	checkRuns(t, got[2*callFrames+len(tone):], want(200, 20))
}

func TestPlayer_AlertArrivingLaterAddsToneAndBumps(t *testing.T) {
	h := newHarness(t, Options{})
	calls := h.addCalls(1, 2, 3)
	h.enqueue(calls...)
	checkRuns(t, h.out.pull(t, 10), want(100, 20)) // call 1 plays
	if !h.p.Alert(3, true, true) {
		t.Fatal("Alert did not find queued call 3")
	}
	if h.p.Alert(1, true, true) {
		t.Fatal("Alert found call 1, which is playing")
	}
	if q := h.p.Queue(); len(q) != 2 || q[0].ID != 3 || q[1].ID != 2 {
		t.Fatalf("queue after a bump: %v, want 3 then 2", q)
	}
	tone := audiotest.Samples(AlertTone(48000))
	got := h.out.pull(t, callFrames-10+len(tone)/2+callFrames+10)
	rest := got[2*(callFrames-10):]
	if !slices.Equal(rest[:len(tone)], tone) {
		t.Fatal("no tone before the bumped call")
	}
	checkRuns(t, rest[len(tone):], want(300, 2*callFrames, 200, 20))
}

func TestPlayer_InterruptRequeuesOrDropsThePlayingCall(t *testing.T) {
	for _, requeue := range []bool{true, false} {
		h := newHarness(t, Options{})
		calls := h.addCalls(1, 2, 9)
		h.enqueue(calls[0], calls[1])
		checkRuns(t, h.out.pull(t, 100), want(100, 200))
		h.p.Interrupt(calls[2], false, requeue)
		if requeue {
			// Call 9, then call 1 again from its start, then call 2.
			checkRuns(t, h.out.pull(t, 2*callFrames+50), want(900, 2*callFrames, 100, 2*callFrames, 200, 100))
			h.p.mu.Lock()
			var ids []int64
			for _, c := range h.p.history {
				ids = append(ids, c.ID)
			}
			h.p.mu.Unlock()
			if len(ids) != 3 || ids[0] != 2 || ids[1] != 9 || ids[2] != 1 {
				t.Errorf("history after a requeue: %v, want 2, 9, 1 (each call once, latest first)", ids)
			}
		} else {
			checkRuns(t, h.out.pull(t, callFrames+50), want(900, 2*callFrames, 200, 100))
		}
	}
}

func TestPlayer_LiveCallsNeverGoBeforePickedOnes(t *testing.T) {
	h := newHarness(t, Options{})
	calls := h.addCalls(1, 2, 3)
	h.enqueue(calls[0])
	checkRuns(t, h.out.pull(t, 10), want(100, 20))
	h.p.Pause()
	h.p.Play(calls[1])
	h.p.Pause()
	h.p.EnqueueAt(calls[2], 0, false)
	if q := h.p.Queue(); len(q) != 2 || q[0].ID != 2 || q[1].ID != 3 {
		t.Fatalf("queue %v: a live call went before the listener's pick", q)
	}
}
