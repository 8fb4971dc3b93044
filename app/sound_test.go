package app

import (
	"math"
	"testing"
	"time"

	"earshot/relay/event"
	"earshot/relay/loudness"
)

func TestListeningFollowsConfig(t *testing.T) {
	dir := t.TempDir()
	l := newSoundSettings(dir, false)
	quiet := loudness.Result{Integrated: -30, Peak: 0.05, Frames: 48000}
	call := event.Call{SystemID: 1, TalkgroupID: 101}
	// No configuration: levelling is on.
	if g := 20 * math.Log10(l.gain(call, quiet)); math.Abs(g-12) > 0.01 {
		t.Fatalf("gain with no config = %.2f dB, want +12 (to -18 LUFS)", g)
	}
	off := false
	cfg := &Config{Levelling: &off, Servers: map[string]*ServerSettings{
		DemoServerKey: {Volume: loudness.Offsets{{System: 1, Talkgroup: 101, DB: -6}}},
	}}
	if err := SaveConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.readAt = time.Time{} // as if a second had passed
	l.mu.Unlock()
	if g := 20 * math.Log10(l.gain(call, quiet)); math.Abs(g+6) > 0.01 {
		t.Fatalf("gain with levelling off and a -6 dB offset = %.2f dB, want -6", g)
	}
	if g := l.gain(event.Call{SystemID: 2, TalkgroupID: 101}, quiet); g != 1 {
		t.Fatalf("another talkgroup's gain = %v, want 1", g)
	}
}
