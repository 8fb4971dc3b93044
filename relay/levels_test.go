package relay

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"

	"earshot/relay/audio"
	"earshot/relay/audio/audiotest"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/loudness"
	"earshot/relay/media"
)

// toneWAV is an 8 kHz mono WAV (as trunk-recorder writes) of a 440 Hz
// tone at dbfs; played as stereo at 48 kHz it reads about dbfs-0.7 LUFS
// (near enough, measured at its own 8 kHz: see lufsTolerance).
func toneWAV(dbfs, seconds float64) []byte {
	a := math.Pow(10, dbfs/20)
	return audiotest.MakeWAV(audiotest.WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: int(8000 * seconds),
		Sample: func(i, _ int) float64 { return a * math.Sin(2*math.Pi*440*float64(i)/8000) }})
}

// runRelayOn runs a relay on the cache in dir until the returned stop is
// called (the cache is closed then too).
// lufsTolerance: the relay measures an 8 kHz call at 8 kHz, which reads
// within 0.25 LU of the 48 kHz the player plays it at.
const lufsTolerance = 0.35

func runRelayOn(t *testing.T, dir string, b *fakeBackend) (*Relay, func()) {
	t.Helper()
	c, err := cache.Open(dir, 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Backend: b, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-b.ready
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := audiotest.Await(t, done, "the relay to stop"); err != nil {
			t.Errorf("Run: %v", err)
		}
		c.Close()
	}
	t.Cleanup(stop)
	return r, stop
}

