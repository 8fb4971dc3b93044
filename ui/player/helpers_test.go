package player

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"earshot/relay/cache"
	"earshot/relay/event"
)

// hangGuard bounds waits that would otherwise hang a broken test forever.
// It is never a timing assertion: anything correct finishes far sooner.
const hangGuard = 20 * time.Second

// wavSpec describes a WAV file makeWAV builds.
type wavSpec struct {
	rate, channels, bits int
	float                bool
	frames               int
	// sample returns channel ch of frame i in -1..1.
	sample func(i, ch int) float64
}

// makeWAV builds a WAV file in memory.
func makeWAV(s wavSpec) []byte {
	bps := s.bits / 8
	data := make([]byte, 0, s.frames*s.channels*bps)
	for i := 0; i < s.frames; i++ {
		for ch := 0; ch < s.channels; ch++ {
			v := s.sample(i, ch)
			switch {
			case s.float:
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)))
			case s.bits == 8:
				data = append(data, byte(int(math.Round(v*127))+128))
			case s.bits == 16:
				data = binary.LittleEndian.AppendUint16(data, uint16(int16(math.Round(v*32767))))
			case s.bits == 24:
				x := int32(math.Round(v * 8388607))
				data = append(data, byte(x), byte(x>>8), byte(x>>16))
			case s.bits == 32:
				data = binary.LittleEndian.AppendUint32(data, uint32(int32(math.Round(v*2147483647))))
			}
		}
	}
	tag := uint16(1)
	if s.float {
		tag = 3
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, tag)
	binary.Write(&b, binary.LittleEndian, uint16(s.channels))
	binary.Write(&b, binary.LittleEndian, uint32(s.rate))
	binary.Write(&b, binary.LittleEndian, uint32(s.rate*s.channels*bps))
	binary.Write(&b, binary.LittleEndian, uint16(s.channels*bps))
	binary.Write(&b, binary.LittleEndian, uint16(s.bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// constWAV is 48 kHz stereo 16-bit audio whose every sample is v: the
// player tests tell calls apart by their sample value.
func constWAV(v int16, frames int) []byte {
	return makeWAV(wavSpec{rate: 48000, channels: 2, bits: 16, frames: frames,
		sample: func(int, int) float64 { return float64(v) / 32767 }})
}

// readAll reads a stream to its end.
func readAll(t testing.TB, s *Stream) []int16 {
	t.Helper()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	if len(b)%FrameSize != 0 {
		t.Fatalf("stream returned %d bytes, not whole frames", len(b))
	}
	return samples(b)
}

func samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// rms is the root mean square of samples, relative to full scale.
func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		f := float64(v) / 32768
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(s)))
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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

func (f *fakeAudio) put(t testing.TB, id int64, data []byte) event.Call {
	t.Helper()
	e, err := f.c.Put(strconv.FormatInt(id, 10), data)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.entries[id] = e
	f.mu.Unlock()
	return event.Call{ID: id, SystemID: 1, TalkgroupID: 100 + id, TalkgroupLabel: "TG " + strconv.FormatInt(id, 10)}
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
		res <- samples(buf[:got])
	}()
	return res
}

func (o *fakeOutput) pull(t testing.TB, frames int) []int16 {
	t.Helper()
	return await(t, o.pullAsync(frames), "the player to hand over audio")
}

func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
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
		if err := await(t, done, "Run to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return h
}

// waitFor waits until cond holds for the player's state.
func (h *harness) waitFor(what string, cond func(State) bool) State {
	h.t.Helper()
	deadline := time.After(hangGuard)
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
