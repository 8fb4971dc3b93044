package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"earshot/relay/audio"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/media"
)

// Station tuning.
const (
	// maxQueued bounds the calls waiting to be played; past it the oldest
	// waiting one is skipped (a stream that falls minutes behind the radio
	// is worse than one that skips).
	maxQueued = 64
	// pcmChunkFrames is the size of the decoded pieces handed to the
	// pacer (100 ms); pcmAhead of them may wait, decoded, for it, besides
	// the startLead it takes ahead (encoder.go): two seconds in all.
	pcmChunkFrames = SampleRate / 10
	pcmAhead       = 10
	// pacerTick is how often the pacer feeds the encoder; it feeds what
	// the wall clock says is due, so a late tick catches up.
	pacerTick = 20 * time.Millisecond
	// maxDebt is the most the pacer catches up at once: after a longer
	// stall (a suspended machine) it starts afresh instead.
	maxDebt = time.Second
	// burstBytes is how much of what just played a new listener gets at
	// once (about a second), so its player has something to start with.
	burstBytes = Bitrate * 1000 / 8
	// fetchTimeout bounds waiting for one call's audio; maxCallLength
	// bounds one call's playing time (a damaged file must not hold the
	// stream for hours).
	fetchTimeout  = 30 * time.Second
	maxCallLength = 30 * time.Minute
	// encoderDelay is libmp3lame's delay, in samples, between a sample
	// going in and the frame that carries it.
	encoderDelay = 576
)

// station plays the calls of one filter to its listeners.
type station struct {
	streams *Streams
	key     string
	allows  func(event.Call, time.Time) bool
	ffmpeg  string
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // run has returned

	queued chan struct{} // a call was queued (capacity 1)
	pcm    chan pcmChunk // decoded audio, to the pacer
	sub    *hub.Subscriber

	mu        sync.Mutex
	listeners map[*Listener]struct{}
	burst     []Chunk // the last burstBytes or so of the stream
	burstLen  int
	queue     []event.Call
	resets    int    // resets seen: a call taken before one is not fetched after it
	marks     []mark // call starts the output has not reached yet
	title     string // the title of the frames being encoded now
	enc       *encoder
}

// pcmChunk is decoded mono audio at SampleRate. The first chunk of a call
// carries its title (start); the last has end set.
type pcmChunk struct {
	samples []int16
	start   bool
	title   string
	end     bool
}

// mark says that the call titled title starts at input sample pos.
type mark struct {
	pos   int64
	title string
}

func newStation(s *Streams, key string, allows func(event.Call, time.Time) bool, ffmpeg string) *station {
	ctx, cancel := context.WithCancel(s.ctx)
	return &station{
		streams: s, key: key, allows: allows, ffmpeg: ffmpeg,
		log: s.log.With("stream", key), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		queued: make(chan struct{}, 1), pcm: make(chan pcmChunk, pcmAhead),
		listeners: make(map[*Listener]struct{}),
		// Subscribed before the first listener hears anything, so a call
		// announced once its stream has started is never missed.
		sub: s.opts.Source.Subscribe(hub.DefaultQueueLen),
	}
}

// run plays until the station is stopped or its encoder fails for good.
func (st *station) run() {
	defer close(st.done)
	var wg sync.WaitGroup
	wg.Go(st.collect)
	wg.Go(st.decodeLoop)
	err := st.pace()
	st.cancel()
	wg.Wait()
	if err == nil {
		err = ErrClosed
	} else {
		st.log.Warn("the MP3 stream stopped", "err", err)
		st.streams.retire(st)
	}
	st.mu.Lock()
	for l := range st.listeners {
		st.dropLocked(l, err)
	}
	st.mu.Unlock()
}

func (st *station) add(l *Listener) {
	st.mu.Lock()
	defer st.mu.Unlock()
	burst := st.burst
	if room := cap(l.ch) / 2; len(burst) > room { // a short queue (tests)
		burst = burst[len(burst)-room:]
	}
	for _, c := range burst {
		l.ch <- c
	}
	select {
	case <-st.done:
		l.err = ErrClosed
		close(l.ch)
		return
	default:
	}
	st.listeners[l] = struct{}{}
}

// remove takes l out and reports whether it was the last listener.
func (st *station) remove(l *Listener) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.listeners[l]; ok {
		delete(st.listeners, l)
		l.err = ErrClosed
		close(l.ch)
	}
	return len(st.listeners) == 0
}

func (st *station) listenerCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.listeners)
}

// dropLocked ends listener l with err.
func (st *station) dropLocked(l *Listener, err error) {
	if _, ok := st.listeners[l]; !ok {
		return
	}
	delete(st.listeners, l)
	l.err = err
	close(l.ch)
	if l.onDrop != nil {
		l.onDrop()
	}
}

// broadcast hands c to every listener without blocking; a listener whose
// queue is full is dropped.
func (st *station) broadcast(c Chunk) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.burst = append(st.burst, c)
	st.burstLen += len(c.Data)
	for len(st.burst) > 1 && st.burstLen-len(st.burst[0].Data) >= burstBytes {
		st.burstLen -= len(st.burst[0].Data)
		st.burst[0] = Chunk{}
		st.burst = st.burst[1:]
	}
	dropped := 0
	for l := range st.listeners {
		select {
		case l.ch <- c:
		default:
			st.dropLocked(l, ErrSlowListener)
			dropped++
		}
	}
	if dropped > 0 {
		st.log.Info("dropped stream listeners that could not keep up", "dropped", dropped, "remaining", len(st.listeners))
	}
}

