package loudness

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// pcm builds stereo s16le from a function of time (both channels alike).
func pcm(rate int, seconds float64, f func(t float64) float64) []byte {
	n := int(seconds * float64(rate))
	b := make([]byte, n*4)
	for i := range n {
		v := f(float64(i) / float64(rate))
		s := int16(math.Round(max(-32768, min(v*32768, 32767))))
		binary.LittleEndian.PutUint16(b[i*4:], uint16(s))
		binary.LittleEndian.PutUint16(b[i*4+2:], uint16(s))
	}
	return b
}

func sine(dbfs, hz float64) func(float64) float64 {
	a := math.Pow(10, dbfs/20)
	return func(t float64) float64 { return a * math.Sin(2*math.Pi*hz*t) }
}

func measure(t *testing.T, b []byte, rate int) Result {
	t.Helper()
	r, err := MeasureS16(b, 2, rate)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// The EBU Tech 3341 minimum-requirement cases for integrated loudness
// (stereo, 1 kHz): each must read within ±0.1 LU.
func TestTech3341Cases(t *testing.T) {
	const rate = 48000
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pcm  []byte
		want float64
	}{
		{"1: -23 dBFS, 20 s", pcm(rate, 20, sine(-23, 1000)), -23},
		{"2: -33 dBFS, 20 s", pcm(rate, 20, sine(-33, 1000)), -33},
		{"3: relative gate", cat(pcm(rate, 10, sine(-36, 1000)), pcm(rate, 60, sine(-23, 1000)), pcm(rate, 10, sine(-36, 1000))), -23},
		{"4: absolute gate", cat(pcm(rate, 10, sine(-72, 1000)), pcm(rate, 10, sine(-36, 1000)), pcm(rate, 60, sine(-23, 1000)),
			pcm(rate, 10, sine(-36, 1000)), pcm(rate, 10, sine(-72, 1000))), -23},
	} {
		if got := measure(t, tc.pcm, rate).Integrated; !near(got, tc.want, 0.1) {
			t.Errorf("case %s: %.2f LUFS, want %.1f ± 0.1", tc.name, got, tc.want)
		}
	}
}

func TestOtherRatesReadTheSame(t *testing.T) {
	for _, rate := range []int{44100, 22050, 16000} {
		if got := measure(t, pcm(rate, 5, sine(-23, 1000)), rate).Integrated; !near(got, -23, 0.2) {
			t.Errorf("%d Hz: %.2f LUFS, want -23 ± 0.2", rate, got)
		}
	}
}

func TestSilenceShortCallsAndPeaks(t *testing.T) {
	r := measure(t, make([]byte, 48000*4), 48000)
	if r.Measurable() || r.Peak != 0 || r.Frames != 48000 {
		t.Fatalf("silence: %+v", r)
	}
	short := measure(t, pcm(48000, 0.2, sine(-20, 1000)), 48000)
	if !near(short.Integrated, -20, 0.5) {
		t.Fatalf("a 200 ms call: %.2f LUFS, want about -20", short.Integrated)
	}
	if !near(short.Peak, 0.1, 0.001) {
		t.Fatalf("peak %v, want 0.1", short.Peak)
	}
	if _, err := MeasureS16(nil, 0, 48000); err == nil {
		t.Fatal("0 channels measured")
	}
}

// voice is a crude talker: a harmonic complex on a pitch that wanders,
// in syllables, with a little noise; level sets its loudness roughly and
// crest how peaky it is.
func voice(seed uint64, pitch, compress float64) func(float64) float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	noise := make([]float64, 4096)
	for i := range noise {
		noise[i] = rng.NormFloat64() * 0.05
	}
	return func(t float64) float64 {
		f := pitch * (1 + 0.05*math.Sin(2*math.Pi*0.7*t))
		var v float64
		for h := 1.0; h <= 8; h++ {
			v += math.Sin(2*math.Pi*f*h*t) / h
		}
		env := 0.5 + 0.5*math.Sin(2*math.Pi*3*t) // syllables
		v = v*env + noise[int(t*48000)%len(noise)]
		if compress > 0 { // a squashed, loud fireground radio
			v = math.Tanh(compress*v) / math.Tanh(compress)
		}
		return v
	}
}

// fixture renders a talker scaled to about lufs, and checks it does not
// clip.
func fixture(t *testing.T, f func(float64) float64, lufs float64) []byte {
	t.Helper()
	raw := pcm(48000, 8, func(x float64) float64 { return 0.25 * f(x) })
	m := measure(t, raw, 48000)
	scale := math.Pow(10, (lufs-m.Integrated)/20)
	out := pcm(48000, 8, func(x float64) float64 { return 0.25 * scale * f(x) })
	if got := measure(t, out, 48000); got.Peak >= 0.999 || !near(got.Integrated, lufs, 0.5) {
		t.Fatalf("fixture at %.1f LUFS: %+v", lufs, got)
	}
	return out
}

