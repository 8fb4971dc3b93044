package audio

import (
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"

	"earshot/relay/media"
)

// decodeMP3 decodes MPEG-1/2/2.5 Layer III with github.com/hajimehoshi/go-mp3
// (pure Go; it always yields s16le stereo) and resamples to outRate (0:
// none, its own rate).
func decodeMP3(r io.ReadSeeker, outRate int) (s *Stream, err error) {
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, fmt.Errorf("%w: MP3 decoder failed: %v", ErrBadAudio, v)
		}
	}()
	d, err := mp3.NewDecoder(r)
	if err != nil {
		return nil, fmt.Errorf("%w: MP3: %w", ErrBadAudio, err)
	}
	rate := d.SampleRate()
	if rate < MinRate || rate > MaxRate {
		return nil, fmt.Errorf("%w: MP3 sample rate %d Hz", ErrBadAudio, rate)
	}
	if outRate == 0 {
		outRate = rate // the file's own
	}
	frames := int64(-1)
	if n := d.Length(); n >= 0 {
		frames = n / FrameSize
	}
	var src io.Reader = panicSafe{d}
	if rate != outRate {
		src = newResampler(src, rate, outRate)
		if frames >= 0 {
			frames = resampledLen(frames, rate, outRate)
		}
	}
	return newStream(src, outRate, media.MP3, frames, "mp3", nil), nil
}
