package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"earshot/relay/media"
)

// Limits for WAV files, which come from uploaders we do not control.
const (
	maxWAVChunks   = 64     // chunks scanned before "data"
	maxFmtChunk    = 1024   // a PCM fmt chunk is 16–40 bytes
	maxWAVSeconds  = 3600   // calls are seconds to minutes long
	wavReadFrames  = 4096   // source frames converted per read
	waveFormatPCM  = 0x0001 // WAVE_FORMAT_PCM
	waveFormatIEEE = 0x0003 // WAVE_FORMAT_IEEE_FLOAT
	waveFormatExt  = 0xFFFE // WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format
	riffUnknownLen = 0xFFFFFFFF
)

// wavFormat is what a WAV header says about its samples.
type wavFormat struct {
	rate       int
	channels   int
	bits       int
	float      bool
	blockAlign int
	dataLen    int64 // bytes of sample data, clamped to the file
}

// decodeWAV decodes a PCM WAV file (8/16/24/32-bit integer or 32-bit float,
// mono or stereo, any rate) to s16le stereo at outRate (0: its own rate).
func decodeWAV(r io.ReadSeeker, outRate int) (*Stream, error) {
	f, err := parseWAV(r)
	if err != nil {
		return nil, err
	}
	if outRate == 0 {
		outRate = f.rate // the file's own
	}
	frames := f.dataLen / int64(f.blockAlign)
	var src io.Reader = &wavReader{r: io.LimitReader(r, frames*int64(f.blockAlign)), f: f}
	outFrames := frames
	if f.rate != outRate {
		src = newResampler(src, f.rate, outRate)
		outFrames = resampledLen(frames, f.rate, outRate)
	}
	return newStream(src, outRate, media.WAV, outFrames, "wav", nil), nil
}

// parseWAV reads the RIFF header up to the start of the sample data and
// leaves r positioned there.
func parseWAV(r io.ReadSeeker) (wavFormat, error) {
	var f wavFormat
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return f, fmt.Errorf("reading WAV: %w", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return f, fmt.Errorf("reading WAV: %w", err)
	}
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return f, fmt.Errorf("%w: WAV file shorter than its header", ErrBadAudio)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return f, fmt.Errorf("%w: not a RIFF/WAVE file", ErrBadAudio)
	}
	pos := int64(12)
	haveFmt := false
	for i := 0; i < maxWAVChunks; i++ {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if !haveFmt {
				return f, fmt.Errorf("%w: WAV file has no format chunk", ErrBadAudio)
			}
			return f, fmt.Errorf("%w: WAV file has no data chunk", ErrBadAudio)
		}
		pos += 8
		id := string(ch[0:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if haveFmt {
				return f, fmt.Errorf("%w: WAV file has two format chunks", ErrBadAudio)
			}
			if n < 16 || n > maxFmtChunk {
				return f, fmt.Errorf("%w: WAV format chunk of %d bytes", ErrBadAudio, n)
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return f, fmt.Errorf("%w: WAV format chunk cut short", ErrBadAudio)
			}
			if err := f.parseFmt(buf); err != nil {
				return f, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, fmt.Errorf("%w: WAV data comes before its format", ErrBadAudio)
			}
			// Recorders that stream WAV write a placeholder length (0 or
			// 0xFFFFFFFF) or never fix it up; the file's end is the truth.
			if rest := size - pos; n == riffUnknownLen || n == 0 || n > rest {
				n = rest
			}
			n -= n % int64(f.blockAlign)
			if maxLen := int64(maxWAVSeconds) * int64(f.rate) * int64(f.blockAlign); n > maxLen {
				return f, fmt.Errorf("%w: WAV audio longer than %d minutes", ErrUnsupported, maxWAVSeconds/60)
			}
			f.dataLen = n
			return f, nil
		default:
			skip := n + n&1 // chunks are padded to even sizes
			if pos+skip > size {
				return f, fmt.Errorf("%w: WAV chunk %q runs past the end of the file", ErrBadAudio, printable(id))
			}
			if _, err := r.Seek(skip, io.SeekCurrent); err != nil {
				return f, fmt.Errorf("reading WAV: %w", err)
			}
			pos += skip
			continue
		}
		pos += n
		if n&1 == 1 {
			if _, err := r.Seek(1, io.SeekCurrent); err != nil {
				return f, fmt.Errorf("reading WAV: %w", err)
			}
			pos++
		}
	}
	return f, fmt.Errorf("%w: no WAV data chunk among the first %d chunks", ErrBadAudio, maxWAVChunks)
}