func TestLevellingBringsAQuietAndALoudCallTogether(t *testing.T) {
	quiet := fixture(t, voice(1, 180, 0), -31)  // a quiet dispatcher
	loud := fixture(t, voice(2, 120, 3), -10.5) // a loud, squashed fireground
	var l Leveller
	var after []float64
	for _, call := range [][]byte{quiet, loud} {
		m := measure(t, call, 48000)
		g := l.Gain(m, 0, true)
		ApplyS16(call, g)
		got := measure(t, call, 48000)
		if got.Peak > math.Pow(10, DefaultCeiling/20)+1e-3 {
			t.Errorf("gain %.2f dB clips: peak %.3f", 20*math.Log10(g), got.Peak)
		}
		after = append(after, got.Integrated)
	}
	if math.Abs(after[0]-after[1]) > 1 || !near(after[0], DefaultTarget, 1) {
		t.Fatalf("after levelling: quiet %.2f LUFS, loud %.2f LUFS; want both at %.0f ± 1", after[0], after[1], DefaultTarget)
	}
	// Off: the calls keep their own levels.
	if g := l.Gain(measure(t, quiet, 48000), 0, false); g != 1 {
		t.Fatalf("gain with levelling off = %v, want 1", g)
	}
}

func TestOffsetIsAppliedAndNeverClips(t *testing.T) {
	call := fixture(t, voice(3, 150, 0), -18)
	m := measure(t, call, 48000)
	var l Leveller
	quieter := append([]byte(nil), call...)
	ApplyS16(quieter, l.Gain(m, -6, true))
	if got := measure(t, quieter, 48000).Integrated; !near(got, DefaultTarget-6, 0.3) {
		t.Fatalf("-6 dB offset: %.2f LUFS, want %.1f", got, DefaultTarget-6)
	}
	// +10 dB on a call already at the target would clip its peaks: the
	// gain stops at the ceiling.
	louder := append([]byte(nil), call...)
	g := l.Gain(m, 10, true)
	ApplyS16(louder, g)
	if got := measure(t, louder, 48000); got.Peak > math.Pow(10, DefaultCeiling/20)+1e-3 || 20*math.Log10(g) >= 10 {
		t.Fatalf("+10 dB: gain %.2f dB, peak after %.3f (ceiling %v dBFS)", 20*math.Log10(g), got.Peak, DefaultCeiling)
	}
	// Offsets are clamped to their range, and a silent call gets only the
	// offset.
	if db := l.GainDB(Result{Integrated: math.Inf(-1)}, -40, true); db != MinOffset {
		t.Fatalf("offset -40 on silence: %v dB, want %v", db, MinOffset)
	}
	if db := l.GainDB(Result{Integrated: -60, Peak: 0.001}, 0, true); db != DefaultMaxBoost {
		t.Fatalf("a very quiet call: %v dB, want the boost limit %v", db, DefaultMaxBoost)
	}
	if db := l.GainDB(Result{Integrated: 5, Peak: 1}, 0, true); db != -DefaultMaxCut {
		t.Fatalf("a very loud call: %v dB, want the cut limit -%v", db, DefaultMaxCut)
	}
	for _, bad := range []float64{-20.5, 10.1, math.NaN()} {
		if ValidOffset(bad) == nil {
			t.Errorf("ValidOffset(%v) accepted", bad)
		}
	}
}

func TestApplyMeasuredGain(t *testing.T) {
	b := pcm(48000, 3, sine(-20, 440))
	before := measure(t, b, 48000).Integrated
	ApplyS16(b, 0.5)
	if got := measure(t, b, 48000).Integrated; !near(got, before-6.02, 0.05) {
		t.Fatalf("half gain: %.2f → %.2f LUFS, want 6.02 dB less", before, got)
	}
}

func FuzzMeasureS16(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0x7f, 0, 0x80}, 1, 8000)
	f.Fuzz(func(t *testing.T, b []byte, channels, rate int) {
		r, err := MeasureS16(b, channels, rate)
		if err != nil {
			return
		}
		if r.Peak < 0 || r.Peak > 1 || math.IsNaN(r.Integrated) || r.Integrated > 10 {
			t.Fatalf("MeasureS16 = %+v", r)
		}
		g := Leveller{}.Gain(r, 0, true)
		if math.IsNaN(g) || g <= 0 || (r.Peak > 0 && r.Peak*g > 1) {
			t.Fatalf("gain %v for %+v", g, r)
		}
	})
}