// collect queues the calls the filter lets through, in arrival order.
func (st *station) collect() {
	sub := st.sub
	defer func() { sub.Close() }() // the latest subscription
	for {
		select {
		case <-st.ctx.Done():
			return
		case e, ok := <-sub.Events():
			if !ok {
				if !errors.Is(sub.Err(), hub.ErrSlowConsumer) {
					return // the relay is shutting down
				}
				st.log.Warn("the stream fell behind the live feed and missed calls; following it again")
				sub = st.streams.opts.Source.Subscribe(hub.DefaultQueueLen)
				continue
			}
			if e.Type == event.TypeReset {
				// The calls waiting are void (their ids may now name
				// other calls): play what comes next.
				st.mu.Lock()
				st.queue = nil
				st.resets++
				st.mu.Unlock()
				continue
			}
			if e.Type != event.TypeCall || e.Call == nil || !st.allows(*e.Call, time.Now()) {
				continue
			}
			st.mu.Lock()
			if len(st.queue) >= maxQueued {
				st.log.Warn("too many calls waiting for the stream; skipping the oldest", "call", st.queue[0].ID)
				st.queue = st.queue[1:]
			}
			st.queue = append(st.queue, *e.Call)
			st.mu.Unlock()
			select {
			case st.queued <- struct{}{}:
			default:
			}
		}
	}
}

// next waits for the next queued call; resets is st.resets when it was
// taken.
func (st *station) next() (c event.Call, resets int, ok bool) {
	for {
		st.mu.Lock()
		if len(st.queue) > 0 {
			c, resets = st.queue[0], st.resets
			st.queue = st.queue[1:]
			st.mu.Unlock()
			return c, resets, true
		}
		st.mu.Unlock()
		select {
		case <-st.ctx.Done():
			return event.Call{}, 0, false
		case <-st.queued:
		}
	}
}

// decodeLoop decodes the queued calls one after another into st.pcm,
// which the pacer drains in real time.
func (st *station) decodeLoop() {
	for {
		c, resets, ok := st.next()
		if !ok {
			return
		}
		// The filter may have changed (follow=player) while it waited.
		if !st.allows(c, time.Now()) {
			continue
		}
		if err := st.decode(c, resets); err != nil {
			if st.ctx.Err() != nil {
				return
			}
			st.log.Warn("skipping a call the stream cannot play", "call", c.ID, "err", err)
		}
	}
}

// decode fetches and decodes call c, taken from the queue when st.resets
// was resets, into st.pcm.
func (st *station) decode(c event.Call, resets int) error {
	st.mu.Lock()
	void := st.resets != resets
	st.mu.Unlock()
	if void {
		return nil // taken just before a reset: its id may name another call now
	}
	fetchCtx, cancel := context.WithTimeout(st.ctx, fetchTimeout)
	entry, err := st.streams.opts.Source.Audio(fetchCtx, c.ID)
	cancel()
	if err != nil {
		return fmt.Errorf("getting its audio: %w", err)
	}
	f, err := entry.Open()
	if err != nil {
		return fmt.Errorf("opening its cached audio: %w", err)
	}
	defer f.Close()
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading its cached audio: %w", err)
	}
	s, err := st.streams.dec.Decode(st.ctx, f, media.Sniff(head[:n]), SampleRate)
	if err != nil {
		return err
	}
	defer s.Close()
	title := Title(c)
	buf := make([]byte, pcmChunkFrames*audio.FrameSize)
	first := true
	var played int64
	for played < int64(maxCallLength/time.Second)*SampleRate {
		n, err := io.ReadFull(s, buf)
		if n > 0 {
			if !st.send(pcmChunk{samples: downmix(buf[:n]), start: first, title: title}) {
				return st.ctx.Err()
			}
			first = false
			played += int64(n / audio.FrameSize)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			if first {
				return err
			}
			st.log.Warn("a call's audio ended early", "call", c.ID, "err", err)
			break
		}
	}
	if first {
		return errors.New("its audio holds no sound")
	}
	st.send(pcmChunk{end: true})
	return nil
}

func (st *station) send(c pcmChunk) bool {
	select {
	case st.pcm <- c:
		return true
	case <-st.ctx.Done():
		return false
	}
}

// downmix turns s16le stereo into mono samples.
func downmix(b []byte) []int16 {
	out := make([]int16, len(b)/audio.FrameSize)
	for i := range out {
		l := int32(int16(binary.LittleEndian.Uint16(b[4*i:])))
		r := int32(int16(binary.LittleEndian.Uint16(b[4*i+2:])))
		out[i] = int16((l + r) / 2)
	}
	return out
}

// titleAt returns the title of the frame that ends at input sample pos,
// taking the call starts the output has now reached.
func (st *station) titleAt(pos int64) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := 0
	for i < len(st.marks) && st.marks[i].pos < pos {
		st.title = st.marks[i].title
		i++
	}
	st.marks = st.marks[i:]
	return st.title
}

func (st *station) addMark(m mark) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.marks = append(st.marks, m)
}
