package player

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"earshot/relay/audio"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/loudness"
)

// What the listener asked to stand out: the gain each call is played with
// (loudness levelling and per-talkgroup volume), the alert tone before a
// call, and calls that go first (bumped, or interrupting the one playing).
// The decisions — which gain, which call has priority — are the listening
// core's (relay/loudness, relay/priority); the player carries them out.

// GainFunc decides the linear gain a call is played with, before the
// volume, from its measured loudness (see loudness.Leveller). The player
// calls it on a goroutine of its own, never the sound device's: when it
// opens a call, and again if the call's measurement arrives after the call
// started. It must not block for long.
type GainFunc func(c event.Call, m loudness.Result) float64

// Levelling costs no latency. The relay measures each call as its audio
// enters the cache and keeps the result with the entry
// (cache.Entry.Loudness), usually long before the call plays, so the
// player starts it at its gain at once. When the measurement is not there
// yet (a call played the instant it arrived), the call still starts at
// once, as recorded but never over the ceiling (the gain a call of
// unknown loudness peaking at full scale gets: the listener's offset, at
// most -1 dB), and moves smoothly, over glideTime, to the measured gain
// when the relay's measurement arrives — or first to an estimate from
// what played of it, after estimateTime, if that comes first. Every one
// of those gains keeps the call's peak under the ceiling (a provisional
// one as if the call peaked at full scale), so no gain between them clips
// either.
const (
	estimateTime = 400 * time.Millisecond
	glideTime    = 200 * time.Millisecond
)

// unknownLoudness stands for a call not measured yet, or only in part:
// nothing to level by, and any peak possible.
var unknownLoudness = loudness.Result{Integrated: math.Inf(-1), Peak: 1}

// Bounds of a GainFunc's answer: +20 dB, and -80 dB (so a glide, which
// works in dB, never starts or ends at zero).
const (
	maxCallGain = 10.0
	minCallGain = 1e-4
)

// callGain is p.gain's answer for c measured m, made safe.
func (p *Player) callGain(c event.Call, m loudness.Result) float64 {
	g := p.gain(c, m)
	if math.IsNaN(g) || g < 0 {
		g = 1
	}
	return max(minCallGain, min(g, maxCallGain))
}

// levelled returns s scaled by c's gain (and what scales it): from the
// measurement kept with its cache entry, else provisional until the
// measurement arrives (or ctx ends, with the track). It reads nothing of
// s ahead.
func (p *Player) levelled(ctx context.Context, c event.Call, ent *cache.Entry, s *Stream) (*Stream, *level) {
	if m, ok := ent.Loudness(); ok {
		g := p.callGain(c, m)
		p.log.Debug("call levelled", "call", c.ID, "lufs", m.Integrated, "peak", m.Peak, "gain_db", dB(g))
		lv := &level{r: s, rate: s.Rate, gain: g}
		return audio.NewStream(lv, s.Rate, s.Format, s.Frames, s.Decoder, s.Close), lv
	}
	lv := &level{r: s, rate: s.Rate, gain: p.callGain(c, unknownLoudness)}
	if m, err := loudness.NewMeter(Channels, s.Rate); err == nil {
		lv.meter, lv.estimated = m, make(chan loudness.Result, 1)
		lv.estimateAt = int(int64(s.Rate) * int64(estimateTime) / int64(time.Second))
	}
	p.log.Debug("call plays before it is measured", "call", c.ID, "gain_db", dB(lv.gain))
	p.watchers.Go(func() {
		for {
			select {
			case <-ent.Measured():
				if m, ok := ent.Loudness(); ok {
					g := p.callGain(c, m)
					p.log.Debug("call levelled", "call", c.ID, "lufs", m.Integrated, "peak", m.Peak, "gain_db", dB(g))
					lv.glideTo(g)
				}
				return
			case est := <-lv.estimated:
				g := p.callGain(c, est)
				p.log.Debug("call levelled by an estimate until it is measured", "call", c.ID, "lufs", est.Integrated, "gain_db", dB(g))
				lv.glideTo(g)
			case <-ctx.Done():
				return
			}
		}
	})
	return audio.NewStream(lv, s.Rate, s.Format, s.Frames, s.Decoder, s.Close), lv
}

func dB(g float64) float64 { return 20 * math.Log10(max(g, 1e-9)) }

// level scales the s16le stereo PCM it reads by a call's gain and, once
// glideTo gives it another, moves there smoothly: over glideTime, by the
// same step in dB each frame. With a meter it also measures the call as
// it plays and hands the loudness of its first estimateAt frames to
// estimated (as of unknown peak). Only the stream reads it; glideTo may
// come from any goroutine.
type level struct {
	r    io.Reader
	rate int
	next atomic.Uint64 // math.Float64bits of a gain to glide to; 0: none

	gain    float64 // now
	goal    float64 // of the glide
	step    float64 // factor a frame while gliding
	left    int     // frames of the glide left
	started bool    // some PCM was read

	meter      *loudness.Meter // nil once the estimate is out
	estimateAt int
	estimated  chan loudness.Result
}

// glideTo sets the gain to move to.
func (l *level) glideTo(g float64) { l.next.Store(math.Float64bits(g)) }

func (l *level) Read(b []byte) (int, error) {
	b = b[:len(b)/FrameSize*FrameSize]
	if len(b) == 0 {
		// The stream asks for whole frames only; anything else would be
		// scaled wrongly, so it is refused.
		return 0, errors.New("player: audio split inside a frame")
	}
	if bits := l.next.Swap(0); bits != 0 {
		l.goal = math.Float64frombits(bits)
		if !l.started {
			l.gain, l.left = l.goal, 0 // nothing heard yet: no glide
		} else {
			frames := max(1, int(int64(l.rate)*int64(glideTime)/int64(time.Second)))
			l.step = math.Pow(l.goal/l.gain, 1/float64(frames))
			l.left = frames
		}
	}
	n, err := l.r.Read(b)
	if n%FrameSize != 0 {
		return 0, errors.New("player: audio split inside a frame")
	}
	if n > 0 {
		l.started = true
	}
	pcm := b[:n]
	if l.meter != nil {
		_, _ = l.meter.Write(pcm)
		if l.meter.Frames() >= l.estimateAt {
			est := l.meter.Result()
			est.Peak = unknownLoudness.Peak // the rest may peak anywhere
			l.estimated <- est              // buffered, and sent once
			l.meter = nil
		}
	}
	for l.left > 0 && len(pcm) > 0 {
		l.gain *= l.step
		if l.left--; l.left == 0 {
			l.gain = l.goal
		}
		loudness.ApplyS16(pcm[:FrameSize], l.gain)
		pcm = pcm[FrameSize:]
	}
	loudness.ApplyS16(pcm, l.gain)
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