func BenchmarkMeasureThirtySecondCall(b *testing.B) {
	call := pcm(48000, 30, sine(-20, 440))
	b.SetBytes(int64(len(call)))
	for b.Loop() {
		if _, err := MeasureS16(call, 2, 48000); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOffsetsPerTalkgroup(t *testing.T) {
	var o Offsets
	o, err := o.With(1, 101, -6)
	if err != nil {
		t.Fatal(err)
	}
	if o, err = o.With(1, 102, 4.5); err != nil {
		t.Fatal(err)
	}
	if o.Of(1, 101) != -6 || o.Of(1, 102) != 4.5 || o.Of(2, 101) != 0 {
		t.Fatalf("offsets %+v", o)
	}
	if o, err = o.With(1, 101, 0); err != nil || len(o) != 1 {
		t.Fatalf("removing an offset: %+v, %v", o, err)
	}
	if _, err := o.With(1, 1, 11); err == nil {
		t.Fatal("+11 dB accepted")
	}
	if err := (Offsets{{1, 1, 3}, {1, 1, 4}}).Validate(); err == nil {
		t.Fatal("two offsets for one talkgroup accepted")
	}
	if err := (Offsets{{0, 1, 3}}).Validate(); err == nil {
		t.Fatal("system 0 accepted")
	}
}

// Channels that start alike and then differ read exactly as each filtered
// on its own.
func TestAlikeChannelsShortcutIsExact(t *testing.T) {
	const rate = 48000
	b := pcm(rate, 3, sine(-20, 700))
	// From 1.5 s on, the right channel is quieter.
	for i := rate * 3 / 2; i < rate*3; i++ {
		v := int16(binary.LittleEndian.Uint16(b[i*4+2:]))
		binary.LittleEndian.PutUint16(b[i*4+2:], uint16(v/4))
	}
	for _, audio := range [][]byte{b, pcm(rate, 2, sine(-30, 300))} {
		fast, err := measureS16(audio, 2, rate, true)
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := measureS16(audio, 2, rate, false)
		if fast.Peak != slow.Peak || fast.Frames != slow.Frames || !near(fast.Integrated, slow.Integrated, 1e-9) {
			t.Fatalf("shared filter %+v, each filtered %+v", fast, slow)
		}
	}
}

func BenchmarkMeasureFilteringEachChannel(b *testing.B) {
	call := pcm(48000, 30, sine(-20, 440))
	b.SetBytes(int64(len(call)))
	for b.Loop() {
		if _, err := measureS16(call, 2, 48000, false); err != nil {
			b.Fatal(err)
		}
	}
}

// A Meter fed a call piece by piece — pieces that cut frames, and even
// samples, in two — measures exactly what MeasureS16 does on the whole,
// and can be read before it has seen everything.
func TestMeterInPiecesReadsAsTheWhole(t *testing.T) {
	const rate = 48000
	call := append(pcm(rate, 1.3, sine(-30, 500)), pcm(rate, 2.1, sine(-14, 900))...)
	call = append(call, 0x12, 0x34, 0x56) // a frame cut short at the end
	whole := measure(t, call, rate)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, maxPiece := range []int{1, 3, 7, 4096, len(call)} {
		m, err := NewMeter(2, rate)
		if err != nil {
			t.Fatal(err)
		}
		for rest := call; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(maxPiece))
			if w, err := m.Write(rest[:n]); w != n || err != nil {
				t.Fatalf("Write(%d bytes) = %d, %v", n, w, err)
			}
			rest = rest[n:]
		}
		got := m.Result()
		if got.Peak != whole.Peak || got.Frames != whole.Frames || !near(got.Integrated, whole.Integrated, 1e-9) {
			t.Fatalf("pieces of up to %d bytes: %+v, the whole at once: %+v", maxPiece, got, whole)
		}
	}
	// Read part way: the loud second part is not in it yet.
	m, _ := NewMeter(2, rate)
	_, _ = m.Write(call[:rate*4])
	if part := m.Result(); part.Frames != rate || !near(part.Integrated, measure(t, call[:rate*4], rate).Integrated, 1e-9) {
		t.Fatalf("the first second read %+v", part)
	}
	if _, err := NewMeter(0, rate); err == nil {
		t.Fatal("a meter of no channels was made")
	}
}

// FuzzMeterPieces: any split of any PCM measures as the whole.
func FuzzMeterPieces(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0x7f, 0, 0x80, 1, 2, 3}, uint8(2), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, channels uint8, split uint16) {
		ch := 1 + int(channels)%MaxChannels
		whole, err := MeasureS16(b, ch, 8000)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMeter(ch, 8000)
		if err != nil {
			t.Fatal(err)
		}
		at := min(int(split), len(b))
		_, _ = m.Write(b[:at])
		_, _ = m.Write(b[at:])
		got := m.Result()
		same := got.Integrated == whole.Integrated || near(got.Integrated, whole.Integrated, 1e-9)
		if got.Peak != whole.Peak || got.Frames != whole.Frames || !same {
			t.Fatalf("split at %d: %+v, whole: %+v", at, got, whole)
		}
	})
}
