// Package loudness measures how loud a call sounds and decides the gain
// that brings calls to one listening level: the integrated loudness of
// ITU-R BS.1770-4 / EBU R128 (K-weighting, 400 ms blocks overlapping by
// 75 %, the absolute gate at -70 LUFS and the relative gate 10 LU below),
// and a Leveller that turns a measurement, the listener's per-talkgroup
// offset and a target into a gain — clamped, and never so high that the
// call's peaks would clip.
//
// It owns only that arithmetic on PCM the caller hands it: no decoding, no
// I/O, no state between calls. It imports nothing from the GUI, so the
// player and the relay alike can use it.
package loudness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Result is the measurement of one call.
type Result struct {
	// Integrated is the integrated loudness in LUFS; -Inf for silence (or
	// audio too quiet for the absolute gate).
	Integrated float64
	// Peak is the highest sample magnitude, 0 to 1 (1 is full scale).
	Peak float64
	// Frames is how many frames were measured.
	Frames int
}

// Measurable reports whether r has a loudness to level (not silence).
func (r Result) Measurable() bool { return !math.IsInf(r.Integrated, -1) && !math.IsNaN(r.Integrated) }

// biquad is one second-order IIR section (direct form I, a0 = 1).
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

func (f *biquad) step(x float64) float64 {
	y := f.b0*x + f.b1*f.x1 + f.b2*f.x2 - f.a1*f.y1 - f.a2*f.y2
	f.x2, f.x1 = f.x1, x
	f.y2, f.y1 = f.y1, y
	return y
}

// kWeighting returns the two stages of the K-weighting filter for rate,
// from BS.1770's analogue prototypes by the bilinear transform (at 48 kHz
// they give the standard's coefficients).
func kWeighting(rate int) (shelf, highpass biquad) {
	fs := float64(rate)
	// Stage 1: the head's acoustic effect, a high shelf of about +4 dB.
	const (
		f0 = 1681.974450955533
		g  = 3.999843853973347
		q  = 0.7071752369554196
	)
	k := math.Tan(math.Pi * f0 / fs)
	vh := math.Pow(10, g/20)
	vb := math.Pow(vh, 0.4996667741545416)
	a0 := 1 + k/q + k*k
	shelf = biquad{
		b0: (vh + vb*k/q + k*k) / a0,
		b1: 2 * (k*k - vh) / a0,
		b2: (vh - vb*k/q + k*k) / a0,
		a1: 2 * (k*k - 1) / a0,
		a2: (1 - k/q + k*k) / a0,
	}
	// Stage 2: the RLB high-pass.
	const (
		f1 = 38.13547087602444
		q1 = 0.5003270373238773
	)
	k = math.Tan(math.Pi * f1 / fs)
	a0 = 1 + k/q1 + k*k
	highpass = biquad{b0: 1, b1: -2, b2: 1, a1: 2 * (k*k - 1) / a0, a2: (1 - k/q1 + k*k) / a0}
	return shelf, highpass
}

// Gating constants of BS.1770-4.
const (
	absoluteGate = -70.0 // LUFS
	relativeGate = -10.0 // LU below the absolutely gated loudness
	blockTime    = 0.4   // s
	stepTime     = 0.1   // s (75 % overlap)
)

// MaxChannels is the most channels MeasureS16 takes (all weighted 1, as
// BS.1770 weights left, right and centre).
const MaxChannels = 8

// MeasureS16 measures interleaved signed 16-bit little-endian PCM of the
// given channel count and sample rate (the player's format is stereo).
func MeasureS16(pcm []byte, channels, rate int) (Result, error) {
	return measureS16(pcm, channels, rate, true)
}

// measureS16 is MeasureS16; shareAlike lets alike channels share a filter
// (tests compare it with filtering each).
func measureS16(pcm []byte, channels, rate int, shareAlike bool) (Result, error) {
	m, err := newMeter(channels, rate, shareAlike)
	if err != nil {
		return Result{}, err
	}
	_, _ = m.Write(pcm)
	return m.Result(), nil
}

