package player

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// s16 packs interleaved samples as s16le.
func s16(v ...int16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
	}
	return b
}

func resampleAll(t testing.TB, src io.Reader, in, out int) []int16 {
	t.Helper()
	b, err := io.ReadAll(newResampler(src, in, out))
	if err != nil {
		t.Fatal(err)
	}
	return samples(b)
}

func TestResampler_Interpolates(t *testing.T) {
	// Doubling the rate puts a midpoint between neighbours; the last input
	// frame is held.
	got := resampleAll(t, bytes.NewReader(s16(0, 100, 1000, -100, 2000, 300)), 8000, 16000)
	want := []int16{0, 100, 500, 0, 1000, -100, 1500, 100, 2000, 300, 2000, 300}
	if !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Halving keeps every other frame.
	got = resampleAll(t, bytes.NewReader(s16(1, 1, 2, 2, 3, 3, 4, 4, 5, 5)), 16000, 8000)
	if want := []int16{1, 1, 3, 3, 5, 5}; !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResampler_LengthMatchesResampledLen(t *testing.T) {
	rates := []int{8000, 11025, 16000, 22050, 44100, 48000, 96000}
	for _, in := range rates {
		for _, n := range []int{0, 1, 2, 3, 147, 1000, 12345} {
			src := make([]int16, 2*n)
			got := resampleAll(t, bytes.NewReader(s16(src...)), in, 48000)
			if want := resampledLen(int64(n), in, 48000); int64(len(got)/2) != want {
				t.Errorf("%d frames at %d Hz → %d frames, resampledLen says %d", n, in, len(got)/2, want)
			}
		}
	}
}

// Whatever sizes the source reads come in, even split frames, the output
// is the same.
func TestResampler_SourceReadSizesDoNotMatter(t *testing.T) {
	var in []int16
	for i := 0; i < 5000; i++ {
		in = append(in, int16(i*7), int16(-i*3))
	}
	whole := resampleAll(t, bytes.NewReader(s16(in...)), 22050, 48000)
	for _, src := range []io.Reader{
		iotest.OneByteReader(bytes.NewReader(s16(in...))),
		iotest.HalfReader(bytes.NewReader(s16(in...))),
		&trickle{r: bytes.NewReader(s16(in...)), n: 3},
	} {
		if got := resampleAll(t, src, 22050, 48000); !equal(got, whole) {
			t.Fatalf("%T: output differs from whole-buffer reads", src)
		}
	}
}

func TestResampler_PassesSourceErrors(t *testing.T) {
	boom := errors.New("boom")
	r := newResampler(io.MultiReader(bytes.NewReader(s16(1, 1, 2, 2)), iotest.ErrReader(boom)), 8000, 48000)
	_, err := io.ReadAll(r)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestResampler_GivesUpOnASourceThatNeverProgresses(t *testing.T) {
	r := newResampler(zeroReader{}, 8000, 48000)
	if _, err := r.Read(make([]byte, 64)); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }
