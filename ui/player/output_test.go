package player

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
	"earshot/ui/player/pulsetest"
)

// The real-output tests run in a child process of the test binary: oto
// allows one context per process, and ALSA_CONFIG_PATH must be set before
// libasound first reads its configuration.
const childEnv = "EARSHOT_PLAYER_TEST_CHILD"

// runChild runs the named test in a child process with ALSA configured by
// asoundConf, and returns its output. oto (v3.5) tries PulseAudio first, at
// $XDG_RUNTIME_DIR/pulse/native, and falls back to ALSA: the child gets an
// empty runtime directory (no sound server: ALSA it is) unless runtimeDir
// names one with a server in it.
func runChild(t *testing.T, asoundConf, runtimeDir string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(conf, []byte(asoundConf), 0o600); err != nil {
		t.Fatal(err)
	}
	if runtimeDir == "" {
		runtimeDir = filepath.Join(dir, "run")
		if err := os.Mkdir(runtimeDir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*audiotest.HangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "ALSA_CONFIG_PATH="+conf, "XDG_RUNTIME_DIR="+runtimeDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
	return string(out)
}

// TestOtoOutput_PlaysThroughALSANull plays real WAV calls through the real
// oto context into ALSA's null device, to the end.
func TestOtoOutput_PlaysThroughALSANull(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		out := runChild(t, "pcm.!default { type null }\n", "")
		checkPlayedTwoCalls(t, out)
		return
	}
	playTwoCallsWithAGap(t)
}

// TestOtoOutput_PlaysThroughPulseAudio plays real WAV calls through a real
// PulseAudio server's null sink (what most desktops run, or PipeWire in its
// place), oto's first choice. ALSA points at a card that does not exist, so
// a call can only play through PulseAudio.
func TestOtoOutput_PlaysThroughPulseAudio(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		runtimeDir := pulsetest.Start(t)
		out := runChild(t, "pcm.!default { type hw card 29 }\nctl.!default { type hw card 29 }\n", runtimeDir)
		checkPlayedTwoCalls(t, out)
		return
	}
	playTwoCallsWithAGap(t)
}

func checkPlayedTwoCalls(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"PLAYED call 1", "PLAYED call 2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("child did not report %q:\n%s", want, out)
		}
		t.Log(strings.TrimSpace(grepLine(out, want)))
	}
}

// suspendSeen is a real OtoOutput that reports each successful Suspend
// and Resume, so a test can wait for the device to go idle.
type suspendSeen struct {
	*OtoOutput
	events chan string
}

func (o suspendSeen) Suspend() error { return o.note("suspend", o.OtoOutput.Suspend()) }
func (o suspendSeen) Resume() error  { return o.note("resume", o.OtoOutput.Resume()) }

func (o suspendSeen) note(what string, err error) error {
	if err == nil {
		select {
		case o.events <- what:
		default:
		}
	}
	return err
}

// playTwoCallsWithAGap (in the child) plays a call through a real
// OtoOutput, waits for the player to suspend the idle device, and plays a
// second: both must play to their end, the second after a real Resume.
func playTwoCallsWithAGap(t *testing.T) {
	oto, err := NewOtoOutput(DefaultRate, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := suspendSeen{OtoOutput: oto, events: make(chan string, 16)}
	h := newHarness(t, Options{Output: out, Tick: 20 * time.Millisecond, SuspendAfter: 50 * time.Millisecond})
	waitDevice := func(want string) {
		t.Helper()
		deadline := time.After(audiotest.HangGuard)
		for {
			select {
			case e := <-out.events:
				if e == want {
					return
				}
			case <-deadline:
				t.Fatalf("the device was never %sed", want)
			}
		}
	}
	for id := int64(1); id <= 2; id++ {
		waitDevice("suspend") // idle before each call
		call := h.audio.put(t, id, audiotest.Fixture(t, "speech.wav"))
		start := time.Now()
		h.enqueue(call)
		waitDevice("resume")
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
		// Informational only (never asserted): a null sink consumes audio
		// at about real time.
		fmt.Printf("PLAYED call %d (%v long) in %v; last position seen %v\n", id, dur, time.Since(start).Round(time.Millisecond), maxPos)
	}
}

// TestOtoOutput_MissingDeviceIsReported points ALSA at a sound card that
// does not exist: the player must say so in State and keep working.
func TestOtoOutput_MissingDeviceIsReported(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		out := runChild(t, "pcm.!default { type hw card 29 }\nctl.!default { type hw card 29 }\n", "")
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
	// The listener gets words, not oto's internals (they go to the log).
	if strings.Contains(st.Device, "snd_pcm") || strings.Contains(st.Device, "dial unix") || !strings.Contains(st.Device, "No sound") {
		t.Fatalf("State.Device = %q", st.Device)
	}
	fmt.Printf("LOGGED %s\n", out.Err())
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
	m := &monoMix{src: strings.NewReader(string(audiotest.S16(1000, 3000, -200, -400)))}
	buf := make([]byte, 8)
	n, _ := m.Read(buf)
	if got := audiotest.Samples(buf[:n]); !slices.Equal(got, []int16{2000, -300}) {
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