// Meter measures PCM written to it piece by piece, so a call of any length
// is measured in constant memory while it is decoded: what MeasureS16
// gives for the whole, as one piece. It is an io.Writer of interleaved
// s16le PCM; a piece may end inside a frame (the rest comes with the next
// one). A Meter is not safe for concurrent use.
type Meter struct {
	channels  int
	frameSize int
	filters   [][2]biquad
	step      int       // frames in a 100 ms step
	steps     []float64 // per step: sum over channels of the sum of squares
	acc       float64   // of the step being filled
	n         int       // frames in it
	peak      int
	frames    int
	// Calls are mostly mono played as stereo: while every channel holds
	// the same samples, one filter serves them all (their states would be
	// equal); at the first difference the others take its state and go
	// their own way. The result is exactly what filtering each gives.
	alike   bool
	partial []byte // the start of a frame a Write cut in two
}

// NewMeter returns a Meter for PCM of the given channel count and rate.
func NewMeter(channels, rate int) (*Meter, error) { return newMeter(channels, rate, true) }

func newMeter(channels, rate int, shareAlike bool) (*Meter, error) {
	if channels < 1 || channels > MaxChannels {
		return nil, fmt.Errorf("loudness: %d channels; 1 to %d are measured", channels, MaxChannels)
	}
	if rate < 8000 || rate > 384000 {
		return nil, fmt.Errorf("loudness: sample rate %d Hz is out of range", rate)
	}
	m := &Meter{
		channels:  channels,
		frameSize: 2 * channels,
		filters:   make([][2]biquad, channels),
		step:      int(math.Round(stepTime * float64(rate))),
		alike:     shareAlike && channels > 1,
	}
	for c := range m.filters {
		m.filters[c][0], m.filters[c][1] = kWeighting(rate)
	}
	return m, nil
}

// Write measures the PCM in b. It never fails.
func (m *Meter) Write(b []byte) (int, error) {
	n := len(b)
	if len(m.partial) > 0 {
		need := m.frameSize - len(m.partial)
		if len(b) < need {
			m.partial = append(m.partial, b...)
			return n, nil
		}
		m.partial = append(m.partial, b[:need]...)
		m.measure(m.partial)
		m.partial = m.partial[:0]
		b = b[need:]
	}
	whole := len(b) / m.frameSize * m.frameSize
	m.measure(b[:whole])
	m.partial = append(m.partial, b[whole:]...)
	return n, nil
}

// measure measures whole frames (the hot loop: state kept in locals).
func (m *Meter) measure(pcm []byte) {
	channels, frameSize := m.channels, m.frameSize
	acc, n, peak := m.acc, m.n, m.peak
	for i := 0; i+frameSize <= len(pcm); i += frameSize {
		frame := pcm[i : i+frameSize]
		if m.alike && !sameChannels(frame, channels) {
			m.alike = false
			for c := 1; c < channels; c++ {
				m.filters[c] = m.filters[0]
			}
		}
		if m.alike {
			v := int(int16(binary.LittleEndian.Uint16(frame)))
			peak = max(peak, v, -v)
			f := &m.filters[0]
			y := f[1].step(f[0].step(float64(v) / 32768))
			acc += float64(channels) * y * y
		} else {
			for c := range channels {
				v := int(int16(binary.LittleEndian.Uint16(frame[2*c:])))
				peak = max(peak, v, -v)
				f := &m.filters[c]
				y := f[1].step(f[0].step(float64(v) / 32768))
				acc += y * y
			}
		}
		m.frames++
		if n++; n == m.step {
			m.steps = append(m.steps, acc)
			acc, n = 0, 0
		}
	}
	m.acc, m.n, m.peak = acc, n, peak
}

// Frames is how many whole frames the Meter has measured so far.
func (m *Meter) Frames() int { return m.frames }

