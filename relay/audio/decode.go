package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"earshot/relay/media"
)

// Output format of every Stream.
const (
	// Channels is the channel count of decoded PCM (stereo).
	Channels = 2
	// FrameSize is the size in bytes of one PCM frame (two s16le samples).
	FrameSize = 4
	// DefaultRate is the output sample rate the app uses, in Hz.
	DefaultRate = 48000

	// MinRate and MaxRate bound the sample rates a decoder accepts and
	// produces, in Hz.
	MinRate = 1000
	MaxRate = 384000
)

// Errors a decode can end with. Each is wrapped with what went wrong, in
// words for the listener; test them with errors.Is.
var (
	// ErrNeedsFFmpeg: the call's audio is in a format only ffmpeg decodes
	// here (M4A/AAC, Ogg, …) and ffmpeg is not installed.
	ErrNeedsFFmpeg = errors.New("needs ffmpeg")
	// ErrBadAudio: the audio file is damaged, truncated in its header, or
	// not audio at all.
	ErrBadAudio = errors.New("the call's audio file is damaged or not audio")
	// ErrUnsupported: the file is well formed but uses an encoding this
	// decoder does not handle (ffmpeg is tried next when it is installed).
	ErrUnsupported = errors.New("unsupported audio encoding")
)

// Stream is decoded audio: interleaved s16le stereo frames at Rate Hz. Read
// returns whole frames only. Close it when done (it also stops an ffmpeg
// process); Close may be called more than once and concurrently with Read.
type Stream struct {
	// Rate is the sample rate of the PCM Read returns, in Hz.
	Rate int
	// Format is the container format the audio was decoded from.
	Format media.Format
	// Frames is the stream's length in frames when the decoder knows it up
	// front, or -1 (ffmpeg streams).
	Frames int64
	// Decoder names the decoder used: "wav", "mp3" or "ffmpeg".
	Decoder string

	r         io.Reader
	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

func newStream(r io.Reader, rate int, format media.Format, frames int64, decoder string, closeFn func() error) *Stream {
	return &Stream{Rate: rate, Format: format, Frames: frames, Decoder: decoder, r: r, closeFn: closeFn}
}

// Read reads whole PCM frames into p (len(p) is rounded down to a multiple
// of FrameSize). It returns io.EOF at the end of the audio.
func (s *Stream) Read(p []byte) (int, error) {
	p = p[:len(p)/FrameSize*FrameSize]
	if len(p) == 0 {
		return 0, nil
	}
	n, err := s.r.Read(p)
	if rem := n % FrameSize; rem != 0 {
		// Complete the frame a short read cut in two, or drop it at the end.
		m, err2 := io.ReadFull(s.r, p[n:n+FrameSize-rem])
		n += m
		if err2 != nil {
			n -= n % FrameSize
			if err == nil {
				err = err2
				if err == io.ErrUnexpectedEOF {
					err = io.EOF
				}
			}
		}
	}
	return n, err
}

// Close releases the stream's file and process.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		if s.closeFn != nil {
			s.closeErr = s.closeFn()
		}
	})
	return s.closeErr
}

// Decoder decodes call audio to PCM. Its zero value is ready: it decodes
// WAV and MP3 in Go and hands every other format to an ffmpeg found in PATH.
type Decoder struct {
	// FFmpeg is the path of the ffmpeg binary; "" looks "ffmpeg" up in PATH
	// at each use, so installing it takes effect without a restart.
	FFmpeg string
	// TrustGo, when set, takes the Go decoders' word that a WAV or MP3
	// file is damaged (ErrBadAudio) instead of trying ffmpeg on it too —
	// for work done on every call (the relay's loudness measurement),
	// where a process per damaged call costs more than it saves. Encodings
	// the Go decoders do not handle (ErrUnsupported) still go to ffmpeg.
	TrustGo bool
	// KeepRate leaves what the Go decoders decode (WAV, MP3) at the
	// audio's own sample rate (Stream.Rate says which) instead of
	// resampling it to the rate asked for; what ffmpeg decodes still comes
	// at that rate. For analysis rather than playing: resampling an 8 kHz
	// call to 48 kHz costs far more than measuring it.
	KeepRate bool
}

// Decode decodes r (a call's audio file of the given format) to a Stream of
// s16le stereo at outRate Hz, using a zero Decoder.
func Decode(ctx context.Context, r io.ReadSeeker, format media.Format, outRate int) (*Stream, error) {
	return Decoder{}.Decode(ctx, r, format, outRate)
}

// Decode decodes r to a Stream of s16le stereo at outRate Hz. WAV (PCM) and
// MP3 are decoded in Go; other formats, and WAV or MP3 files the Go decoders
// refuse, go through ffmpeg. ctx bounds an ffmpeg process for the whole life
// of the stream, not just this call. The Stream does not close r: the caller
// closes r after the Stream.
func (d Decoder) Decode(ctx context.Context, r io.ReadSeeker, format media.Format, outRate int) (*Stream, error) {
	if outRate < MinRate || outRate > MaxRate {
		return nil, fmt.Errorf("output sample rate %d Hz is out of range", outRate)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading the call's audio: %w", err)
	}
	var goErr error
	goRate := outRate
	if d.KeepRate {
		goRate = 0
	}
	switch format {
	case media.WAV:
		s, err := decodeWAV(r, goRate)
		if err == nil {
			return s, nil
		}
		goErr = err
	case media.MP3:
		s, err := decodeMP3(r, goRate)
		if err == nil {
			return s, nil
		}
		goErr = err
	}
	if goErr != nil && d.TrustGo && errors.Is(goErr, ErrBadAudio) {
		return nil, goErr
	}
	if goErr != nil {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("reading the call's audio: %w", err)
		}
	}
	s, err := d.decodeFFmpeg(ctx, r, format, outRate)
	if err != nil && goErr != nil {
		// The Go decoder's complaint is the more useful one, unless ffmpeg
		// merely is not there.
		if errors.Is(err, ErrNeedsFFmpeg) && errors.Is(goErr, ErrUnsupported) {
			return nil, fmt.Errorf("%w (%w)", err, goErr)
		}
		return nil, goErr
	}
	return s, err
}

// formatName names a format for messages.
func formatName(f media.Format) string {
	switch f {
	case media.MP3:
		return "MP3"
	case media.M4A:
		return "M4A/AAC"
	case media.WAV:
		return "WAV"
	case media.Ogg:
		return "Ogg"
	case media.Unknown:
		return "an unrecognised format"
	}
	if s, ok := any(f).(fmt.Stringer); ok { // formats media may add later (AAC, …)
		return s.String()
	}
	return "an unrecognised format"
}

// panicSafe turns a panic inside a third-party decoder's Read into an error,
// so damaged audio can never take the app down from the audio goroutine.
type panicSafe struct{ r io.Reader }

func (p panicSafe) Read(b []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("%w: decoder failed: %v", ErrBadAudio, v)
		}
	}()
	return p.r.Read(b)
}
