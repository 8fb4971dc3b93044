package player

import (
	"context"
	"io"

	"earshot/relay/audio"
	"earshot/relay/media"
)

// The decoders live in relay/audio, where the relay's continuous stream
// uses them too; these names keep the player's API as it was.

// Output format of every Stream.
const (
	// Channels is the channel count of decoded PCM (stereo).
	Channels = audio.Channels
	// FrameSize is the size in bytes of one PCM frame (two s16le samples).
	FrameSize = audio.FrameSize
	// DefaultRate is the output sample rate the app uses, in Hz.
	DefaultRate = audio.DefaultRate
)

// Errors a decode can end with; test them with errors.Is.
var (
	// ErrNeedsFFmpeg: the call's audio is in a format only ffmpeg decodes
	// here (M4A/AAC, Ogg, …) and ffmpeg is not installed.
	ErrNeedsFFmpeg = audio.ErrNeedsFFmpeg
	// ErrBadAudio: the audio file is damaged, truncated in its header, or
	// not audio at all.
	ErrBadAudio = audio.ErrBadAudio
	// ErrUnsupported: the file is well formed but uses an encoding this
	// decoder does not handle (ffmpeg is tried next when it is installed).
	ErrUnsupported = audio.ErrUnsupported
)

// Stream is decoded audio: interleaved s16le stereo frames (audio.Stream).
type Stream = audio.Stream

// Decoder decodes call audio to PCM (audio.Decoder). Its zero value is ready.
type Decoder = audio.Decoder

// Decode decodes r (a call's audio file of the given format) to a Stream of
// s16le stereo at outRate Hz, using a zero Decoder.
func Decode(ctx context.Context, r io.ReadSeeker, format media.Format, outRate int) (*Stream, error) {
	return audio.Decode(ctx, r, format, outRate)
}
