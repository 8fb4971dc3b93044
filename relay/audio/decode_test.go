package audio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"earshot/relay/audio/audiotest"
	"earshot/relay/media"
)

// The fixtures are ~1 s of espeak-ng speech ("Engine twelve, respond"),
// encoded the way scanner recorders upload calls. See testdata/README.md.
func TestDecode_Fixtures(t *testing.T) {
	tests := []struct {
		file    string
		format  media.Format
		decoder string
		minSec  float64
		maxSec  float64
	}{
		{"speech.wav", media.WAV, "wav", 1, 1},                // 8 kHz mono s16
		{"speech.mp3", media.MP3, "mp3", 0.95, 1.2},           // MPEG-2 Layer III, 22.05 kHz mono
		{"speech-stereo44k.mp3", media.MP3, "mp3", 0.95, 1.2}, // MPEG-1 Layer III, 44.1 kHz stereo
		{"speech.m4a", media.M4A, "ffmpeg", 0.95, 1.2},        // AAC-LC in MP4, index at the end
		{"speech.aac", media.Unknown, "ffmpeg", 0.95, 1.2},    // raw ADTS AAC
		{"speech.ogg", media.Ogg, "ffmpeg", 0.95, 1.2},        // Vorbis
		{"speech.opus", media.Ogg, "ffmpeg", 0.95, 1.2},       // Opus in Ogg
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if tt.decoder == "ffmpeg" {
				audiotest.NeedFFmpeg(t)
			}
			data := audiotest.Fixture(t, tt.file)
			s, err := Decode(context.Background(), bytes.NewReader(data), tt.format, DefaultRate)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			defer s.Close()
			if s.Decoder != tt.decoder {
				t.Errorf("Decoder = %q, want %q", s.Decoder, tt.decoder)
			}
			if s.Rate != DefaultRate {
				t.Errorf("Rate = %d, want %d", s.Rate, DefaultRate)
			}
			pcm := readAll(t, s)
			frames := int64(len(pcm) / Channels)
			sec := float64(frames) / DefaultRate
			if sec < tt.minSec || sec > tt.maxSec {
				t.Errorf("decoded %d frames (%.3f s), want %.2f–%.2f s", frames, sec, tt.minSec, tt.maxSec)
			}
			if s.Frames >= 0 && s.Frames != frames {
				t.Errorf("Frames = %d, but %d were decoded", s.Frames, frames)
			}
			if tt.decoder != "ffmpeg" && s.Frames < 0 {
				t.Errorf("Frames unknown for the Go %s decoder", tt.decoder)
			}
			if r := audiotest.RMS(pcm); r < 0.02 {
				t.Errorf("RMS %.4f: the audio is (nearly) silent", r)
			}
		})
	}
}

// Sniffing the fixtures must pick the Go decoders for WAV and MP3.
func TestDecode_FixturesSniff(t *testing.T) {
	for file, want := range map[string]media.Format{
		"speech.wav": media.WAV, "speech.mp3": media.MP3, "speech-stereo44k.mp3": media.MP3, "speech.m4a": media.M4A, "speech.ogg": media.Ogg,
	} {
		if got := media.Sniff(audiotest.Fixture(t, file)[:media.SniffLen]); got != want {
			t.Errorf("media.Sniff(%s) = %v, want %v", file, got, want)
		}
	}
}

// The same speech decoded by the Go WAV path and by ffmpeg must line up:
// this catches a wrong rate, channel layout or byte order in either.
func TestDecode_GoAndFFmpegAgree(t *testing.T) {
	audiotest.NeedFFmpeg(t)
	data := audiotest.Fixture(t, "speech.wav")
	goS, err := decodeWAV(bytes.NewReader(data), DefaultRate)
	if err != nil {
		t.Fatal(err)
	}
	ffS, err := Decoder{}.decodeFFmpeg(context.Background(), bytes.NewReader(data), media.WAV, DefaultRate)
	if err != nil {
		t.Fatal(err)
	}
	defer ffS.Close()
	a, b := readAll(t, goS), readAll(t, ffS)
	if d := len(a) - len(b); d < -96 || d > 96 {
		t.Fatalf("lengths differ: Go %d samples, ffmpeg %d", len(a), len(b))
	}
	n := min(len(a), len(b))
	var diff, sig float64
	for i := 0; i < n; i++ {
		d := float64(a[i]) - float64(b[i])
		diff += d * d
		sig += float64(a[i]) * float64(a[i])
	}
	// Our windowed-sinc resampler has the shape of ffmpeg's default one,
	// and both put mono on the two channels at full level: measured 0.005%
	// of the signal energy apart. Linear interpolation gave 7.8%, ffmpeg's
	// own -3 dB mono upmix 8.6%; a wrong rate, channel order or byte order
	// gives 100% or more.
	if ratio := diff / sig; ratio > 0.001 {
		t.Errorf("Go and ffmpeg decodes differ by %.1f%% of the signal energy", 100*ratio)
	}
}

