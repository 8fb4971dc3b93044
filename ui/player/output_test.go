package player

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real-output tests run in a child process of the test binary: oto
// allows one context per process, and ALSA_CONFIG_PATH must be set before
// libasound first reads its configuration.
const childEnv = "EARSHOT_PLAYER_TEST_CHILD"

// runChild runs the named test in a child process with ALSA configured by
// asoundConf, and returns its output.
func runChild(t *testing.T, asoundConf string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "asound.conf")
	if err := os.WriteFile(conf, []byte(asoundConf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "ALSA_CONFIG_PATH="+conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
	return string(out)
}

// TestOtoOutput_PlaysThroughALSANull plays a real WAV call through the real
// oto context into ALSA's null device, to the end.
func TestOtoOutput_PlaysThroughALSANull(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		out := runChild(t, "pcm.!default { type null }\n")
		if !strings.Contains(out, "PLAYED call 1") {
			t.Fatalf("child did not report the call played:\n%s", out)
		}
		t.Log(strings.TrimSpace(grepLine(out, "PLAYED")))
		return
	}
	out, err := NewOtoOutput(DefaultRate, 2)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Output: out, Tick: 20 * time.Millisecond})
	call := h.audio.put(t, 1, fixture(t, "speech.wav"))
	start := time.Now()
	h.enqueue(call)
	var maxPos, dur time.Duration
	h.waitFor("the call to start", func(s State) bool {
		if s.Call != nil {
			maxPos, dur = s.Position, s.Duration
		}
		return s.Call != nil || s.Device != ""
	})
	st := h.waitFor("the call to play to its end", func(s State) bool {
		if s.Call != nil {
			maxPos = max(maxPos, s.Position)
		}
		return (s.Call == nil && s.Queue == 0) || s.Device != ""
	})
	if st.Device != "" || st.LastError != "" {
		t.Fatalf("State = %+v", st)
	}
	if err := out.Err(); err != nil {
		t.Fatalf("output error: %v", err)
	}
	// Informational only (never asserted): the null device consumes audio
	// at about real time.
	fmt.Printf("PLAYED call 1 (%v long) in %v; last position seen %v\n", dur, time.Since(start).Round(time.Millisecond), maxPos)
}

// TestOtoOutput_MissingDeviceIsReported points ALSA at a sound card that
// does not exist: the player must say so in State and keep working.
func TestOtoOutput_MissingDeviceIsReported(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		out := runChild(t, "pcm.!default { type hw card 29 }\nctl.!default { type hw card 29 }\n")
		if !strings.Contains(out, "DEVICE ERROR") {
			t.Fatalf("child did not report a device error:\n%s", out)
		}
		t.Log(strings.TrimSpace(grepLine(out, "DEVICE ERROR")))
		return
	}
	out, err := NewOtoOutput(DefaultRate, 2)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Output: out})
	st := h.waitFor("the device error", func(s State) bool { return s.Device != "" })
	h.enqueue(h.addCalls(1)...)
	h.p.SetMuted(true)
	if s := h.p.State(); s.Queue != 1 || !s.Muted {
		t.Fatalf("the player stopped working without a device: %+v", s)
	}
	if out.Err() == nil {
		t.Fatal("OtoOutput.Err() = nil after a failed start")
	}
	fmt.Printf("DEVICE ERROR %s\n", st.Device)
}

func TestNewOtoOutput_ValidatesArguments(t *testing.T) {
	for _, tt := range []struct{ rate, ch int }{{0, 2}, {48000, 0}, {48000, 3}, {1_000_000, 2}} {
		if _, err := NewOtoOutput(tt.rate, tt.ch); err == nil {
			t.Errorf("NewOtoOutput(%d, %d) succeeded", tt.rate, tt.ch)
		}
	}
}

func TestMonoMix(t *testing.T) {
	m := &monoMix{src: strings.NewReader(string(s16(1000, 3000, -200, -400)))}
	buf := make([]byte, 8)
	n, _ := m.Read(buf)
	if got := samples(buf[:n]); !equal(got, []int16{2000, -300}) {
		t.Fatalf("got %v, want [2000 -300]", got)
	}
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
