package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"earshot/relay/audio"
	"earshot/relay/cache"
	"earshot/relay/loudness"
	"earshot/relay/media"
)

// Every call's audio is measured once (EBU R128 integrated loudness and
// peak, relay/loudness), as it enters the cache — prefetched at call.new,
// sent inline by a 1.1 server, or fetched on demand — and the result is
// kept with the cache entry, beside its audio (relay/cache). A player then
// has the gain for a call before it needs it, instead of decoding and
// measuring the whole call before the first sound.
//
// The work is bounded: a small pool of measurers (never the hub's
// goroutine, nor a consumer's request), a bounded queue, one measurement
// per entry. A call someone asks for (Audio) goes to the front of the
// queue; prefetched calls wait their turn. And a measurement waits until
// startGrace after its audio was cached: a call played the instant it
// arrives starts then (the sound device waking, the first frames
// decoding), and its first sound must not share the processor with its
// measurement. Its gain follows a little later, gliding.

// maxLevelQueue bounds the entries waiting to be measured; past it, a
// prefetched call is measured when someone asks for it.
const maxLevelQueue = 4096

// startGrace is how long after its audio was cached a call is measured at
// the soonest. Measuring at once cost a call played from a suspended
// sound device 12–14 ms of its first sound (from-idle benchmark, loaded
// machine).
const startGrace = 50 * time.Millisecond

// maxMeasured bounds how much of one call is measured; the rest of a
// longer call plays with the gain of its first part.
const maxMeasured = 20 * time.Minute

// measureDecoder is how the relay decodes calls to measure them: at their
// own rate when Go decodes them (resampling an 8 kHz call to 48 kHz costs
// about 3 ms a second of audio, measuring it at 8 kHz a tenth of that; the
// readings differ by 0.1–0.25 LU), and damaged WAV or MP3 files cost no
// ffmpeg process.
func measureDecoder(ffmpeg string) audio.Decoder {
	return audio.Decoder{FFmpeg: ffmpeg, TrustGo: true, KeepRate: true}
}

// levels measures cache entries. Its zero value is not ready: use
// newLevels.
type levels struct {
	dec      audio.Decoder
	log      *slog.Logger
	maxQueue int
	grace    time.Duration    // startGrace; tests shorten it
	now      func() time.Time // time.Now; tests set it

	mu      sync.Mutex
	queue   []*cache.Entry        // next first
	pending map[*cache.Entry]bool // queued or being measured
	wake    chan struct{}

	measured atomic.Int64 // measurements made, for tests and benchmarks
}

func newLevels(dec audio.Decoder, log *slog.Logger) *levels {
	return &levels{dec: dec, log: log, maxQueue: maxLevelQueue, grace: startGrace, now: time.Now,
		pending: make(map[*cache.Entry]bool), wake: make(chan struct{}, 1)}
}

// want asks for e to be measured, unless it is (or is being) already.
// urgent puts it first: someone is about to play it. It never blocks.
func (l *levels) want(e *cache.Entry, urgent bool) {
	if e == nil || e.Measured() == nil {
		return
	}
	select {
	case <-e.Measured():
		return
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[e] {
		if i := slices.Index(l.queue, e); urgent && i > 0 {
			l.queue = slices.Insert(slices.Delete(l.queue, i, i+1), 0, e)
		}
		return
	}
	if len(l.queue) >= l.maxQueue && !urgent {
		return
	}
	if urgent {
		l.queue = slices.Insert(l.queue, 0, e)
	} else {
		l.queue = append(l.queue, e)
	}
	l.pending[e] = true
	l.signal()
}

func (l *levels) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next takes the first entry due for measuring off the queue; with none
// due, it says how long until one is (0: none is queued).
func (l *levels) next() (*cache.Entry, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for i, e := range l.queue {
		due := e.ModTime.Add(l.grace)
		if due.Sub(now) > l.grace {
			due = now // a clock gone back, or a file from the future
		}
		if !now.Before(due) {
			l.queue = slices.Delete(l.queue, i, i+1)
			if len(l.queue) > 0 {
				l.signal() // for another measurer
			}
			return e, 0
		}
		if d := due.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	return nil, wait
}

// run measures queued entries until ctx ends.
func (l *levels) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		e, wait := l.next()
		if e == nil {
			var due <-chan time.Time
			if wait > 0 {
				t.Reset(wait)
				due = t.C
			}
			select {
			case <-ctx.Done():
				return
			case <-l.wake:
			case <-due:
			}
			continue
		}
		l.measure(ctx, e)
		l.mu.Lock()
		delete(l.pending, e)
		l.mu.Unlock()
	}
}

