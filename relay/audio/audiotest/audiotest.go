// Package audiotest holds what the tests of call audio share: the recorded
// fixtures (about a second of speech in every format recorders upload; see
// testdata/README.md), WAV files synthesised in memory, and PCM helpers. It
// is for tests only and must not import the audio package it serves (that
// package's own tests use it).
package audiotest

import (
	"bytes"
	"embed"
	"encoding/binary"
	"math"
	"os/exec"
	"slices"
	"testing"
	"time"
)

//go:embed testdata/*.wav testdata/*.mp3 testdata/*.m4a testdata/*.aac testdata/*.ogg testdata/*.opus
var fixtures embed.FS

// Fixture returns the bytes of a recorded fixture in testdata, e.g.
// "speech.mp3".
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("audio fixture %q: %v", name, err)
	}
	return b
}

// NeedFFmpeg skips the test when ffmpeg is not installed.
func NeedFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed (build/deps.sh installs it)")
	}
}

// WAVSpec describes a WAV file MakeWAV builds.
type WAVSpec struct {
	Rate, Channels, Bits int
	Float                bool
	Frames               int
	// Sample returns channel ch of frame i in -1..1.
	Sample func(i, ch int) float64
}

// MakeWAV builds a WAV file in memory.
func MakeWAV(s WAVSpec) []byte {
	bps := s.Bits / 8
	data := make([]byte, 0, s.Frames*s.Channels*bps)
	for i := 0; i < s.Frames; i++ {
		for ch := 0; ch < s.Channels; ch++ {
			v := s.Sample(i, ch)
			switch {
			case s.Float:
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)))
			case s.Bits == 8:
				data = append(data, byte(int(math.Round(v*127))+128))
			case s.Bits == 16:
				data = binary.LittleEndian.AppendUint16(data, uint16(int16(math.Round(v*32767))))
			case s.Bits == 24:
				x := int32(math.Round(v * 8388607))
				data = append(data, byte(x), byte(x>>8), byte(x>>16))
			case s.Bits == 32:
				data = binary.LittleEndian.AppendUint32(data, uint32(int32(math.Round(v*2147483647))))
			}
		}
	}
	tag := uint16(1)
	if s.Float {
		tag = 3
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, tag)
	binary.Write(&b, binary.LittleEndian, uint16(s.Channels))
	binary.Write(&b, binary.LittleEndian, uint32(s.Rate))
	binary.Write(&b, binary.LittleEndian, uint32(s.Rate*s.Channels*bps))
	binary.Write(&b, binary.LittleEndian, uint16(s.Channels*bps))
	binary.Write(&b, binary.LittleEndian, uint16(s.Bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// ConstWAV is 48 kHz stereo 16-bit audio whose every sample is v: the
// player tests tell calls apart by their sample value.
func ConstWAV(v int16, frames int) []byte {
	return MakeWAV(WAVSpec{Rate: 48000, Channels: 2, Bits: 16, Frames: frames,
		Sample: func(int, int) float64 { return float64(v) / 32767 }})
}

// Samples unpacks s16le PCM.
func Samples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// S16 packs interleaved samples as s16le.
func S16(v ...int16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// RMS is the root mean square of samples, relative to full scale.
func RMS(s []int16) float64 {
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

// HangGuard bounds waits that would otherwise hang a broken test forever.
// It is never a timing assertion: anything correct finishes far sooner.
const HangGuard = 20 * time.Second

// Await receives from ch, or fails the test after HangGuard.
func Await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(HangGuard):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

// Segment is a run of windows of PCM that are all sound or all silence.
type Segment struct {
	Sound    bool
	From, To int     // window indexes, To exclusive
	Freq     float64 // a sound run's pitch in Hz (median over its windows)
}

// Segments cuts mono PCM at rate Hz into runs of sound (RMS above 5% of
// full scale) and silence, window samples at a time, with the pitch of
// each sound run from its zero crossings: enough to tell test tones apart
// and to find where each starts.
func Segments(pcm []int16, rate, window int) []Segment {
	var segs []Segment
	var freqs [][]float64
	for w := 0; (w+1)*window <= len(pcm); w++ {
		part := pcm[w*window : (w+1)*window]
		crossings := 0
		for i := 1; i < len(part); i++ {
			if (part[i-1] < 0) != (part[i] < 0) {
				crossings++
			}
		}
		sound := RMS(part) > 0.05
		if len(segs) == 0 || segs[len(segs)-1].Sound != sound {
			segs = append(segs, Segment{Sound: sound, From: w})
			freqs = append(freqs, nil)
		}
		segs[len(segs)-1].To = w + 1
		freqs[len(freqs)-1] = append(freqs[len(freqs)-1], float64(crossings)/2*float64(rate)/float64(window))
	}
	for i := range segs {
		if segs[i].Sound {
			f := freqs[i]
			slices.Sort(f)
			segs[i].Freq = f[len(f)/2] // edge windows, half silence, count noise as pitch
		}
	}
	return segs
}

// Sounds returns the sound runs of segs.
func Sounds(segs []Segment) []Segment {
	var out []Segment
	for _, s := range segs {
		if s.Sound {
			out = append(out, s)
		}
	}
	return out
}

// ToneWAV is seconds of a sine at freq Hz and half of full scale, 8 kHz
// mono 16-bit, as recorders upload calls.
func ToneWAV(seconds, freq float64) []byte {
	return MakeWAV(WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: int(seconds * 8000),
		Sample: func(i, _ int) float64 { return 0.5 * math.Sin(2*math.Pi*freq*float64(i)/8000) }})
}