// Result is the measurement of everything written so far (a frame cut in
// two at the end is left out). The Meter may go on measuring after it.
func (m *Meter) Result() Result {
	res := Result{Frames: m.frames, Integrated: math.Inf(-1)}
	if m.frames == 0 {
		return res
	}
	res.Peak = min(float64(m.peak)/32768, 1)
	perBlock := int(math.Round(blockTime / stepTime))
	var blocks []float64 // mean square (summed over channels) of each block
	for i := 0; i+perBlock <= len(m.steps); i++ {
		var sum float64
		for _, s := range m.steps[i : i+perBlock] {
			sum += s
		}
		blocks = append(blocks, sum/float64(perBlock*m.step))
	}
	if len(blocks) == 0 {
		// Shorter than one block: the whole call is the block.
		var sum float64
		for _, s := range m.steps {
			sum += s
		}
		blocks = append(blocks, (sum+m.acc)/float64(m.frames))
	}
	res.Integrated = gated(blocks)
	return res
}

// sameChannels reports whether every channel of a s16le frame holds the
// first channel's sample.
func sameChannels(frame []byte, channels int) bool {
	for c := 1; c < channels; c++ {
		if frame[2*c] != frame[0] || frame[2*c+1] != frame[1] {
			return false
		}
	}
	return true
}

func loudnessOf(meanSquare float64) float64 { return -0.691 + 10*math.Log10(meanSquare) }

// gated applies the absolute and the relative gate to block mean squares
// and returns the integrated loudness.
func gated(blocks []float64) float64 {
	mean := func(keep func(float64) bool) (float64, int) {
		var sum float64
		n := 0
		for _, z := range blocks {
			if keep(z) {
				sum += z
				n++
			}
		}
		if n == 0 {
			return 0, 0
		}
		return sum / float64(n), n
	}
	abs, n := mean(func(z float64) bool { return z > 0 && loudnessOf(z) > absoluteGate })
	if n == 0 {
		return math.Inf(-1)
	}
	threshold := loudnessOf(abs) + relativeGate
	rel, n := mean(func(z float64) bool { return z > 0 && loudnessOf(z) > absoluteGate && loudnessOf(z) > threshold })
	if n == 0 {
		return math.Inf(-1)
	}
	return loudnessOf(rel)
}

// Offset limits: the listener's per-talkgroup volume offset, in dB.
const (
	MinOffset = -20.0
	MaxOffset = 10.0
)

// ErrInvalid marks settings out of range.
var ErrInvalid = errors.New("invalid loudness setting")

// ValidOffset checks a per-talkgroup offset.
func ValidOffset(db float64) error {
	if math.IsNaN(db) || db < MinOffset || db > MaxOffset {
		return fmt.Errorf("%w: a talkgroup's volume offset is %v to %+v dB, not %v", ErrInvalid, MinOffset, MaxOffset, db)
	}
	return nil
}

// Leveller turns a call's measurement into the gain it is played with.
// Its zero value is the defaults below.
type Leveller struct {
	// Target is the loudness calls are brought to, in LUFS; 0 means
	// DefaultTarget.
	Target float64
	// MaxBoost and MaxCut bound the levelling gain, in dB (positive
	// numbers); 0 means the defaults. A quiet call of noise is not
	// boosted without end, and a loud one is not cut to a whisper.
	MaxBoost, MaxCut float64
	// Ceiling is the highest sample peak a gain may produce, in dBFS; 0
	// means DefaultCeiling. A gain that would clip is lowered to it.
	Ceiling float64
}

// Defaults of Leveller.
const (
	DefaultTarget   = -18.0 // LUFS: a comfortable desktop level for speech
	DefaultMaxBoost = 15.0  // dB
	DefaultMaxCut   = 20.0  // dB
	DefaultCeiling  = -1.0  // dBFS
)

