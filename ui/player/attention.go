package player

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"earshot/relay/audio"
	"earshot/relay/event"
	"earshot/relay/loudness"
)

// What the listener asked to stand out: the gain each call is played with
// (loudness levelling and per-talkgroup volume), the alert tone before a
// call, and calls that go first (bumped, or interrupting the one playing).
// The decisions — which gain, which call has priority — are the listening
// core's (relay/loudness, relay/priority); the player carries them out.

// GainFunc decides the linear gain a call is played with, before the
// volume, from the loudness the player measured on its decoded audio (see
// loudness.Leveller). It is called once per call, on the player's prefetch
// goroutine, before the call plays; it must not block.
type GainFunc func(c event.Call, m loudness.Result) float64

// maxLevelledFrames bounds the audio decoded into memory to measure a
// call (10 minutes at 48 kHz is 110 MiB); the rest of a longer call plays
// with the gain of its first part.
const maxLevelledFrames = 10 * 60 * DefaultRate

// maxCallGain caps what a GainFunc may ask for (+20 dB).
const maxCallGain = 10.0

// levelled decodes s into memory (up to maxLevelledFrames), measures it
// and returns a stream of it scaled by the gain p.gain gives.
func (p *Player) levelled(c event.Call, s *Stream) (*Stream, error) {
	limit := int64(maxLevelledFrames) * FrameSize
	var buf bytes.Buffer
	if s.Frames > 0 {
		buf.Grow(int(min(s.Frames*FrameSize, limit)))
	}
	_, err := io.Copy(&buf, io.LimitReader(s, limit))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: %v", ErrBadAudio, err)
	}
	pcm := buf.Bytes()
	m, err := loudness.MeasureS16(pcm, Channels, s.Rate)
	if err != nil {
		s.Close()
		return nil, err
	}
	g := p.gain(c, m)
	if math.IsNaN(g) || g < 0 {
		g = 1
	}
	g = min(g, maxCallGain)
	loudness.ApplyS16(pcm, g)
	frames := s.Frames
	rest := io.Reader(s)
	if int64(len(pcm)) < limit {
		frames, rest = int64(len(pcm)/FrameSize), eofReader{}
	}
	p.log.Debug("call levelled", "call", c.ID, "lufs", m.Integrated, "peak", m.Peak, "gain_db", 20*math.Log10(max(g, 1e-9)))
	return audio.NewStream(io.MultiReader(bytes.NewReader(pcm), &gainReader{r: rest, gain: g}), s.Rate, s.Format, frames, s.Decoder, s.Close), nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// gainReader scales the s16le PCM it reads by a linear gain.
type gainReader struct {
	r    io.Reader
	gain float64
	odd  []byte // a half sample left from the last read
}

func (g *gainReader) Read(b []byte) (int, error) {
	n, err := g.r.Read(b)
	whole := n &^ 1
	loudness.ApplyS16(b[:whole], g.gain)
	if n != whole && err == nil {
		// Only the Stream reads this, in whole frames; a half sample
		// cannot happen, but is refused rather than mis-scaled.
		return whole, errors.New("player: audio split inside a sample")
	}
	return n, err
}

// AlertTone is Earshot's alert tone as s16le stereo PCM at rate: two short
// rising beeps (880 Hz, then 1320 Hz, 120 ms each with 5 ms ramps, 60 ms
// apart, 100 ms of silence after) at -12 dBFS. It is made here, not
// recorded, so it carries no licence.
func AlertTone(rate int) []byte {
	const (
		beep  = 0.120
		gap   = 0.060
		tail  = 0.100
		ramp  = 0.005
		level = 0.25 // -12 dBFS
	)
	seconds := beep + gap + beep + tail
	frames := int(seconds * float64(rate))
	out := make([]byte, frames*FrameSize)
	for i := range frames {
		t := float64(i) / float64(rate)
		var hz, start float64
		switch {
		case t < beep:
			hz, start = 880, 0
		case t >= beep+gap && t < 2*beep+gap:
			hz, start = 1320, beep+gap
		default:
			continue
		}
		local := t - start
		env := min(1, local/ramp, (beep-local)/ramp)
		v := int16(math.Round(level * env * math.Sin(2*math.Pi*hz*local) * 32767))
		binary.LittleEndian.PutUint16(out[i*FrameSize:], uint16(v))
		binary.LittleEndian.PutUint16(out[i*FrameSize+2:], uint16(v))
	}
	return out
}

