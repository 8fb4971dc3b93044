package stream

import (
	"math"
	"slices"
	"testing"
)

// streamFrames splits a listener's chunks into MP3 frames, each with the
// title its chunk carried.
func streamFrames(t testing.TB, chunks []Chunk) (data []byte, titles []string) {
	t.Helper()
	for _, c := range chunks {
		var split frameSplitter
		n := 0
		split.push(c.Data, func(f []byte, samples int) {
			if samples != 1152 {
				t.Fatalf("a frame of %d samples, want MPEG-1 frames of 1152", samples)
			}
			titles = append(titles, c.Title)
			n += len(f)
		})
		if n != len(c.Data) || split.skipped != 0 || len(split.buf) != 0 {
			t.Fatalf("a chunk of %d bytes is not whole frames (%d in frames, %d skipped)", len(c.Data), n, split.skipped)
		}
		data = append(data, c.Data...)
	}
	return data, titles
}

// segment is a run of frames that are all sound or all silence.
type segment struct {
	sound    bool
	from, to int     // frame indexes, to exclusive
	freq     float64 // estimated pitch of a sound segment, Hz (median of its frames)
	midTitle string  // the title of its middle frame
}

// mp3DecoderDelay is how many samples go-mp3's output lags its frames.
const mp3DecoderDelay = 529

// segments decodes the frames and cuts them into sound and silence.
func segments(t testing.TB, chunks []Chunk) []segment {
	t.Helper()
	data, titles := streamFrames(t, chunks)
	pcm := decodeMP3(t, data)
	var segs []segment
	var freqs [][]float64
	for f := range titles {
		lo := f*1152 + mp3DecoderDelay
		hi := min(lo+1152, len(pcm))
		if lo >= hi {
			break
		}
		var sum float64
		crossings := 0
		for i := lo; i < hi; i++ {
			v := float64(pcm[i]) / 32768
			sum += v * v
			if i > lo && (pcm[i-1] < 0) != (pcm[i] < 0) {
				crossings++
			}
		}
		sound := math.Sqrt(sum/float64(hi-lo)) > 0.05
		if len(segs) == 0 || segs[len(segs)-1].sound != sound {
			segs = append(segs, segment{sound: sound, from: f})
			freqs = append(freqs, nil)
		}
		segs[len(segs)-1].to = f + 1
		freqs[len(freqs)-1] = append(freqs[len(freqs)-1], float64(crossings)/2/(float64(hi-lo)/SampleRate))
	}
	for i := range segs {
		s := &segs[i]
		s.midTitle = titles[(s.from+s.to)/2]
		if s.sound {
			f := freqs[i]
			slices.Sort(f)
			s.freq = f[len(f)/2] // the edges, half silence, count noise as pitch
		}
	}
	return segs
}

// sounds returns the sound segments.
func sounds(segs []segment) []segment {
	var out []segment
	for _, s := range segs {
		if s.sound {
			out = append(out, s)
		}
	}
	return out
}

func frameSeconds(n int) float64 { return float64(n) * 1152 / SampleRate }
