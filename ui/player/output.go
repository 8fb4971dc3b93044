package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Output is where PCM goes: the sound card in the app (OtoOutput), a fake
// sink in tests.
type Output interface {
	// SampleRate is the rate, in Hz, of the PCM the output plays:
	// interleaved s16le stereo.
	SampleRate() int
	// Start opens the device and makes the output pull PCM from src on
	// goroutines of its own for as long as src delivers it. src.Read blocks
	// while there is nothing to play and returns io.EOF once the player has
	// stopped; the output then stops pulling. Start is called once; its
	// error (no device, device refused the format) is shown to the listener.
	Start(ctx context.Context, src io.Reader) error
	// Err returns why the device stopped working after Start, or nil.
	Err() error
}

// OtoOutput plays through github.com/ebitengine/oto/v3: on Linux a
// PulseAudio server (or PipeWire's) spoken to directly, else ALSA's
// libasound loaded at run time; no cgo either way.
// oto allows one context per process, so the app creates one OtoOutput and
// hands it to one Player; the context is created when the Player starts, so
// a missing device becomes player state rather than a startup failure.
type OtoOutput struct {
	rate, channels int
	buffer         time.Duration

	mu     sync.Mutex
	ctx    *oto.Context
	player *oto.Player
	err    error // sticky: oto cannot make a second context after a failure
}

// Output buffering: the device buffer and oto's per-player buffer are each
// this long, so a pause, skip or volume change is heard within about twice
// this (the feeder applies commands at its next read).
const (
	defaultOutputBuffer = 50 * time.Millisecond
	deviceOpenTimeout   = 5 * time.Second
)

// NewOtoOutput returns an output for the given rate and channel count (1 or
// 2; mono output mixes the stereo PCM down). It opens nothing yet.
func NewOtoOutput(sampleRate, channels int) (*OtoOutput, error) {
	if sampleRate < 8000 || sampleRate > 192000 {
		return nil, fmt.Errorf("audio output: sample rate %d Hz is out of range", sampleRate)
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("audio output: %d channels (only mono and stereo are supported)", channels)
	}
	return &OtoOutput{rate: sampleRate, channels: channels, buffer: defaultOutputBuffer}, nil
}

var _ Output = (*OtoOutput)(nil)

// Suspender is an Output that can stop driving the sound device while
// nothing plays. The Player suspends it after a moment of silence and
// resumes it before the next call.
type Suspender interface {
	Suspend() error
	Resume() error
}

var _ Suspender = (*OtoOutput)(nil)

// Suspend implements Suspender: oto stops writing to the device.
func (o *OtoOutput) Suspend() error {
	o.mu.Lock()
	c := o.ctx
	o.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Suspend()
}

// Resume implements Suspender.
func (o *OtoOutput) Resume() error {
	o.mu.Lock()
	c := o.ctx
	o.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Resume()
}

// SampleRate implements Output.
func (o *OtoOutput) SampleRate() int { return o.rate }

// Start implements Output: it creates the process's oto context (waiting at
// most 5 s for the device to open) and a player pulling from src.
func (o *OtoOutput) Start(ctx context.Context, src io.Reader) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if o.player != nil {
		return errors.New("audio output: already started")
	}
	if o.ctx == nil {
		c, ready, err := oto.NewContext(&oto.NewContextOptions{
			SampleRate:   o.rate,
			ChannelCount: o.channels,
			Format:       oto.FormatSignedInt16LE,
			BufferSize:   o.buffer,
		})
		if err != nil {
			o.err = deviceError(err)
			return o.err
		}
		timer := time.NewTimer(deviceOpenTimeout)
		defer timer.Stop()
		select {
		case <-ready:
		case <-timer.C:
			o.err = fmt.Errorf("the sound device did not open within %s", deviceOpenTimeout)
			return o.err
		case <-ctx.Done():
			o.err = fmt.Errorf("opening the sound device: %w", ctx.Err())
			return o.err
		}
		if err := c.Err(); err != nil {
			o.err = deviceError(err)
			return o.err
		}
		o.ctx = c
	}
	if o.channels == 1 {
		src = &monoMix{src: src}
	}
	p := o.ctx.NewPlayer(src)
	bytesPerFrame := 2 * o.channels
	p.SetBufferSize(int(int64(o.rate)*int64(o.buffer)/int64(time.Second)) * bytesPerFrame)
	o.player = p
	// Play reads the first buffer on the calling goroutine, and src blocks
	// until there is a call to play, so it runs on its own goroutine; it
	// returns once that buffer is full or src reports io.EOF (the player
	// stopped), after which oto's own goroutine does the pulling.
	go p.Play()
	return nil
}

// Err implements Output.
func (o *OtoOutput) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if o.ctx != nil {
		if err := o.ctx.Err(); err != nil {
			return deviceError(err)
		}
	}
	if o.player != nil {
		if err := o.player.Err(); err != nil {
			return deviceError(err)
		}
	}
	return nil
}

// DeviceError says the sound output cannot be used. Error is the whole
// chain, for the log (oto's words for both backends it tried: a socket
// path, an ALSA call); Summary is what the listener is shown.
type DeviceError struct{ Err error }

func (e *DeviceError) Error() string { return "the sound device is not available: " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }

// Summary says what is wrong and what to check, without the internals.
func (e *DeviceError) Summary() string {
	return "No sound: Earshot could open neither a sound server (PulseAudio or PipeWire) nor an ALSA device. " +
		"Check that sound works on this computer; calls keep arriving and stay in History."
}

func deviceError(err error) error { return &DeviceError{Err: err} }

// monoMix turns s16le stereo into s16le mono by averaging the channels.
type monoMix struct {
	src io.Reader
	buf []byte
}

func (m *monoMix) Read(p []byte) (int, error) {
	frames := len(p) / 2
	if frames == 0 {
		return 0, nil
	}
	if cap(m.buf) < frames*FrameSize {
		m.buf = make([]byte, frames*FrameSize)
	}
	n, err := m.src.Read(m.buf[:frames*FrameSize])
	for i := 0; i < n/FrameSize; i++ {
		l := int16(uint16(m.buf[4*i]) | uint16(m.buf[4*i+1])<<8)
		r := int16(uint16(m.buf[4*i+2]) | uint16(m.buf[4*i+3])<<8)
		v := uint16(int16((int32(l) + int32(r)) / 2))
		p[2*i], p[2*i+1] = byte(v), byte(v>>8)
	}
	return n / FrameSize * 2, err
}
