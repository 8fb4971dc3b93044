package player

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
)

// BenchmarkCallToFirstFrame measures, for a call whose MP3 is already in
// the cache, the time from Enqueue to the first PCM frame handed to the
// output (fetch from cache, sniff, MP3 decoder setup, hand-off). The
// output pulls continuously, like a sound card. Target: median ≤ 150 ms.
func BenchmarkCallToFirstFrame(b *testing.B) {
	out := newFakeOutput()
	audio := newFakeAudio(b)
	mp3Call := audio.put(b, 1, audiotest.Fixture(b, "speech.mp3"))
	audio.mu.Lock()
	audio.all = audio.entries[1]
	audio.mu.Unlock()

	p, err := New(Options{Audio: audio, Output: out})
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
		c := mp3Call
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