// EnqueueAt is Enqueue placing the call at index pos of the queue (0: it
// plays next; a pos past the end, or negative, is the end), never before
// calls the listener picked; with tone, the alert tone plays before it.
// The listening core chooses pos with priority.Insert.
func (p *Player) EnqueueAt(c event.Call, pos int, tone bool) bool {
	p.mu.Lock()
	defer p.unlock()
	return p.enqueueLocked(c, pos, tone)
}

func (p *Player) enqueueLocked(c event.Call, pos int, tone bool) bool {
	if !p.live {
		return false
	}
	if why := p.filter.Reason(c, p.now()); why != "" {
		p.log.Debug("call not queued", "call", c.ID, "reason", why)
		return false
	}
	if p.cur != nil && p.cur.e.call.ID == c.ID {
		return false
	}
	if slices.ContainsFunc(p.queue, func(e *entry) bool { return e.call.ID == c.ID }) {
		return false
	}
	if pos < 0 || pos > len(p.queue) {
		pos = len(p.queue)
	}
	pos = max(pos, p.pickedLocked())
	q := slices.Insert(slices.Clone(p.queue), pos, &entry{call: c, tone: tone})
	if len(q) > p.maxQueue {
		if i := slices.IndexFunc(q, func(e *entry) bool { return !e.user }); i >= 0 {
			p.log.Info("play queue full: dropping the oldest waiting call", "call", q[i].call.ID, "max", p.maxQueue)
			q = slices.Delete(q, i, i+1)
		}
	}
	p.setQueueLocked(q)
	return true
}

// pickedLocked counts the calls at the head of the queue the listener
// picked (Play, Replay): live calls never go before them.
func (p *Player) pickedLocked() int {
	n := 0
	for n < len(p.queue) && p.queue[n].user {
		n++
	}
	return n
}

// Alert applies an alert that fired after call id was queued (its
// transcript came later): with tone, the tone plays before it; with bump,
// it moves to the front of the live calls. It reports whether the call was
// waiting in the queue (false once it plays or played).
func (p *Player) Alert(id int64, tone, bump bool) bool {
	p.mu.Lock()
	defer p.unlock()
	i := slices.IndexFunc(p.queue, func(e *entry) bool { return e.call.ID == id })
	if i < 0 {
		return false
	}
	q := slices.Clone(p.queue)
	e := *q[i]
	e.tone = e.tone || tone
	q[i] = &e
	if bump {
		q = slices.Delete(q, i, i+1)
		q = slices.Insert(q, p.pickedLocked(), &e)
	}
	p.setQueueLocked(q)
	return true
}

// Interrupt plays call c now, as a priority call does: the playing call is
// cut short (with the usual fade) and, with requeue, queued again right
// after c to play from its start; without, it is dropped (it stays in
// history). With tone, the alert tone plays first. A paused player stays
// paused.
func (p *Player) Interrupt(c event.Call, tone, requeue bool) {
	p.mu.Lock()
	defer p.unlock()
	q := slices.DeleteFunc(slices.Clone(p.queue), func(x *entry) bool { return x.call.ID == c.ID })
	q = slices.Insert(q, 0, &entry{call: c, tone: tone})
	if cur := p.cur; cur != nil && cur.e.call.ID != c.ID {
		if requeue {
			again := &entry{call: cur.e.call, user: cur.e.user, replay: cur.e.replay, requeued: true}
			q = slices.Insert(q, 1, again)
		}
		p.skip = true
	}
	p.setQueueLocked(q)
}
