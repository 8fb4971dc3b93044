package audio

import (
	"bytes"
	"io"

	"earshot/relay/media"
)

// NewStream returns a Stream reading s16le stereo PCM at rate from r: audio
// made from other audio (a call scaled to a level, say). frames is its
// length, or -1 when unknown; closeFn, if set, runs at Close.
func NewStream(r io.Reader, rate int, format media.Format, frames int64, decoder string, closeFn func() error) *Stream {
	return newStream(r, rate, format, frames, decoder, closeFn)
}

// Prepend puts s16le stereo PCM (at the stream's rate) before the stream's
// audio — a tone before a call. Call it before the stream is read.
func (s *Stream) Prepend(pcm []byte) {
	pcm = pcm[:len(pcm)/FrameSize*FrameSize]
	s.r = io.MultiReader(bytes.NewReader(pcm), s.r)
	if s.Frames >= 0 {
		s.Frames += int64(len(pcm) / FrameSize)
	}
}
