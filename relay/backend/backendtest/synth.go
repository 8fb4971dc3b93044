package backendtest

import (
	"encoding/binary"
	"math"
)

// SynthWAV returns real audio: a 16-bit mono PCM WAV of a tone at freqHz
// with a short fade in and out (so it sounds like a transmission, not a
// click), seconds long at sampleRate.
func SynthWAV(seconds, freqHz float64, sampleRate int) []byte {
	n := max(0, int(seconds*float64(sampleRate)))
	b := wavHeader(n, sampleRate)
	fade := max(1, sampleRate/50) // 20 ms
	for i := 0; i < n; i++ {
		gain := 1.0
		if i < fade {
			gain = float64(i) / float64(fade)
		} else if n-i < fade {
			gain = float64(n-i) / float64(fade)
		}
		// A tone with a slow warble, like a voice channel's squelch tail.
		v := math.Sin(2*math.Pi*freqHz*float64(i)/float64(sampleRate) + 3*math.Sin(2*math.Pi*5*float64(i)/float64(sampleRate)))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(v*9000*gain)))
	}
	return b
}

// SynthRadioWAV returns a 16-bit mono PCM WAV that sounds like a voice
// transmission on a scanner: a short key-up chirp, then syllable-like
// bursts of a buzzy, pitch-wandering tone (voiced speech's harmonics
// through a narrow radio passband) with pauses between words, a light
// hiss throughout, and a squelch-tail noise burst at the end. pitchHz sets
// the "talker"'s voice (100-250 Hz sounds right); seed varies the words.
// The same arguments always give the same bytes.
func SynthRadioWAV(seconds, pitchHz float64, sampleRate int, seed uint64) []byte {
	n := int(seconds * float64(sampleRate))
	pcm := make([]float64, n)
	sr := float64(sampleRate)
	// A small deterministic generator (SplitMix64), so no shared state.
	state := seed
	rnd := func() float64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		return float64(z>>11) / (1 << 53)
	}
	// Key-up chirp: 60 ms at 1.8 kHz.
	chirp := min(n, int(0.06*sr))
	for i := 0; i < chirp; i++ {
		pcm[i] = 0.25 * math.Sin(2*math.Pi*1800*float64(i)/sr)
	}
	tail := min(n-chirp, int(0.15*sr))
	// Syllables between the chirp and the squelch tail.
	for i := chirp + int(0.05*sr); i < n-tail; {
		syl := int((0.08 + 0.18*rnd()) * sr)
		f0 := pitchHz * (0.85 + 0.3*rnd())
		glide := (rnd() - 0.5) * 0.4 * pitchHz
		formant := 500 + 1500*rnd()
		phase := 0.0
		for j := 0; j < syl && i+j < n-tail; j++ {
			x := float64(j) / float64(syl)
			env := math.Sin(math.Pi * x) // soft attack and release
			f := f0 + glide*x
			phase += 2 * math.Pi * f / sr
			// A few harmonics, the ones near the "formant" loudest.
			v := 0.0
			for h := 1; h <= 12; h++ {
				hf := f * float64(h)
				if hf < 300 || hf > 3000 { // radio passband
					continue
				}
				d := (hf - formant) / 600
				v += math.Sin(float64(h)*phase) * math.Exp(-d*d) / math.Sqrt(float64(h))
			}
			pcm[i+j] += 0.35 * env * v
		}
		i += syl
		// Short gaps between syllables, longer ones between words.
		if rnd() < 0.3 {
			i += int((0.12 + 0.2*rnd()) * sr)
		} else {
			i += int(0.03 * sr)
		}
	}
	// Hiss, and the squelch tail.
	for i := range pcm {
		noise := rnd()*2 - 1
		if i >= n-tail {
			pcm[i] += 0.3 * noise * float64(n-i) / float64(tail)
		} else {
			pcm[i] += 0.02 * noise
		}
	}
	b := wavHeader(n, sampleRate)
	for i, v := range pcm {
		v = math.Max(-1, math.Min(1, v))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(v*24000)))
	}
	return b
}

// wavHeader returns a buffer for n 16-bit mono samples with the RIFF/WAVE
// header filled in.
func wavHeader(n, sampleRate int) []byte {
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(b[28:], uint32(sampleRate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	return b
}
