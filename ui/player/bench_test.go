package player

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
	"earshot/relay/loudness"
)

// BenchmarkCallToFirstFrame measures, for a call whose MP3 is already in
// the cache, the time from Enqueue to the first PCM frame handed to the
// output (fetch from cache, sniff, MP3 decoder setup, hand-off). The
// output pulls continuously, like a sound card. Target: median ≤ 150 ms.
func BenchmarkCallToFirstFrame(b *testing.B) {
	benchFirstFrame(b, audiotest.Fixture(b, "speech.mp3"), Options{}, true)
}

// BenchmarkCallToFirstFrameLevelled is BenchmarkCallToFirstFrame with
// loudness levelling on, for a 10 s and a 30 s call (8 kHz WAV, as
// trunk-recorder writes):
//
//   - measured: the relay measured the call when it cached it (a call
//     prefetched at call.new: the usual case), and the player takes the
//     gain kept with the cache entry;
//   - unmeasured: the measurement has not finished (a call played the
//     instant it arrived): the player starts on a provisional gain from the
//     call's first 400 ms.
//
// Before the relay measured calls, the player decoded and measured the
// whole call before its first frame (34 ms for 10 s, 130 ms for 30 s).
func BenchmarkCallToFirstFrameLevelled(b *testing.B) {
	var l loudness.Leveller
	gain := func(_ event.Call, m loudness.Result) float64 { return l.Gain(m, 0, true) }
	for _, seconds := range []int{10, 30} {
		wav := audiotest.MakeWAV(audiotest.WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: 8000 * seconds,
			Sample: func(i, _ int) float64 { return 0.1 * math.Sin(2*math.Pi*300*float64(i)/8000) }})
		for _, measured := range []bool{true, false} {
			name := fmt.Sprintf("%ds/unmeasured", seconds)
			if measured {
				name = fmt.Sprintf("%ds/measured", seconds)
			}
			b.Run(name, func(b *testing.B) {
				benchFirstFrame(b, wav, Options{Gain: gain}, measured)
			})
		}
	}
}

func benchFirstFrame(b *testing.B, data []byte, opts Options, measured bool) {
	out := newFakeOutput()
	audio := newFakeAudio(b)
	call, ent := audio.putUnmeasured(b, 1, data)
	if measured {
		audio.measure(b, ent)
	}
	audio.mu.Lock()
	audio.all = ent
	audio.mu.Unlock()

	opts.Audio, opts.Output = audio, out
	p, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	notify := make(chan struct{}, 1)
	p.OnChange(func(State) {
		select {
		case notify <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The "sound card": reads 10 ms at a time, and reports the first
	// non-empty read after being armed.
	var armed atomic.Bool
	got := make(chan time.Time, 1)
	go func() {
		<-out.started
		buf := make([]byte, 480*FrameSize)
		for {
			n, err := out.src.Read(buf)
			if err != nil {
				return
			}
			if n > 0 && armed.CompareAndSwap(true, false) {
				got <- time.Now()
			}
		}
	}()

	waitIdle := func() {
		for p.State().Call != nil {
			audiotest.Await(b, notify, "the player to go idle")
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := call
		c.ID = int64(i + 2) // a new call each time, same cached audio
		armed.Store(true)
		start := time.Now()
		p.Enqueue(c)
		t := audiotest.Await(b, got, "the first frame")
		lat = append(lat, t.Sub(start))
		b.StopTimer()
		p.Skip()
		waitIdle()
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(d[len(d)*95/100].Microseconds())/1000, "ms-p95")
}
