package player

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/audio/audiotest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/loudness"
)

// levelledGain is the app's levelling with no offsets, recording what it
// was asked.
type levelledGain struct {
	mu    sync.Mutex
	asked []loudness.Result
	asks  chan loudness.Result
}

func newLevelledGain() *levelledGain { return &levelledGain{asks: make(chan loudness.Result, 16)} }

func (g *levelledGain) gain(_ event.Call, m loudness.Result) float64 {
	g.mu.Lock()
	g.asked = append(g.asked, m)
	g.mu.Unlock()
	g.asks <- m
	return loudness.Leveller{}.Gain(m, 0, true)
}

// awaitAsk waits for the gain to be asked for a measurement of the
// given length (the whole call, or the estimate), skipping others.
func (g *levelledGain) awaitAsk(t *testing.T, frames int) loudness.Result {
	t.Helper()
	for {
		if m := audiotest.Await(t, g.asks, "the player to ask for a call's gain"); m.Frames == frames {
			return m
		}
	}
}

// awaitGlide waits until the track the player picks has gain g to move
// to (the watcher sets it after asking for it), so what the test pulls
// next has it.
func (h *harness) awaitGlide(pick func(p *Player) *track, g float64) {
	h.t.Helper()
	deadline := time.Now().Add(audiotest.HangGuard)
	for {
		h.p.mu.Lock()
		tr := pick(h.p)
		h.p.mu.Unlock()
		if tr != nil && tr.level != nil && tr.level.next.Load() == math.Float64bits(g) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the call was never given its new gain")
		}
		time.Sleep(time.Millisecond)
	}
}

func playing(p *Player) *track     { return p.cur }
func decodedNext(p *Player) *track { return p.next }

const estimateFrames = 48000 * 4 / 10

// clickFree fails if the envelope of a tone of hz jumps anywhere: a sine
// of amplitude a moves at most a·2π·hz/rate from one sample to the next,
// so anything more is a step in the gain.
func clickFree(t *testing.T, s []int16, hz float64, maxAmplitude float64) {
	t.Helper()
	limit := maxAmplitude*32768*2*math.Pi*hz/48000*1.05 + 2
	for i := 2; i < len(s); i += 2 { // the left channel
		if d := math.Abs(float64(s[i]) - float64(s[i-2])); d > limit {
			t.Fatalf("sample %d jumps by %.0f (at most %.0f for a smooth %v Hz tone): a click", i/2, d, limit, hz)
		}
	}
}

func peakOf(s []int16) float64 {
	p := 0.0
	for _, v := range s {
		p = max(p, math.Abs(float64(v))/32768)
	}
	return p
}

var ceiling = math.Pow(10, loudness.DefaultCeiling/20)

// A call played the instant it arrived, before the relay's measurement
// finished, starts at once at a provisional gain that cannot clip, and
// moves to the measured level smoothly once the measurement arrives.
func TestPlayer_CallPlayedBeforeItIsMeasuredStartsAtOnceAndGlidesToItsLevel(t *testing.T) {
	g := newLevelledGain()
	h := newHarness(t, Options{Gain: g.gain})
	const seconds = 4
	call, ent := h.audio.putUnmeasured(t, 1, sineWAV(-31, seconds*48000))
	h.enqueue(call)
	// The sound comes with no measurement there at all.
	first := h.out.pull(t, 48000/2)
	early := lufs(t, first)
	if math.Abs(early.Integrated-(-32.7)) > 0.5 {
		t.Fatalf("the first half second played at %.2f LUFS; want the call's own -31.7 less the 1 dB headroom a provisional gain keeps (no boost before the peak is known)", early.Integrated)
	}
	if early.Peak > ceiling+1e-3 {
		t.Fatalf("provisional gain peaks at %.3f, over the ceiling", early.Peak)
	}
	m := h.audio.measure(t, ent)
	if got := g.awaitAsk(t, seconds*48000); got != m {
		t.Fatalf("the player levelled with %+v, the relay measured %+v", got, m)
	}
	h.awaitGlide(playing, loudness.Leveller{}.Gain(m, 0, true))
	rest := h.out.pull(t, (seconds-0.5)*48000)
	late := lufs(t, rest[len(rest)-48000*2:]) // the last second
	if math.Abs(late.Integrated-loudness.DefaultTarget) > 0.3 {
		t.Fatalf("after the measurement the call plays at %.2f LUFS, want %.0f ± 0.3", late.Integrated, loudness.DefaultTarget)
	}
	all := append(first, rest...)
	if p := peakOf(all); p > ceiling+1e-3 {
		t.Fatalf("the call peaks at %.3f: over the -1 dBFS ceiling", p)
	}
	clickFree(t, all, 440, ceiling)
}

// A call whose measurement is kept with its cache entry plays at its
// level from the first sample: the relay's measurement, as is.
func TestPlayer_MeasuredCallPlaysAtItsLevelFromTheFirstSample(t *testing.T) {
	g := newLevelledGain()
	h := newHarness(t, Options{Gain: g.gain})
	call := h.audio.put(t, 1, sineWAV(-31, 2*48000))
	h.enqueue(call)
	got := h.out.pull(t, 2*48000)
	if first := lufs(t, got[:2*48000/2]); math.Abs(first.Integrated-loudness.DefaultTarget) > 0.3 {
		t.Fatalf("the first half second played at %.2f LUFS, want %.0f", first.Integrated, loudness.DefaultTarget)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.asked) != 1 || g.asked[0].Frames != 2*48000 {
		t.Fatalf("the gain was asked for %+v; want once, for the whole call's measurement", g.asked)
	}
}