func (f *wavFormat) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	f.channels = int(binary.LittleEndian.Uint16(b[2:4]))
	rate := binary.LittleEndian.Uint32(b[4:8])
	f.blockAlign = int(binary.LittleEndian.Uint16(b[12:14]))
	f.bits = int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == waveFormatExt {
		if len(b) < 40 {
			return fmt.Errorf("%w: WAV extensible format chunk too short", ErrBadAudio)
		}
		// The sub-format GUID starts with the plain format tag.
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	switch tag {
	case waveFormatPCM:
		if f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32 {
			return fmt.Errorf("%w: %d-bit WAV samples", ErrUnsupported, f.bits)
		}
	case waveFormatIEEE:
		if f.bits != 32 {
			return fmt.Errorf("%w: %d-bit floating-point WAV samples", ErrUnsupported, f.bits)
		}
		f.float = true
	default:
		return fmt.Errorf("%w: WAV encoding 0x%04x (not PCM)", ErrUnsupported, tag)
	}
	if f.channels != 1 && f.channels != 2 {
		return fmt.Errorf("%w: WAV with %d channels", ErrUnsupported, f.channels)
	}
	if rate < MinRate || rate > MaxRate {
		return fmt.Errorf("%w: WAV sample rate %d Hz", ErrBadAudio, rate)
	}
	f.rate = int(rate)
	if f.blockAlign != f.channels*f.bits/8 {
		return fmt.Errorf("%w: WAV block size %d does not match %d channels of %d bits", ErrBadAudio, f.blockAlign, f.channels, f.bits)
	}
	return nil
}

// printable keeps a chunk id safe to put in a message.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// wavReader converts WAV sample data to s16le stereo at the file's rate.
type wavReader struct {
	r   io.Reader // limited to the data chunk
	f   wavFormat
	buf []byte
	eof bool
}

func (w *wavReader) Read(p []byte) (int, error) {
	if w.eof {
		return 0, io.EOF
	}
	frames := min(len(p)/FrameSize, wavReadFrames)
	if frames == 0 {
		return 0, nil
	}
	need := frames * w.f.blockAlign
	if cap(w.buf) < need {
		w.buf = make([]byte, need)
	}
	in := w.buf[:need]
	n, err := io.ReadFull(w.r, in)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("reading WAV samples: %w", err)
		}
		// A file cut short plays what it has.
		w.eof = true
	}
	got := n / w.f.blockAlign
	in = in[:got*w.f.blockAlign]
	bps := w.f.bits / 8
	o := 0
	for i := 0; i < got; i++ {
		frame := in[i*w.f.blockAlign:]
		l := w.sample(frame)
		r := l
		if w.f.channels == 2 {
			r = w.sample(frame[bps:])
		}
		binary.LittleEndian.PutUint16(p[o:], uint16(l))
		binary.LittleEndian.PutUint16(p[o+2:], uint16(r))
		o += FrameSize
	}
	if o == 0 && w.eof {
		return 0, io.EOF
	}
	return o, nil
}

// sample converts one sample to int16 (higher depths are truncated to their
// top 16 bits, which is inaudible on scanner audio).
func (w *wavReader) sample(b []byte) int16 {
	switch {
	case w.f.float:
		v := math.Float32frombits(binary.LittleEndian.Uint32(b))
		return floatToS16(v)
	case w.f.bits == 8:
		return int16(int(b[0])-128) << 8
	case w.f.bits == 16:
		return int16(binary.LittleEndian.Uint16(b))
	case w.f.bits == 24:
		return int16(uint16(b[1]) | uint16(b[2])<<8)
	default: // 32
		return int16(uint16(b[2]) | uint16(b[3])<<8)
	}
}

func floatToS16(v float32) int16 {
	if v != v { // NaN
		return 0
	}
	x := v * 32767
	switch {
	case x >= 32767:
		return 32767
	case x <= -32768:
		return -32768
	}
	return int16(x)
}