// openCache opens a cache in a temporary directory for the test.
func openCache(t testing.TB) *cache.Cache {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// measuredEntry waits for call id's audio to be cached and measured.
func measuredEntry(t *testing.T, r *Relay, id int64) (*cache.Entry, loudness.Result) {
	t.Helper()
	e, err := r.Audio(context.Background(), id)
	if err != nil {
		t.Fatalf("Audio(%d): %v", id, err)
	}
	audiotest.Await(t, e.Measured(), "the call's loudness to be measured")
	m, ok := e.Loudness()
	if !ok {
		t.Fatalf("call %d could not be measured", id)
	}
	return e, m
}

func toneCall(id int64) event.Event {
	return event.Event{Type: event.TypeCall, Call: &event.Call{ID: id, SystemID: 1, TalkgroupID: 101, DateTime: 1_700_000_000 + id}}
}

// A call prefetched at call.new is measured by the relay, once, with no
// one asking; the measurement is kept with its cache entry and a later
// start of the relay on the same cache finds it there (no new
// measurement, no new download).
func TestRelay_PrefetchedCallIsMeasuredOnceAndKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	b := newFakeBackend()
	b.fetch = func(_ context.Context, c event.Call, w io.Writer) (string, error) {
		_, err := w.Write(toneWAV(-20, 2))
		return "audio/wav", err
	}
	r, stop := runRelayOn(t, dir, b)
	b.send(toneCall(5))
	// Wait for the prefetch and its measurement without asking for the
	// audio (which would make it urgent).
	deadline := time.Now().Add(audiotest.HangGuard)
	for r.levels.measured.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the prefetched call was never measured")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, m := measuredEntry(t, r, 5)
	if math.Abs(m.Integrated-(-20.7)) > lufsTolerance || math.Abs(m.Peak-0.1) > 0.005 || m.Frames != 2*8000 {
		t.Fatalf("measured %+v; want about -20.7 LUFS, peak 0.1, 16000 frames (2 s at its own 8 kHz)", m)
	}
	if n := r.levels.measured.Load(); n != 1 {
		t.Fatalf("%d measurements of one call", n)
	}
	stop()

	b2 := newFakeBackend()
	b2.fetch = func(context.Context, event.Call, io.Writer) (string, error) {
		t.Error("the audio was downloaded again after a restart")
		return "", errNoSuchCall
	}
	r2, _ := runRelayOn(t, dir, b2)
	b2.send(toneCall(5)) // the same call, from the server's history
	e, err := r2.Audio(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.Loudness(); !ok || got != m {
		t.Fatalf("after a restart: Loudness = %+v, %v; want %+v at once", got, ok, m)
	}
	time.Sleep(50 * time.Millisecond) // a measurement would be under way now
	if n := r2.levels.measured.Load(); n != 0 {
		t.Fatalf("measured %d times again after a restart", n)
	}
}

// 1.1 servers send the audio inside the frame: it is measured too.
func TestRelay_InlineAudioIsMeasured(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(context.Context, event.Call, io.Writer) (string, error) { return "", errNoSuchCall }
	r, _ := runRelayOn(t, t.TempDir(), b)
	ev := toneCall(7)
	ev.Call.InlineAudio = toneWAV(-30, 1)
	b.send(ev)
	if _, m := measuredEntry(t, r, 7); math.Abs(m.Integrated-(-30.7)) > lufsTolerance {
		t.Fatalf("inline audio measured %+v, want about -30.7 LUFS", m)
	}
}

// The audio of a call the relay holds no record of (fetched afresh each
// time) is measured too, and audio that is not audio is given up on:
// Measured closes, Loudness says no.
func TestRelay_OnDemandAndUnmeasurableAudio(t *testing.T) {
	b := newFakeBackend()
	b.fetch = func(_ context.Context, c event.Call, w io.Writer) (string, error) {
		if c.ID == 9 {
			_, err := w.Write([]byte("not audio at all"))
			return "", err
		}
		_, err := w.Write(toneWAV(-25, 1))
		return "", err
	}
	r, _ := runRelayOn(t, t.TempDir(), b)
	if _, m := measuredEntry(t, r, 1234); math.Abs(m.Integrated-(-25.7)) > lufsTolerance {
		t.Fatalf("on demand: %+v, want about -25.7 LUFS", m)
	}
	b.send(toneCall(9))
	e, err := r.Audio(context.Background(), 9)
	if err != nil {
		t.Fatal(err)
	}
	audiotest.Await(t, e.Measured(), "the relay to give up on audio that is not audio")
	if m, ok := e.Loudness(); ok {
		t.Fatalf("garbage measured as %+v", m)
	}
}

// A call someone asks for is measured before prefetched ones waiting.
func TestLevels_AskedForGoesFirstAndTheQueueIsBounded(t *testing.T) {
	c := openCache(t)
	l := newLevels(measureDecoder(""), slog.New(slog.DiscardHandler))
	var es []*cache.Entry
	for i := range 3 {
		e, err := c.Put("k"+string(rune('a'+i)), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		l.want(e, false)
	}
	l.want(es[2], true)
	l.want(es[0], false) // queued already: stays where it is
	order := l.queue
	if len(order) != 3 || order[0] != es[2] || order[1] != es[0] || order[2] != es[1] {
		t.Fatalf("queue order %v, want c a b", order)
	}
	// Full: prefetched calls wait for someone to ask; asked-for ones
	// still go in.
	l.maxQueue = 3
	extra, _ := c.Put("kd", []byte("x"))
	l.want(extra, false)
	if len(l.queue) != 3 || l.pending[extra] {
		t.Fatalf("a prefetched call was queued past the bound: %d queued", len(l.queue))
	}
	l.want(extra, true)
	if len(l.queue) != 4 || l.queue[0] != extra {
		t.Fatal("an asked-for call was not queued first when the queue was full")
	}
	// Measured ones and entries of no cache are not queued.
	es[1].NotMeasurable()
	l.queue, l.pending = nil, map[*cache.Entry]bool{}
	l.want(es[1], true)
	l.want(&cache.Entry{Key: "x"}, true)
	if len(l.queue) != 0 {
		t.Fatalf("%d entries queued that need no measurement", len(l.queue))
	}
}

// The relay's measurement (at a call's own rate when Go decodes it) reads
// what the player plays (48 kHz) within 0.3 LU; a rate too low for the
// meter is measured at 48 kHz.
func TestMeasureAudio_ReadsAsPlayed(t *testing.T) {
	ca := openCache(t)
	low := audiotest.MakeWAV(audiotest.WAVSpec{Rate: 6000, Channels: 1, Bits: 16, Frames: 6000,
		Sample: func(i, _ int) float64 { return 0.2 * math.Sin(2*math.Pi*300*float64(i)/6000) }})
	for i, data := range [][]byte{
		backendtest.SynthRadioWAV(10, 140, 8000, 1),
		backendtest.SynthRadioWAV(10, 220, 16000, 2),
		audiotest.Fixture(t, "speech.wav"),
		audiotest.Fixture(t, "speech.mp3"),
		low,
	} {
		e, err := ca.Put(strconv.Itoa(i), data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := measureAudio(context.Background(), measureDecoder(""), e)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		s, err := audio.Decode(context.Background(), bytes.NewReader(data), media.Sniff(data), audio.DefaultRate)
		if err != nil {
			t.Fatal(err)
		}
		pcm, _ := io.ReadAll(s)
		played, _ := loudness.MeasureS16(pcm, audio.Channels, audio.DefaultRate)
		if math.Abs(got.Integrated-played.Integrated) > 0.3 || math.Abs(got.Peak-played.Peak) > 0.05 {
			t.Errorf("file %d: measured %+v, played %+v", i, got, played)
		}
	}
}

// A measurement waits until startGrace after its audio was cached (the
// call may be starting to play), the first due entry going first; an
// entry whose file claims a time ahead of the clock is due at once.
func TestLevels_MeasurementWaitsOutTheStartGrace(t *testing.T) {
	c := openCache(t)
	l := newLevels(measureDecoder(""), slog.New(slog.DiscardHandler))
	older, _ := c.Put("a", []byte("x"))
	newer, _ := c.Put("b", []byte("y"))
	at := newer.ModTime
	l.now = func() time.Time { return at }
	l.want(older, false)
	l.want(newer, true) // asked for: first in the queue
	if e, wait := l.next(); e != nil || wait <= 0 || wait > startGrace {
		t.Fatalf("next at once = %v, %v; want nothing yet, and a wait of at most %v", e, wait, startGrace)
	}
	at = newer.ModTime.Add(startGrace)
	if e, _ := l.next(); e != newer {
		t.Fatalf("after the grace next = %v, want the asked-for entry first", e)
	}
	if e, _ := l.next(); e != older {
		t.Fatalf("then next = %v, want the other", e)
	}
	if e, wait := l.next(); e != nil || wait != 0 {
		t.Fatalf("empty queue: next = %v, %v", e, wait)
	}
	at = newer.ModTime.Add(-time.Hour) // the clock went back an hour
	future, _ := c.Put("c", []byte("z"))
	l.want(future, false)
	if e, _ := l.next(); e != future {
		t.Fatal("an entry stamped ahead of the clock waits")
	}
}

// BenchmarkMeasureCall is the relay's work for one call as it enters the
// cache: decoding it (to 48 kHz stereo, as the player hears it) and
// measuring it, for a 30 s 8 kHz radio WAV and the 1 s MP3 fixture.
//
//	go test -run '^$' -bench MeasureCall -count 4 ./relay/
func BenchmarkMeasureCall(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"wav-30s", toneWAV(-20, 30)},
		{"mp3-1s", audiotest.Fixture(b, "speech.mp3")},
	} {
		b.Run(c.name, func(b *testing.B) {
			ca := openCache(b)
			e, err := ca.Put("1", c.data)
			if err != nil {
				b.Fatal(err)
			}
			dec := measureDecoder("")
			for b.Loop() {
				if _, err := measureAudio(context.Background(), dec, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
