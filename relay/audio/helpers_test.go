package audio

import (
	"io"
	"testing"

	"earshot/relay/audio/audiotest"
)

// readAll reads a stream to its end.
func readAll(t testing.TB, s *Stream) []int16 {
	t.Helper()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading stream: %v", err)
	}
	if len(b)%FrameSize != 0 {
		t.Fatalf("stream returned %d bytes, not whole frames", len(b))
	}
	return audiotest.Samples(b)
}
