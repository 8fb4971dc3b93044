package audio

import (
	"bytes"
	"io"
	"testing"

	"earshot/relay/media"
)

func TestPrependPutsPCMBeforeTheStream(t *testing.T) {
	closed := false
	s := NewStream(bytes.NewReader([]byte{1, 0, 1, 0, 2, 0, 2, 0}), 48000, media.WAV, 2, "test", func() error { closed = true; return nil })
	s.Prepend([]byte{9, 0, 9, 0, 7}) // the odd byte is not a frame and is dropped
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{9, 0, 9, 0, 1, 0, 1, 0, 2, 0, 2, 0}; !bytes.Equal(got, want) || s.Frames != 3 {
		t.Fatalf("read %v (%d frames), want %v (3 frames)", got, s.Frames, want)
	}
	if err := s.Close(); err != nil || !closed {
		t.Fatalf("Close = %v, closed %v", err, closed)
	}
}
