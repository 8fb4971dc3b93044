package media

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSniffHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		head []byte
		want Format
	}{
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), WAV},
		{"riff but not wave", []byte("RIFF\x24\x00\x00\x00AVI LIST"), Unknown},
		{"ogg", []byte("OggS\x00\x02\x00\x00"), Ogg},
		{"m4a", []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00"), M4A},
		{"mp4 isom", []byte("\x00\x00\x00\x1cftypisom\x00\x00\x02\x00"), M4A},
		{"quicktime video", []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00"), Unknown},
		{"id3", []byte("ID3\x04\x00\x00\x00\x00\x00\x21"), MP3},
		{"mpeg1 layer3 128k 44.1k", []byte{0xFF, 0xFB, 0x90, 0x64}, MP3},
		{"mpeg2 layer3", []byte{0xFF, 0xF3, 0x48, 0xC4}, MP3},
		{"bad bitrate", []byte{0xFF, 0xFB, 0xF0, 0x64}, Unknown},
		{"free bitrate", []byte{0xFF, 0xFB, 0x00, 0x64}, Unknown},
		{"reserved rate", []byte{0xFF, 0xFB, 0x9C, 0x64}, Unknown},
		{"adts", []byte{0xFF, 0xF1, 0x50, 0x80, 0x2E, 0x7F, 0xFC}, AAC},
		{"adts mpeg2", []byte{0xFF, 0xF9, 0x50, 0x80}, AAC},
		{"json error", []byte(`{"error":"not found"}`), Unknown},
		{"html", []byte("<!doctype html>"), Unknown},
		{"empty", nil, Unknown},
		{"short", []byte{0xFF}, Unknown},
	} {
		if got := Sniff(tc.head); got != tc.want {
			t.Errorf("%s: Sniff = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFormatNames(t *testing.T) {
	for _, tc := range []struct {
		f          Format
		ct, ext, s string
	}{
		{MP3, "audio/mpeg", ".mp3", "MP3"},
		{M4A, "audio/mp4", ".m4a", "M4A"},
		{WAV, "audio/wav", ".wav", "WAV"},
		{Ogg, "audio/ogg", ".ogg", "Ogg"},
		{AAC, "audio/aac", ".aac", "AAC"},
		{Unknown, "application/octet-stream", "", "unknown"},
	} {
		if tc.f.ContentType() != tc.ct || tc.f.Ext() != tc.ext || tc.f.String() != tc.s {
			t.Errorf("%d: got %q %q %q, want %q %q %q", tc.f, tc.f.ContentType(), tc.f.Ext(), tc.f.String(), tc.ct, tc.ext, tc.s)
		}
	}
}

// TestSniffRealFiles checks files made by ffmpeg, the encoder behind most
// recorders' uploads.
func TestSniffRealFiles(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg is needed to make the test files; install it (build/deps.sh does)")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		file string
		args []string
		want Format
	}{
		{"a.mp3", []string{"-c:a", "libmp3lame"}, MP3},
		{"a.m4a", []string{"-c:a", "aac"}, M4A},
		{"a.aac", []string{"-c:a", "aac", "-f", "adts"}, AAC},
		{"a.wav", nil, WAV},
		{"a.ogg", []string{"-c:a", "libvorbis"}, Ogg},
		{"a.opus", []string{"-c:a", "libopus"}, Ogg},
	} {
		out := filepath.Join(dir, tc.file)
		args := append([]string{"-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-ac", "1"}, tc.args...)
		if b, err := exec.Command(ffmpeg, append(args, out)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", tc.file, err, b)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := Sniff(data); got != tc.want {
			t.Errorf("%s: Sniff = %v, want %v (head % x)", tc.file, got, tc.want, data[:16])
		}
	}
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Add([]byte("\x00\x00\x00\x20ftypM4A "))
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x64})
	f.Add([]byte{0xFF, 0xF1, 0x50, 0x80})
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x21"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Sniff(data)
		if got < Unknown || got > AAC {
			t.Fatalf("Sniff returned %d", got)
		}
		// Only the head matters.
		if len(data) > SniffLen && Sniff(data[:SniffLen]) != got {
			t.Fatal("Sniff looked past SniffLen")
		}
		if got != Unknown && got.ContentType() == "application/octet-stream" {
			t.Fatalf("%v has no content type", got)
		}
	})
}
