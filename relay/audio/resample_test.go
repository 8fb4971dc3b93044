package audio

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"testing"
	"testing/iotest"

	"earshot/relay/audio/audiotest"
)

func resampleAll(t testing.TB, src io.Reader, in, out int) []int16 {
	t.Helper()
	b, err := io.ReadAll(newResampler(src, in, out))
	if err != nil {
		t.Fatal(err)
	}
	return audiotest.Samples(b)
}

// tone is n stereo frames of a sine at f Hz sampled at rate, amplitude a.
func tone(n int, f, rate, a float64) []byte {
	v := make([]int16, 0, 2*n)
	for i := 0; i < n; i++ {
		x := int16(math.Round(a * math.Sin(2*math.Pi*f*float64(i)/rate)))
		v = append(v, x, x)
	}
	return audiotest.S16(v...)
}

// errorDB compares got with the ideal sine (f Hz at rate, amplitude a) away
// from the edges and returns the error energy relative to the signal, in dB.
func errorDB(got []int16, f, rate, a float64, edge int) float64 {
	var e, sig float64
	for i := edge; i < len(got)/2-edge; i++ {
		want := a * math.Sin(2*math.Pi*f*float64(i)/rate)
		d := float64(got[2*i]) - want
		e += d * d
		sig += want * want
	}
	return 10 * math.Log10(e/sig)
}

func TestResampler_KeepsTheVoiceBandClean(t *testing.T) {
	for _, tt := range []struct {
		in    int
		f     float64
		maxDB float64 // error energy relative to the tone
	}{
		{8000, 400, -60},
		{8000, 1000, -60},
		{8000, 3000, -40}, // linear interpolation: about -10 dB here
		{11025, 3000, -50},
		{16000, 3000, -60},
		{22050, 5000, -60},
		{44100, 10000, -60},
	} {
		got := resampleAll(t, bytes.NewReader(tone(tt.in, tt.f, float64(tt.in), 16000)), tt.in, 48000)
		if db := errorDB(got, tt.f, 48000, 16000, 48000/20); db > tt.maxDB {
			t.Errorf("%g Hz tone, %d→48000 Hz: error %.1f dB, want ≤ %g dB", tt.f, tt.in, db, tt.maxDB)
		}
	}
}

func TestResampler_DownsamplingDoesNotAlias(t *testing.T) {
	// 1 kHz passes; 6 kHz is above the 4 kHz output Nyquist frequency and
	// must be filtered out rather than fold down to 2 kHz.
	got := resampleAll(t, bytes.NewReader(tone(48000, 1000, 48000, 16000)), 48000, 8000)
	if db := errorDB(got, 1000, 8000, 16000, 400); db > -50 {
		t.Errorf("1 kHz tone, 48000→8000 Hz: error %.1f dB", db)
	}
	got = resampleAll(t, bytes.NewReader(tone(48000, 6000, 48000, 16000)), 48000, 8000)
	if r := audiotest.RMS(got[800 : len(got)-800]); r > 16000.0/32768*0.01 {
		t.Errorf("6 kHz tone leaked through 48000→8000 Hz at RMS %.5f (more than -40 dB)", r)
	}
}

func TestResampler_ConstantStaysConstant(t *testing.T) {
	in := make([]int16, 2*3000)
	for i := range in {
		in[i] = -12345
	}
	got := resampleAll(t, bytes.NewReader(audiotest.S16(in...)), 22050, 48000)
	edge := 2 * 40 // the filter's ramp in and out of the zeros around the call
	for i := edge; i < len(got)-edge; i++ {
		if d := int(got[i]) + 12345; d < -1 || d > 1 {
			t.Fatalf("sample %d = %d, want -12345", i, got[i])
		}
	}
}

func TestResampler_LengthMatchesResampledLen(t *testing.T) {
	rates := []int{8000, 11025, 16000, 22050, 44100, 48000, 96000}
	for _, in := range rates {
		for _, n := range []int{0, 1, 2, 3, 147, 1000, 12345} {
			src := make([]int16, 2*n)
			got := resampleAll(t, bytes.NewReader(audiotest.S16(src...)), in, 48000)
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
	whole := resampleAll(t, bytes.NewReader(audiotest.S16(in...)), 22050, 48000)
	for _, src := range []io.Reader{
		iotest.OneByteReader(bytes.NewReader(audiotest.S16(in...))),
		iotest.HalfReader(bytes.NewReader(audiotest.S16(in...))),
		&trickle{r: bytes.NewReader(audiotest.S16(in...)), n: 3},
	} {
		if got := resampleAll(t, src, 22050, 48000); !slices.Equal(got, whole) {
			t.Fatalf("%T: output differs from whole-buffer reads", src)
		}
	}
}

func TestResampler_PassesSourceErrors(t *testing.T) {
	boom := errors.New("boom")
	r := newResampler(io.MultiReader(bytes.NewReader(audiotest.S16(1, 1, 2, 2)), iotest.ErrReader(boom)), 8000, 48000)
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