func TestDecode_MissingFFmpeg(t *testing.T) {
	m4a := audiotest.Fixture(t, "speech.m4a")
	t.Run("configured path absent", func(t *testing.T) {
		_, err := Decoder{FFmpeg: filepath.Join(t.TempDir(), "ffmpeg")}.Decode(context.Background(), bytes.NewReader(m4a), media.M4A, DefaultRate)
		if !errors.Is(err, ErrNeedsFFmpeg) {
			t.Fatalf("err = %v, want ErrNeedsFFmpeg", err)
		}
		if !strings.Contains(err.Error(), "M4A") || !strings.Contains(err.Error(), "install") {
			t.Errorf("message %q should name the format and say to install ffmpeg", err)
		}
	})
	t.Run("not in PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := Decode(context.Background(), bytes.NewReader(m4a), media.M4A, DefaultRate)
		if !errors.Is(err, ErrNeedsFFmpeg) {
			t.Fatalf("err = %v, want ErrNeedsFFmpeg", err)
		}
	})
	t.Run("WAV and MP3 need no ffmpeg", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		for _, f := range []struct {
			file   string
			format media.Format
		}{{"speech.wav", media.WAV}, {"speech.mp3", media.MP3}} {
			s, err := Decode(context.Background(), bytes.NewReader(audiotest.Fixture(t, f.file)), f.format, DefaultRate)
			if err != nil {
				t.Fatalf("%s: %v", f.file, err)
			}
			s.Close()
		}
	})
	t.Run("unsupported WAV encoding says both", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		w := audiotest.MakeWAV(audiotest.WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: 10, Sample: func(int, int) float64 { return 0 }})
		w[20] = 0x11 // IMA ADPCM
		_, err := Decode(context.Background(), bytes.NewReader(w), media.WAV, DefaultRate)
		if !errors.Is(err, ErrNeedsFFmpeg) || !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err = %v, want ErrNeedsFFmpeg and ErrUnsupported", err)
		}
	})
}

func TestDecode_FFmpegRejectsGarbage(t *testing.T) {
	audiotest.NeedFFmpeg(t)
	junk := bytes.Repeat([]byte("this is not audio "), 200)
	s, err := Decode(context.Background(), bytes.NewReader(junk), media.Unknown, DefaultRate)
	if err == nil {
		defer s.Close()
		_, err = readAllErr(s)
	}
	if !errors.Is(err, ErrBadAudio) {
		t.Fatalf("err = %v, want ErrBadAudio", err)
	}
}

func TestDecode_DamagedMP3(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no ffmpeg fallback: the Go error must come back
	_, err := Decode(context.Background(), bytes.NewReader(bytes.Repeat([]byte{0xff, 0xfb, 0x00}, 100)), media.MP3, DefaultRate)
	if err == nil {
		t.Fatal("Decode of a damaged MP3 succeeded")
	}
}

func readAllErr(s *Stream) (int, error) {
	buf := make([]byte, 8192)
	total := 0
	for {
		n, err := s.Read(buf)
		total += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
	}
}

// longM4A writes an M4A (index at the end, as ffmpeg and many recorders
// write it) large enough that ffmpeg cannot decode it through a pipe.
func longM4A(t testing.TB, seconds int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "long.m4a")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
		"sine=f=440:d="+strconv.Itoa(seconds), "-ac", "1", "-ar", "16000", "-c:a", "aac", "-b:a", "96k", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making test M4A: %v: %s", err, out)
	}
	return path
}

func TestDecode_M4AWithIndexAtEndFromFile(t *testing.T) {
	audiotest.NeedFFmpeg(t)
	f, err := os.Open(longM4A(t, 40))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Decode(context.Background(), f, media.M4A, DefaultRate)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pcm := readAll(t, s)
	sec := float64(len(pcm)/Channels) / DefaultRate
	if sec < 39.9 || sec > 40.2 {
		t.Fatalf("decoded %.2f s, want 40", sec)
	}
}

