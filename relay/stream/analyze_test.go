package stream

import (
	"testing"

	"earshot/relay/audio/audiotest"
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
	audiotest.Segment
	midTitle string // the title of its middle frame
}

// mp3DecoderDelay is how many samples go-mp3's output lags its frames.
const mp3DecoderDelay = 529

// segments decodes the frames and cuts them, a frame at a time, into sound
// and silence.
func segments(t testing.TB, chunks []Chunk) []segment {
	t.Helper()
	data, titles := streamFrames(t, chunks)
	pcm := decodeMP3(t, data)
	var out []segment
	for _, s := range audiotest.Segments(pcm[min(mp3DecoderDelay, len(pcm)):], SampleRate, 1152) {
		out = append(out, segment{Segment: s, midTitle: titles[(s.From+s.To)/2]})
	}
	return out
}

// sounds returns the sound segments.
func sounds(segs []segment) []segment {
	var out []segment
	for _, s := range segs {
		if s.Sound {
			out = append(out, s)
		}
	}
	return out
}

func frameSeconds(n int) float64 { return float64(n) * 1152 / SampleRate }
