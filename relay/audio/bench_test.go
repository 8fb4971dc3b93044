package audio

import (
	"bytes"
	"context"
	"io"
	"testing"

	"earshot/relay/audio/audiotest"
	"earshot/relay/media"
)

// BenchmarkDecodeMP3 decodes the 1 s, 22.05 kHz mono MP3 fixture to 48 kHz
// stereo PCM (go-mp3 plus resampling).
func BenchmarkDecodeMP3(b *testing.B) {
	data := audiotest.Fixture(b, "speech.mp3")
	b.SetBytes(int64(len(data)))
	var frames int64
	for b.Loop() {
		s, err := Decode(context.Background(), bytes.NewReader(data), media.MP3, DefaultRate)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, s)
		if err != nil {
			b.Fatal(err)
		}
		frames = n / FrameSize
	}
	// How many times faster than real time one core decodes.
	b.ReportMetric(float64(frames)/DefaultRate/(b.Elapsed().Seconds()/float64(b.N)), "x-realtime")
}

// BenchmarkResample converts 1 s of 8 kHz stereo to 48 kHz.
func BenchmarkResample(b *testing.B) {
	in := make([]byte, 8000*FrameSize)
	for i := range in {
		in[i] = byte(i * 7)
	}
	buf := make([]byte, 4800*FrameSize)
	b.SetBytes(48000 * FrameSize) // output bytes
	for b.Loop() {
		r := newResampler(bytes.NewReader(in), 8000, 48000)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}