func TestDecode_FFmpegStopsOnCloseAndCancel(t *testing.T) {
	audiotest.NeedFFmpeg(t)
	path := longM4A(t, 30)
	open := func(ctx context.Context) *Stream {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s, err := Decode(ctx, f, media.M4A, DefaultRate)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("close", func(t *testing.T) {
		s := open(context.Background())
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		audiotest.Await(t, done, "Close to stop ffmpeg")
		if ps := s.r.(*ffmpegProc).cmd.ProcessState; ps == nil {
			t.Fatal("ffmpeg was not reaped by Close")
		}
		s.Close() // idempotent
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		s := open(ctx)
		defer s.Close()
		cancel()
		res := make(chan error, 1)
		go func() { _, err := readAllErr(s); res <- err }()
		if err := audiotest.Await(t, res, "the stream to end after cancel"); err == nil {
			// ffmpeg may have finished writing before the kill landed;
			// either way the process must be gone.
			t.Log("stream ended cleanly after cancel")
		}
		if ps := s.r.(*ffmpegProc).cmd.ProcessState; ps == nil {
			t.Fatal("ffmpeg still running after cancel")
		}
	})
}

func TestDecode_RejectsBadOutputRate(t *testing.T) {
	for _, r := range []int{0, -1, 999, 10_000_000} {
		if _, err := Decode(context.Background(), bytes.NewReader(audiotest.Fixture(t, "speech.wav")), media.WAV, r); err == nil {
			t.Errorf("Decode at %d Hz succeeded", r)
		}
	}
}

func TestStream_ReadCompletesSplitFrames(t *testing.T) {
	// A source returning 3 bytes at a time must still yield whole frames.
	src := bytes.NewReader([]byte{1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6})
	s := newStream(&trickle{r: src, n: 3}, 48000, media.WAV, -1, "test", nil)
	var got []byte
	buf := make([]byte, 64)
	for {
		n, err := s.Read(buf)
		if n%FrameSize != 0 {
			t.Fatalf("Read returned %d bytes", n)
		}
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if want := []byte{1, 0, 2, 0, 3, 0, 4, 0}; !bytes.Equal(got, want) {
		t.Fatalf("got %v, want %v (the trailing partial frame dropped)", got, want)
	}
}

type trickle struct {
	r io.Reader
	n int
}

func (t *trickle) Read(p []byte) (int, error) { return t.r.Read(p[:min(len(p), t.n)]) }

// TrustGo: a WAV or MP3 the Go decoders find damaged is not handed to
// ffmpeg (no process for it); one in an encoding they do not handle is.
func TestDecode_TrustGoSkipsFFmpegForDamagedFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the ffmpeg stand-in is a shell script")
	}
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	fake := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\necho x >> '" + ran + "'\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	d := Decoder{FFmpeg: fake, TrustGo: true}
	damaged := []struct {
		data   []byte
		format media.Format
	}{
		{[]byte("RIFF\x00\x00\x00\x00WAVEfmt "), media.WAV},
		{bytes.Repeat([]byte{0xff, 0xfb, 0x00}, 100), media.MP3},
	}
	for _, c := range damaged {
		if _, err := d.Decode(context.Background(), bytes.NewReader(c.data), c.format, DefaultRate); !errors.Is(err, ErrBadAudio) {
			t.Fatalf("damaged %v: err = %v, want ErrBadAudio", c.format, err)
		}
	}
	if _, err := os.Stat(ran); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("ffmpeg ran for a file the Go decoders found damaged")
	}
	adpcm := audiotest.MakeWAV(audiotest.WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: 10, Sample: func(int, int) float64 { return 0 }})
	adpcm[20] = 0x11
	if s, err := d.Decode(context.Background(), bytes.NewReader(adpcm), media.WAV, DefaultRate); err == nil {
		_, err = readAllErr(s)
		s.Close()
	}
	if _, err := os.Stat(ran); err != nil {
		t.Fatal("ffmpeg was not tried for an encoding Go does not decode")
	}
}

// KeepRate: WAV and MP3 come at their own rate, unresampled (the same
// samples as a decode to that rate); ffmpeg's formats at the rate asked.
func TestDecode_KeepRate(t *testing.T) {
	d := Decoder{KeepRate: true}
	wav := audiotest.MakeWAV(audiotest.WAVSpec{Rate: 8000, Channels: 1, Bits: 16, Frames: 8000,
		Sample: func(i, _ int) float64 { return 0.1 * math.Sin(float64(i)) }})
	for _, f := range []struct {
		name   string
		data   []byte
		format media.Format
		rate   int
	}{
		{"wav", wav, media.WAV, 8000},
		{"mp3", audiotest.Fixture(t, "speech.mp3"), media.MP3, 0},
	} {
		s, err := d.Decode(context.Background(), bytes.NewReader(f.data), f.format, DefaultRate)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		got := readAll(t, s)
		if f.rate != 0 && s.Rate != f.rate {
			t.Fatalf("%s: decoded at %d Hz, want its own %d", f.name, s.Rate, f.rate)
		}
		if s.Rate == DefaultRate {
			t.Fatalf("%s: resampled to %d Hz", f.name, s.Rate)
		}
		same, err := Decode(context.Background(), bytes.NewReader(f.data), f.format, s.Rate)
		if err != nil {
			t.Fatal(err)
		}
		if want := readAll(t, same); !slices.Equal(got, want) || int64(len(got)/2) != s.Frames {
			t.Fatalf("%s: %d samples (Frames %d), a decode to %d Hz gives %d", f.name, len(got), s.Frames, s.Rate, len(want))
		}
	}
	audiotest.NeedFFmpeg(t)
	s, err := d.Decode(context.Background(), bytes.NewReader(audiotest.Fixture(t, "speech.m4a")), media.M4A, 16000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Rate != 16000 {
		t.Fatalf("ffmpeg decoded at %d Hz, want the 16000 asked for", s.Rate)
	}
}
