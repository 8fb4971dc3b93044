package player

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"earshot/relay/audio"
	"earshot/relay/audio/audiotest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/loudness"
	"earshot/relay/media"
)

// fakeAudio serves call audio from a real on-disk cache.
type fakeAudio struct {
	c *cache.Cache

	mu      sync.Mutex
	entries map[int64]*cache.Entry
	errs    map[int64]error
	fetches int
	all     *cache.Entry // served for ids with no entry of their own, if set
}

func newFakeAudio(t testing.TB) *fakeAudio {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 64<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAudio{c: c, entries: map[int64]*cache.Entry{}, errs: map[int64]error{}}
}

// put caches data as call id's audio, measured as the relay measures
// what it caches (most calls are by the time they play).
func (f *fakeAudio) put(t testing.TB, id int64, data []byte) event.Call {
	t.Helper()
	c, e := f.putEntry(t, id, data)
	f.measure(t, e)
	return c
}

// putUnmeasured is put for a call whose measurement has not finished:
// the test calls measure when it should.
func (f *fakeAudio) putUnmeasured(t testing.TB, id int64, data []byte) (event.Call, *cache.Entry) {
	t.Helper()
	return f.putEntry(t, id, data)
}

// measure measures an entry's audio as the relay does and keeps the
// result with it.
func (f *fakeAudio) measure(t testing.TB, e *cache.Entry) loudness.Result {
	t.Helper()
	r, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, media.SniffLen)
	n, _ := io.ReadFull(r, head)
	format := media.Sniff(head[:n])
	var s *audio.Stream
	if format != media.Unknown { // the relay gives up on those too
		s, err = audio.Decode(context.Background(), r, format, audio.DefaultRate)
	}
	if s == nil || err != nil {
		// Not audio (some tests cache other bytes): nothing to measure.
		e.NotMeasurable()
		return loudness.Result{}
	}
	defer s.Close()
	m, _ := loudness.NewMeter(audio.Channels, audio.DefaultRate)
	if _, err := io.Copy(m, s); err != nil && m.Frames() == 0 {
		e.NotMeasurable()
		return loudness.Result{}
	}
	if err := e.SetLoudness(m.Result()); err != nil {
		t.Fatal(err)
	}
	return m.Result()
}

func (f *fakeAudio) putEntry(t testing.TB, id int64, data []byte) (event.Call, *cache.Entry) {
	t.Helper()
	e, err := f.c.Put(strconv.FormatInt(id, 10), data)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.entries[id] = e
	f.mu.Unlock()
	return event.Call{ID: id, SystemID: 1, TalkgroupID: 100 + id, TalkgroupLabel: "TG " + strconv.FormatInt(id, 10)}, e
}

var errNoSuchCall = errors.New("call not found")

func (f *fakeAudio) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	if err := f.errs[id]; err != nil {
		return nil, err
	}
	if e, ok := f.entries[id]; ok {
		return e, nil
	}
	if f.all != nil {
		return f.all, nil
	}
	return nil, errNoSuchCall
}

// fakeOutput is a sink the test drives: nothing is read until the test
// pulls, so what the player hands over is fully deterministic.
type fakeOutput struct {
	rate     int
	startErr error
	started  chan struct{}

	mu  sync.Mutex
	src io.Reader
	err error
}

func newFakeOutput() *fakeOutput { return &fakeOutput{rate: 48000, started: make(chan struct{})} }

func (o *fakeOutput) SampleRate() int { return o.rate }

func (o *fakeOutput) Start(ctx context.Context, src io.Reader) error {
	if o.startErr != nil {
		return o.startErr
	}
	o.mu.Lock()
	o.src = src
	o.mu.Unlock()
	close(o.started)
	return nil
}

func (o *fakeOutput) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func (o *fakeOutput) fail(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

// pullAsync reads frames frames the way a device does (in reads of at
// most 256 frames) on another goroutine.
func (o *fakeOutput) pullAsync(frames int) <-chan []int16 {
	res := make(chan []int16, 1)
	go func() {
		<-o.started
		o.mu.Lock()
		src := o.src
		o.mu.Unlock()
		buf := make([]byte, frames*FrameSize)
		got := 0
		for got < len(buf) {
			end := min(len(buf), got+256*FrameSize)
			n, err := src.Read(buf[got:end])
			got += n
			if err != nil {
				break
			}
		}
		res <- audiotest.Samples(buf[:got])
	}()
	return res
}

func (o *fakeOutput) pull(t testing.TB, frames int) []int16 {
	t.Helper()
	return audiotest.Await(t, o.pullAsync(frames), "the player to hand over audio")
}

// harness runs a Player against a fakeOutput and fakeAudio.
type harness struct {
	t      testing.TB
	p      *Player
	out    *fakeOutput
	audio  *fakeAudio
	notify chan struct{}
}

// newHarness runs a player with its de-click ramps off, so tests can
// check the PCM sample for sample; newFadingHarness keeps them on.
func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	return startHarness(t, opts, false)
}

func newFadingHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	return startHarness(t, opts, true)
}

func startHarness(t testing.TB, opts Options, fades bool) *harness {
	t.Helper()
	h := &harness{t: t, notify: make(chan struct{}, 1)}
	if opts.Output == nil {
		opts.Output = newFakeOutput()
	}
	h.out, _ = opts.Output.(*fakeOutput)
	if opts.Audio == nil {
		h.audio = newFakeAudio(t)
		opts.Audio = h.audio
	}
	if opts.Tick == 0 {
		opts.Tick = 10 * time.Millisecond
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	if !fades {
		p.fadeFrames = 0
	}
	p.OnChange(func(State) {
		select {
		case h.notify <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := audiotest.Await(t, done, "Run to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return h
}

// waitFor waits until cond holds for the player's state.
func (h *harness) waitFor(what string, cond func(State) bool) State {
	h.t.Helper()
	deadline := time.After(audiotest.HangGuard)
	for {
		st := h.p.State()
		if cond(st) {
			return st
		}
		select {
		case <-h.notify:
		case <-deadline:
			h.t.Fatalf("gave up waiting for %s; state: %+v", what, st)
		}
	}
}

// runs splits samples into runs of equal value: [{value, count}, …].
type run struct {
	v int16
	n int
}

func runs(s []int16) []run {
	var out []run
	for _, v := range s {
		if len(out) > 0 && out[len(out)-1].v == v {
			out[len(out)-1].n++
			continue
		}
		out = append(out, run{v, 1})
	}
	return out
}