// A call decoded ahead while still unmeasured, and measured before its
// turn, plays at the measured gain from its first sample: no glide.
func TestPlayer_MeasurementBeforeItsTurnNeedsNoGlide(t *testing.T) {
	g := newLevelledGain()
	h := newHarness(t, Options{Gain: g.gain})
	first := h.audio.put(t, 1, sineWAV(-20, 48000))
	second, ent := h.audio.putUnmeasured(t, 2, sineWAV(-31, 2*48000))
	h.enqueue(first, second)
	h.out.pull(t, 48000/4) // call 1 plays; call 2 is decoded ahead meanwhile
	h.waitFor("call 2 decoded ahead", func(State) bool {
		h.p.mu.Lock()
		defer h.p.mu.Unlock()
		return h.p.next != nil && h.p.next.e.call.ID == 2
	})
	h.audio.measure(t, ent)
	h.awaitGlide(decodedNext, loudness.Leveller{}.Gain(g.awaitAsk(t, 2*48000), 0, true))
	got := h.out.pull(t, 48000*3/4+2*48000)
	two := got[2*48000*3/4:]
	if start := lufs(t, two[:2*48000*4/10]); math.Abs(start.Integrated-loudness.DefaultTarget) > 0.3 {
		t.Fatalf("call 2's first 400 ms played at %.2f LUFS, want %.0f", start.Integrated, loudness.DefaultTarget)
	}
}

// A loud call that is never measured (the relay's measurement failed,
// say) is brought down by the estimate of what played of it: it starts
// as recorded (under the ceiling) and, after estimateTime, glides to the
// target, without a click or a clipped sample.
func TestPlayer_UnmeasuredLoudCallIsBroughtDownByItsEstimate(t *testing.T) {
	g := newLevelledGain()
	h := newHarness(t, Options{Gain: g.gain})
	call, _ := h.audio.putUnmeasured(t, 1, sineWAV(-3, 2*48000))
	h.enqueue(call)
	got := h.out.pull(t, estimateFrames)
	est := g.awaitAsk(t, estimateFrames)
	if math.Abs(est.Integrated-(-3.7)) > 0.3 || est.Peak != 1 {
		t.Fatalf("the estimate of the first 400 ms: %+v; want about -3.7 LUFS, taken as peaking at full scale", est)
	}
	h.awaitGlide(playing, loudness.Leveller{}.Gain(est, 0, true))
	got = append(got, h.out.pull(t, 2*48000-estimateFrames)...)
	if first := lufs(t, got[:2*48000*3/10]); math.Abs(first.Integrated-(-4.7)) > 0.3 {
		t.Fatalf("the first 300 ms played at %.2f LUFS; want as recorded less the 1 dB headroom (-4.7)", first.Integrated)
	}
	if late := lufs(t, got[2*48000:]); math.Abs(late.Integrated-loudness.DefaultTarget) > 0.3 {
		t.Fatalf("its second second played at %.2f LUFS, want %.0f", late.Integrated, loudness.DefaultTarget)
	}
	if p := peakOf(got); p > ceiling+1e-3 {
		t.Fatalf("the call peaks at %.3f: over the ceiling", p)
	}
	clickFree(t, got, 440, ceiling)
}

// relayBackend is a server with one call whose audio is the given bytes.
type relayBackend struct {
	audio []byte
	emit  chan func(event.Event)
}

func (b *relayBackend) Run(ctx context.Context, emit func(event.Event)) error {
	b.emit <- emit
	<-ctx.Done()
	return ctx.Err()
}

func (b *relayBackend) FetchAudio(_ context.Context, _ event.Call, w io.Writer) (string, error) {
	_, err := w.Write(b.audio)
	return "audio/wav", err
}

func (b *relayBackend) Status() event.Status { return event.Status{State: event.StateConnected} }

// End to end with the real relay core: a call prefetched at call.new is
// measured by the relay, and the player plays it levelled with that very
// measurement from its first sample, measuring nothing itself.
func TestPlayer_PrefetchedCallGetsTheRelaysMeasurement(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(dir, 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := &relayBackend{audio: sineWAV(-31, 3*48000), emit: make(chan func(event.Event), 1)}
	core, err := relay.New(relay.Options{Backend: b, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- core.Run(ctx) }()
	defer func() { cancel(); <-done }()
	emit := audiotest.Await(t, b.emit, "the relay to start")
	call := event.Call{ID: 1, SystemID: 1, TalkgroupID: 101, DateTime: time.Now().Unix()}
	emit(event.Event{Type: event.TypeCall, Call: &call})
	// The prefetch and its measurement, before anyone asks for the call:
	// the relay keeps it beside the audio.
	deadline := time.Now().Add(audiotest.HangGuard)
	for {
		if kept, _ := filepath.Glob(filepath.Join(dir, "*.loudness")); len(kept) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay never measured the prefetched call")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ent, err := core.Audio(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	measured, _ := ent.Loudness()

	g := newLevelledGain()
	h := newHarness(t, Options{Gain: g.gain, Audio: core})
	h.enqueue(call)
	got := h.out.pull(t, 3*48000)
	if first := lufs(t, got[:2*48000*4/10]); math.Abs(first.Integrated-loudness.DefaultTarget) > 0.3 {
		t.Fatalf("the first 400 ms played at %.2f LUFS, want %.0f", first.Integrated, loudness.DefaultTarget)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.asked) != 1 || g.asked[0] != measured {
		t.Fatalf("the player levelled with %+v; want the relay's measurement %+v, once", g.asked, measured)
	}
}
