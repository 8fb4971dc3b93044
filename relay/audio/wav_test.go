package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"earshot/relay/audio/audiotest"
)

func TestDecodeWAV_SampleFormats(t *testing.T) {
	// Left +0.5, right -0.25: checks depth conversion and channel order.
	val := func(_ int, ch int) float64 {
		if ch == 0 {
			return 0.5
		}
		return -0.25
	}
	tests := []struct {
		name string
		spec audiotest.WAVSpec
		tol  int
	}{
		{"8-bit mono", audiotest.WAVSpec{Bits: 8, Channels: 1}, 260},
		{"8-bit stereo", audiotest.WAVSpec{Bits: 8, Channels: 2}, 260},
		{"16-bit mono", audiotest.WAVSpec{Bits: 16, Channels: 1}, 2},
		{"16-bit stereo", audiotest.WAVSpec{Bits: 16, Channels: 2}, 2},
		{"24-bit stereo", audiotest.WAVSpec{Bits: 24, Channels: 2}, 2},
		{"32-bit stereo", audiotest.WAVSpec{Bits: 32, Channels: 2}, 2},
		{"float stereo", audiotest.WAVSpec{Bits: 32, Channels: 2, Float: true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Rate, spec.Frames, spec.Sample = 48000, 480, val
			s, err := decodeWAV(bytes.NewReader(audiotest.MakeWAV(spec)), 48000)
			if err != nil {
				t.Fatal(err)
			}
			pcm := readAll(t, s)
			if len(pcm) != 2*480 || s.Frames != 480 {
				t.Fatalf("got %d samples (Frames %d), want 960 (480)", len(pcm), s.Frames)
			}
			wantL, wantR := 16383, -8192
			if spec.Channels == 1 {
				wantR = wantL // mono plays on both sides
			}
			for i := 0; i < len(pcm); i += 2 {
				if abs(int(pcm[i])-wantL) > tt.tol || abs(int(pcm[i+1])-wantR) > tt.tol {
					t.Fatalf("frame %d = (%d, %d), want about (%d, %d)", i/2, pcm[i], pcm[i+1], wantL, wantR)
				}
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestDecodeWAV_ResamplesEveryRate(t *testing.T) {
	for _, rate := range []int{8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000} {
		spec := audiotest.WAVSpec{Rate: rate, Channels: 1, Bits: 16, Frames: rate / 2, Sample: func(int, int) float64 { return 0.25 }}
		s, err := decodeWAV(bytes.NewReader(audiotest.MakeWAV(spec)), 48000)
		if err != nil {
			t.Fatalf("%d Hz: %v", rate, err)
		}
		pcm := readAll(t, s)
		frames := int64(len(pcm) / 2)
		if frames != s.Frames {
			t.Errorf("%d Hz: decoded %d frames, Frames says %d", rate, frames, s.Frames)
		}
		if want := resampledLen(int64(rate/2), rate, 48000); frames != want || frames < 23997 || frames > 24000 {
			t.Errorf("%d Hz: half a second became %d frames at 48 kHz, want %d", rate, frames, want)
		}
		// A constant stays constant (away from the filter's ramp in from
		// and out to silence at the ends).
		edge := 2 * 200
		for i, v := range pcm[edge : len(pcm)-edge] {
			if abs(int(v)-8192) > 2 {
				t.Fatalf("%d Hz: sample %d = %d, want 8192", rate, i+edge, v)
			}
		}
	}
}

// wavWith builds a WAV from raw chunks after the RIFF/WAVE header.
func wavWith(chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+len(body)))
	out = append(out, "WAVE"...)
	return append(out, body...)
}

func chunk(id string, size uint32, data []byte) []byte {
	out := append([]byte(id), binary.LittleEndian.AppendUint32(nil, size)...)
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func fmtBody(tag, channels uint16, rate uint32, blockAlign, bits uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(blockAlign))
	b = binary.LittleEndian.AppendUint16(b, blockAlign)
	return binary.LittleEndian.AppendUint16(b, bits)
}

func extensibleFmt(channels uint16, rate uint32, bits uint16, subTag uint16) []byte {
	b := fmtBody(waveFormatExt, channels, rate, channels*bits/8, bits)
	b = binary.LittleEndian.AppendUint16(b, 22) // cbSize
	b = binary.LittleEndian.AppendUint16(b, bits)
	b = binary.LittleEndian.AppendUint32(b, 3) // channel mask
	b = binary.LittleEndian.AppendUint16(b, subTag)
	return append(b, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
}

func TestDecodeWAV_AcceptsRealWorldQuirks(t *testing.T) {
	pcm := bytes.Repeat([]byte{0x00, 0x10}, 100) // 100 mono frames of 4096
	fmt16 := chunk("fmt ", 16, fmtBody(1, 1, 48000, 2, 16))
	tests := []struct {
		name   string
		file   []byte
		frames int64
	}{
		{"plain", wavWith(fmt16, chunk("data", 200, pcm)), 100},
		{"odd-sized chunk before fmt is padded", wavWith(chunk("LIST", 3, []byte("abc")), fmt16, chunk("data", 200, pcm)), 100},
		{"extensible PCM", wavWith(chunk("fmt ", 40, extensibleFmt(1, 48000, 16, 1)), chunk("data", 200, pcm)), 100},
		{"streaming placeholder length 0xFFFFFFFF", wavWith(fmt16, chunk("data", 0xFFFFFFFF, pcm)), 100},
		{"streaming placeholder length 0", wavWith(fmt16, chunk("data", 0, pcm)), 100},
		{"data cut short plays what is there", wavWith(fmt16, chunk("data", 4000, pcm)), 100},
		{"half frame at the end is dropped", wavWith(fmt16, chunk("data", 201, append(pcm, 7))), 100},
		{"no samples", wavWith(fmt16, chunk("data", 0, nil)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := decodeWAV(bytes.NewReader(tt.file), 48000)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, s)
			if int64(len(got)/2) != tt.frames || s.Frames != tt.frames {
				t.Fatalf("decoded %d frames (Frames %d), want %d", len(got)/2, s.Frames, tt.frames)
			}
			for _, v := range got {
				if v != 4096 {
					t.Fatalf("sample %d, want 4096", v)
				}
			}
		})
	}
}

func TestDecodeWAV_RejectsMalformed(t *testing.T) {
	pcm := make([]byte, 64)
	fmt16 := chunk("fmt ", 16, fmtBody(1, 1, 8000, 2, 16))
	many := [][]byte{fmt16}
	for i := 0; i < maxWAVChunks; i++ {
		many = append(many, chunk("junk", 2, []byte{0, 0}))
	}
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrBadAudio},
		{"not RIFF", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\x00\x00"), ErrBadAudio},
		{"RIFF but not WAVE", []byte("RIFF\x04\x00\x00\x00AVI "), ErrBadAudio},
		{"header only", wavWith(), ErrBadAudio},
		{"no data chunk", wavWith(fmt16), ErrBadAudio},
		{"data before fmt", wavWith(chunk("data", 64, pcm), fmt16), ErrBadAudio},
		{"two fmt chunks", wavWith(fmt16, fmt16, chunk("data", 64, pcm)), ErrBadAudio},
		{"fmt too short", wavWith(chunk("fmt ", 8, make([]byte, 8)), chunk("data", 64, pcm)), ErrBadAudio},
		{"fmt absurdly long", wavWith(chunk("fmt ", 1<<20, make([]byte, 16))), ErrBadAudio},
		{"fmt cut short", wavWith(chunk("fmt ", 16, make([]byte, 8))), ErrBadAudio},
		{"zero rate", wavWith(chunk("fmt ", 16, fmtBody(1, 1, 0, 2, 16)), chunk("data", 64, pcm)), ErrBadAudio},
		{"absurd rate", wavWith(chunk("fmt ", 16, fmtBody(1, 1, 50_000_000, 2, 16)), chunk("data", 64, pcm)), ErrBadAudio},
		{"block align lies", wavWith(chunk("fmt ", 16, fmtBody(1, 2, 8000, 2, 16)), chunk("data", 64, pcm)), ErrBadAudio},
		{"zero block align", wavWith(chunk("fmt ", 16, fmtBody(1, 1, 8000, 0, 16)), chunk("data", 64, pcm)), ErrBadAudio},
		{"chunk runs past the end", wavWith(fmt16, chunk("LIST", 1000, []byte("x"))), ErrBadAudio},
		{"too many chunks", wavWith(many...), ErrBadAudio},
		{"extensible too short", wavWith(chunk("fmt ", 18, append(fmtBody(waveFormatExt, 1, 8000, 2, 16), 0, 0)), chunk("data", 64, pcm)), ErrBadAudio},
		{"12-bit samples", wavWith(chunk("fmt ", 16, fmtBody(1, 1, 8000, 2, 12)), chunk("data", 64, pcm)), ErrUnsupported},
		{"no channels", wavWith(chunk("fmt ", 16, fmtBody(1, 0, 8000, 0, 16)), chunk("data", 64, pcm)), ErrUnsupported},
		{"six channels", wavWith(chunk("fmt ", 16, fmtBody(1, 6, 8000, 12, 16)), chunk("data", 64, pcm)), ErrUnsupported},
		{"IMA ADPCM", wavWith(chunk("fmt ", 16, fmtBody(0x11, 1, 8000, 256, 4)), chunk("data", 64, pcm)), ErrUnsupported},
		{"mu-law", wavWith(chunk("fmt ", 16, fmtBody(7, 1, 8000, 1, 8)), chunk("data", 64, pcm)), ErrUnsupported},
		{"16-bit float", wavWith(chunk("fmt ", 16, fmtBody(3, 1, 8000, 2, 16)), chunk("data", 64, pcm)), ErrUnsupported},
		{"extensible ADPCM", wavWith(chunk("fmt ", 40, extensibleFmt(1, 8000, 16, 0x11)), chunk("data", 64, pcm)), ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeWAV(bytes.NewReader(tt.file), 48000)
			if err == nil {
				t.Fatal("decodeWAV accepted a malformed file")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// A data chunk longer than the cap is refused only when the file really
// holds that much (a longer claim is clamped to the file), so the test fakes
// a 4 GiB file with a seeker.
func TestDecodeWAV_CapsDuration(t *testing.T) {
	head := wavWith(chunk("fmt ", 16, fmtBody(1, 2, 8000, 4, 16)), chunk("data", 0xFFFFFFF0, nil))
	r := &bigFile{head: head, size: int64(len(head)) + 0xFFFFFFF0}
	_, err := decodeWAV(r, 48000)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported (too long)", err)
	}
}

// bigFile is a ReadSeeker that pretends to be size bytes long: head, then
// zeros.
type bigFile struct {
	head []byte
	size int64
	pos  int64
}

func (b *bigFile) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.size-b.pos))
	for i := 0; i < n; i++ {
		p[i] = 0
		if b.pos+int64(i) < int64(len(b.head)) {
			p[i] = b.head[b.pos+int64(i)]
		}
	}
	b.pos += int64(n)
	return n, nil
}

func (b *bigFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		b.pos = off
	case io.SeekCurrent:
		b.pos += off
	case io.SeekEnd:
		b.pos = b.size + off
	}
	return b.pos, nil
}

func FuzzDecodeWAV(f *testing.F) {
	f.Add(audiotest.Fixture(f, "speech.wav"))
	for _, s := range []audiotest.WAVSpec{
		{Rate: 8000, Channels: 1, Bits: 8, Frames: 7},
		{Rate: 11025, Channels: 2, Bits: 24, Frames: 5},
		{Rate: 48000, Channels: 2, Bits: 32, Float: true, Frames: 3},
		{Rate: 44100, Channels: 1, Bits: 32, Frames: 9},
	} {
		s.Sample = func(i, ch int) float64 { return float64(i%7)/7 - float64(ch)/3 }
		f.Add(audiotest.MakeWAV(s))
	}
	f.Add(wavWith(chunk("fmt ", 40, extensibleFmt(2, 22050, 16, 1)), chunk("data", 0xFFFFFFFF, make([]byte, 12))))
	f.Add(wavWith(chunk("LIST", 5, []byte("hello")), chunk("fmt ", 16, fmtBody(1, 1, 8000, 2, 16)), chunk("data", 0, []byte{1, 2, 3})))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeWAV(bytes.NewReader(data), 48000)
		if err != nil {
			if !errors.Is(err, ErrBadAudio) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is neither ErrBadAudio nor ErrUnsupported", err)
			}
			return
		}
		var total int64
		buf := make([]byte, 1000) // not a multiple of the frame size on purpose
		for {
			n, err := s.Read(buf)
			if n%FrameSize != 0 {
				t.Fatalf("Read returned %d bytes: not whole frames", n)
			}
			total += int64(n / FrameSize)
			if total > s.Frames {
				t.Fatalf("decoded more than the %d frames announced", s.Frames)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read error after a successful parse: %v", err)
			}
		}
		if total != s.Frames {
			t.Fatalf("decoded %d frames, announced %d", total, s.Frames)
		}
	})
}