// measure measures one entry and keeps the result with it. An entry whose
// audio cannot be measured is marked so (a player then keeps the gain it
// started with).
func (l *levels) measure(ctx context.Context, e *cache.Entry) {
	r, err := measureAudio(ctx, l.dec, e)
	switch {
	case ctx.Err() != nil:
		return // shutting down; a later start measures it
	case err != nil:
		l.log.Debug("cannot measure a call's loudness", "key", e.Key, "err", err)
		e.NotMeasurable()
		return
	}
	l.measured.Add(1)
	if err := e.SetLoudness(r); err != nil && !errors.Is(err, cache.ErrClosed) {
		l.log.Warn("could not keep a call's loudness with its audio", "key", e.Key, "err", err)
	}
}

// measureAudio decodes an entry's audio (stereo, as it is heard; at its
// own rate if dec keeps it) and measures it while it decodes.
func measureAudio(ctx context.Context, dec audio.Decoder, e *cache.Entry) (loudness.Result, error) {
	f, err := e.Open()
	if err != nil {
		return loudness.Result{}, err
	}
	defer f.Close()
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return loudness.Result{}, fmt.Errorf("read the call's audio: %w", err)
	}
	format := media.Sniff(head[:n])
	if format == media.Unknown {
		// Not worth an ffmpeg process per call: recorders upload the
		// formats media knows.
		return loudness.Result{}, fmt.Errorf("%w: not a recognised audio format", audio.ErrBadAudio)
	}
	s, err := dec.Decode(ctx, f, format, audio.DefaultRate)
	if err != nil {
		return loudness.Result{}, err
	}
	defer s.Close()
	m, err := loudness.NewMeter(audio.Channels, s.Rate)
	if err != nil {
		// A rate too low to measure (under 8 kHz): measured as played.
		s.Close()
		dec.KeepRate = false
		if s, err = dec.Decode(ctx, f, format, audio.DefaultRate); err != nil {
			return loudness.Result{}, err
		}
		defer s.Close()
		if m, err = loudness.NewMeter(audio.Channels, s.Rate); err != nil {
			return loudness.Result{}, err
		}
	}
	limit := int64(maxMeasured/time.Second) * int64(s.Rate) * audio.FrameSize
	err = measureYielding(ctx, m, io.LimitReader(s, limit))
	if err != nil && m.Frames() == 0 {
		return loudness.Result{}, err
	}
	// Audio damaged part way plays up to the damage: that part is what
	// is heard, so its measurement stands.
	return m.Result(), nil
}

// measureChunk is how many bytes of decoded PCM are measured between yields
// (21 ms of audio at 48 kHz, a fraction of a millisecond of work).
const measureChunk = 4096

// measureYielding feeds r to m a chunk at a time, letting other goroutines
// run between chunks: a call starting to play at the moment its
// measurement starts (the usual case: both follow its download) must not
// wait behind it for the Go scheduler's 10 ms preemption.
func measureYielding(ctx context.Context, m *loudness.Meter, r io.Reader) error {
	buf := make([]byte, measureChunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, buf)
		_, _ = m.Write(buf[:n])
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
		runtime.Gosched()
	}
}
