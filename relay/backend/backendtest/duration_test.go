package backendtest

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"testing"
)

// captureCallMP3 is the call a real server broadcast in the 1.1.2 capture
// (its CAL carries the audio): the 5-second fixture the captures were
// made with, an 18,408-byte MP3 that ffprobe measures at 4.545 s.
func captureCallMP3(t testing.TB) []byte {
	t.Helper()
	var frame []json.RawMessage
	if err := json.Unmarshal(captureFile(t, "1.1.2", "ws-listener", "05.json"), &frame); err != nil || len(frame) != 2 {
		t.Fatalf("1.1.2 CAL capture: %v", err)
	}
	var p struct{ Audio string }
	if err := json.Unmarshal(frame[1], &p); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(p.Audio)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAudioIsMeasuredAsTheRealServerDoes(t *testing.T) {
	mp3 := captureCallMP3(t)
	if len(mp3) != 18408 {
		t.Fatalf("fixture is %d bytes, want 18408", len(mp3))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want float64
	}{
		{"captured MP3 (Info header)", mp3, 4.545306},
		{"WAV", SynthWAV(2.5, 440, 8000), 2.5},
		{"nothing known", []byte("just some bytes"), 0},
		{"empty", nil, 0},
	} {
		if got := audioSeconds(tc.in); math.Abs(got-tc.want) > 0.001 {
			t.Errorf("%s: audioSeconds = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
	// Without its Info header the frames are walked instead.
	walked := append([]byte(nil), mp3...)
	copy(walked[bytesIndex(walked, "Info"):], "Nope")
	if got := audioSeconds(walked); math.Abs(got-4.545) > 0.05 {
		t.Errorf("frame walk: %.4f s, want about 4.545", got)
	}
	if got := measuredDuration(mp3); got != 5 {
		t.Errorf("measuredDuration = %v, want 5 (the real server's figure)", got)
	}
}

func bytesIndex(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

func FuzzAudioSeconds(f *testing.F) {
	f.Add(captureCallMP3(f))
	f.Add(SynthWAV(0.1, 440, 8000))
	f.Add([]byte("ID3\x04\x00\x10\x7f\x7f\x7f\x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := audioSeconds(b); s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			t.Fatalf("audioSeconds = %v", s)
		}
	})
}