func orDefault(v, def float64) float64 {
	if v == 0 || math.IsNaN(v) {
		return def
	}
	return v
}

// GainDB is the gain for a call measured r, in dB: toward the target when
// levelling is on (clamped to the boost and cut limits), plus the
// listener's offset for its talkgroup, then lowered so that the call's
// peak stays under the ceiling.
func (l Leveller) GainDB(r Result, offsetDB float64, levelling bool) float64 {
	var db float64
	if levelling && r.Measurable() {
		db = orDefault(l.Target, DefaultTarget) - r.Integrated
		db = max(-math.Abs(orDefault(l.MaxCut, DefaultMaxCut)), min(db, math.Abs(orDefault(l.MaxBoost, DefaultMaxBoost))))
	}
	if !math.IsNaN(offsetDB) {
		db += max(MinOffset, min(offsetDB, MaxOffset))
	}
	if r.Peak > 0 {
		db = min(db, orDefault(l.Ceiling, DefaultCeiling)-20*math.Log10(r.Peak))
	}
	return db
}

// Gain is GainDB as a linear factor.
func (l Leveller) Gain(r Result, offsetDB float64, levelling bool) float64 {
	return math.Pow(10, l.GainDB(r, offsetDB, levelling)/20)
}

// ApplyS16 scales interleaved s16le PCM by a linear gain in place,
// rounding and saturating at full scale (a gain from Gain never reaches
// it on the measured audio).
func ApplyS16(pcm []byte, gain float64) {
	if gain == 1 || math.IsNaN(gain) {
		return
	}
	for i := 0; i+1 < len(pcm); i += 2 {
		v := float64(int16(binary.LittleEndian.Uint16(pcm[i:]))) * gain
		v = math.Round(max(-32768, min(v, 32767)))
		binary.LittleEndian.PutUint16(pcm[i:], uint16(int16(v)))
	}
}

// Offset is the listener's volume offset for one talkgroup.
type Offset struct {
	System    int64   `json:"system"`
	Talkgroup int64   `json:"talkgroup"`
	DB        float64 `json:"db"`
}

// Offsets are a server's per-talkgroup offsets, as config.json stores them.
type Offsets []Offset

// MaxOffsets caps the offsets of one server.
const MaxOffsets = 4096

// Validate checks every offset and that no talkgroup has two.
func (o Offsets) Validate() error {
	if len(o) > MaxOffsets {
		return fmt.Errorf("%w: at most %d talkgroup volume offsets", ErrInvalid, MaxOffsets)
	}
	seen := make(map[[2]int64]bool, len(o))
	for _, v := range o {
		if v.System <= 0 || v.Talkgroup <= 0 {
			return fmt.Errorf("%w: system and talkgroup ids are positive numbers, not %d/%d", ErrInvalid, v.System, v.Talkgroup)
		}
		if err := ValidOffset(v.DB); err != nil {
			return err
		}
		key := [2]int64{v.System, v.Talkgroup}
		if seen[key] {
			return fmt.Errorf("%w: two volume offsets for talkgroup %d/%d", ErrInvalid, v.System, v.Talkgroup)
		}
		seen[key] = true
	}
	return nil
}

// Of is the offset of a talkgroup in dB (0 if it has none).
func (o Offsets) Of(system, talkgroup int64) float64 {
	for _, v := range o {
		if v.System == system && v.Talkgroup == talkgroup {
			return v.DB
		}
	}
	return 0
}

// With returns o with the talkgroup's offset set to db (0 removes it).
func (o Offsets) With(system, talkgroup int64, db float64) (Offsets, error) {
	if err := ValidOffset(db); err != nil {
		return nil, err
	}
	out := make(Offsets, 0, len(o)+1)
	for _, v := range o {
		if v.System != system || v.Talkgroup != talkgroup {
			out = append(out, v)
		}
	}
	if db != 0 {
		out = append(out, Offset{system, talkgroup, db})
	}
	return out, out.Validate()
}
