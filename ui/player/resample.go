package player

import (
	"encoding/binary"
	"errors"
	"io"
)

// resampler converts s16le stereo from one rate to another by linear
// interpolation between neighbouring input frames.
//
// Linear interpolation is cheap and plenty for scanner audio, which is
// narrow-band voice recorded at 8–22.05 kHz and therefore upsampled to the
// output rate: the images it leaves above the source's Nyquist frequency are
// far down and mostly masked. It has no anti-aliasing filter, so
// downsampling wide-band audio (a 96 kHz WAV) can alias; no scanner recorder
// produces such files, and ffmpeg (which resamples its own output) handles
// every format but WAV and MP3.
//
// Output frame k sits at input position k·in/out, tracked exactly with an
// integer numerator (acc/out), so long calls do not drift.
type resampler struct {
	src      io.Reader
	in, out  int
	win      []int16 // input frames, interleaved L,R; win[2*i] is frame i
	i        int     // index of the input frame at or before the output position
	acc      int     // fractional position, in units of 1/out input frames
	raw      []byte
	carry    int // bytes of a partial frame kept at the start of raw
	eof      bool
	err      error
	readSize int
}

const resampleChunk = 4096 // input frames read at a time

func newResampler(src io.Reader, in, out int) *resampler {
	return &resampler{src: src, in: in, out: out, readSize: resampleChunk}
}

// resampledLen is how many output frames n input frames become.
func resampledLen(n int64, in, out int) int64 {
	if n <= 0 {
		return 0
	}
	// Output frames k sit at k·in/out; every one before input frame n is
	// produced: k·in < n·out, so ⌈n·out/in⌉ of them.
	return (n*int64(out) + int64(in) - 1) / int64(in)
}

func (r *resampler) frames() int { return len(r.win) / 2 }

// fill drops consumed input frames and reads more; it returns how many
// bytes the source gave.
func (r *resampler) fill() int {
	if r.i > 0 {
		drop := min(r.i, r.frames())
		n := copy(r.win, r.win[2*drop:])
		r.win = r.win[:n]
		r.i -= drop
	}
	if cap(r.raw) < r.readSize*FrameSize {
		r.raw = make([]byte, r.readSize*FrameSize)
	}
	raw := r.raw[:r.readSize*FrameSize]
	got, err := r.src.Read(raw[r.carry:])
	n := got + r.carry
	whole := n / FrameSize * FrameSize
	for o := 0; o < whole; o += 2 {
		r.win = append(r.win, int16(binary.LittleEndian.Uint16(raw[o:])))
	}
	r.carry = copy(raw, raw[whole:n])
	if err != nil {
		r.eof = true
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
	}
	return got
}

func (r *resampler) Read(p []byte) (int, error) {
	if len(p) < FrameSize {
		return 0, nil
	}
	o := 0
	stalls := 0
	for o+FrameSize <= len(p) {
		if r.i+1 >= r.frames() && !r.eof {
			if r.fill() == 0 && !r.eof {
				// The source returned nothing; do not spin on it.
				if stalls++; stalls > 100 {
					return o, io.ErrNoProgress
				}
			} else {
				stalls = 0
			}
			continue
		}
		if r.i >= r.frames() {
			break
		}
		a := r.win[2*r.i : 2*r.i+2]
		b := a
		if r.i+1 < r.frames() {
			b = r.win[2*r.i+2 : 2*r.i+4]
		}
		l := int(a[0]) + (int(b[0])-int(a[0]))*r.acc/r.out
		rr := int(a[1]) + (int(b[1])-int(a[1]))*r.acc/r.out
		binary.LittleEndian.PutUint16(p[o:], uint16(int16(l)))
		binary.LittleEndian.PutUint16(p[o+2:], uint16(int16(rr)))
		o += FrameSize
		r.acc += r.in
		r.i += r.acc / r.out
		r.acc %= r.out
	}
	if o > 0 {
		return o, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}
