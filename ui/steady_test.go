package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"earshot/relay/event"
	"earshot/relay/hub"

	"earshot/ui/player"
)

// controlPositions is where the now-playing tab's controls are on screen.
func controlPositions(c *Controller) map[string]fyne.Position {
	pw := c.win
	d := fyne.CurrentApp().Driver()
	out := map[string]fyne.Position{}
	for name, o := range map[string]fyne.CanvasObject{
		"replay": pw.replay, "play": pw.playBtn, "skip": pw.skipBtn, "live": pw.live,
		"hold system": pw.holdSys, "hold talkgroup": pw.holdTG, "avoid": pw.avoid, "lift": pw.lift,
		"volume": pw.volume, "mute": pw.mute, "progress": pw.progress, "times": pw.times,
	} {
		out[name] = d.AbsolutePositionForObject(o)
	}
	return out
}

func TestNowPlayingControlsStayPutWhateverPlays(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	core := coreOf(c)
	show := func(st player.State) map[string]fyne.Position {
		t.Helper()
		fp.mu.Lock()
		fp.st = st
		fp.mu.Unlock()
		playerChanged(core, fp)
		c.refresh()
		c.win.w.Content().Refresh()
		if size := c.win.w.Canvas().Size(); size.Width > 640 {
			t.Fatalf("the window widened itself to %v", size)
		}
		// The transcript stays in its two lines, above the bar.
		d := fyne.CurrentApp().Driver()
		tr := c.win.transcript
		if bottom := d.AbsolutePositionForObject(tr).Y + tr.Size().Height; bottom > d.AbsolutePositionForObject(c.win.progress).Y {
			t.Fatalf("the transcript reaches %.0f, over the progress bar at %.0f", bottom, d.AbsolutePositionForObject(c.win.progress).Y)
		}
		return controlPositions(c)
	}
	plain := call(5, 101, "Fire Dispatch")
	transcribed := call(6, 102, "Fire Tac")
	transcribed.Transcript = "Engine 5, Ladder 12, respond to a structure fire at 1200 North Main Street, cross street Elm, " +
		"caller reports smoke showing from the second floor, occupants may still be inside, use caution on arrival"
	long := call(7, 103, strings.Repeat("A very long talkgroup label ", 6))
	long.SystemLabel = strings.Repeat("A very long system name ", 6)
	long.TalkerAlias = strings.Repeat("Engine ", 20)
	states := []struct {
		name string
		st   player.State
	}{
		{"before any call", player.State{Live: true, Volume: 1}},
		{"a call without a transcript", player.State{Call: &plain, Position: time.Second, Duration: 4 * time.Second, Live: true, Volume: 1}},
		{"a call with a long transcript", player.State{Call: &transcribed, Position: time.Second, Duration: 9 * time.Second, Live: true, Volume: 1}},
		{"between calls", player.State{Live: true, Volume: 1}},
		{"a call with long labels", player.State{Call: &long, Position: 0, Duration: 70 * time.Second, Live: true, Volume: 1}},
		{"paused between calls", player.State{Live: true, Paused: true, Volume: 1, Queue: 3}},
	}
	first := show(states[0].st)
	for _, s := range states[1:] {
		got := show(s.st)
		for name, pos := range first {
			if got[name] != pos {
				t.Errorf("%s: %s moved from %v to %v", s.name, name, pos, got[name])
			}
		}
	}
}

func TestHoldAndAvoidAreOfferedBetweenCallsForTheLastCall(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	if !pw.holdTG.Disabled() || !pw.avoid.Disabled() {
		t.Fatal("Hold and Avoid enabled before any call was heard")
	}
	heard := call(5, 102, "Fire Tac")
	fp.Play(heard)
	playerChanged(coreOf(c), fp)
	fp.mu.Lock()
	fp.st.Call = nil // it played out
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	if pw.holdTG.Disabled() || pw.holdSys.Disabled() || pw.avoid.Disabled() {
		t.Fatal("Hold and Avoid disabled between calls; want them acting on the last call")
	}
	if !strings.Contains(pw.system.Text, "Last call: Fire Tac") {
		t.Fatalf("between calls the window says %q; want it to name the last call, which Hold and Avoid act on", pw.system.Text)
	}
	pw.avoid.SetSelected("30 minutes")
	if f := fp.Filter(); len(f.Avoids) != 1 || f.Avoids[0].TalkgroupID != 102 {
		t.Fatalf("Avoid between calls: %+v; want the last call's talkgroup avoided", f.Avoids)
	}
	if strings.Contains(fp.actions(), "skip") {
		t.Fatal("Avoid between calls skipped a call that was not playing")
	}
}

func TestProgressLabelAndBarAgree(t *testing.T) {
	for _, tc := range []struct {
		pos, length time.Duration
		fraction    float64
		label       string
	}{
		// The fault seen: "0:01 / 0:01" with the bar half full.
		{600 * time.Millisecond, 1400 * time.Millisecond, 0.6 / 1.4, "0.6 / 1.4 s"},
		{3 * time.Second, 12 * time.Second, 0.25, "3.0 / 12.0 s"},
		{1440 * time.Millisecond, 1440 * time.Millisecond, 1, "1.4 / 1.4 s"},
		{2 * time.Second, 1 * time.Second, 1, "1.0 / 1.0 s"},
		{-time.Second, 5 * time.Second, 0, "0.0 / 5.0 s"},
		{30 * time.Second, 2 * time.Minute, 0.25, "0:30 / 2:00"},
		{0, 0, 0, ""},
	} {
		fraction, label := progressOf(tc.pos, tc.length)
		if label != tc.label || fraction < tc.fraction-1e-9 || fraction > tc.fraction+1e-9 {
			t.Errorf("progressOf(%v, %v) = %.3f %q; want %.3f %q", tc.pos, tc.length, fraction, label, tc.fraction, tc.label)
		}
	}
}

func TestProgressLabelShowsTheSameFiguresAsTheBar(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	played := call(5, 101, "Fire Dispatch")
	fp.mu.Lock()
	fp.st = player.State{Call: &played, Position: 600 * time.Millisecond, Duration: 1400 * time.Millisecond, Live: true, Volume: 1}
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	if got := c.win.times.Text; got != "0.6 / 1.4 s" {
		t.Fatalf("time label %q; want 0.6 / 1.4 s", got)
	}
	if v := c.win.progress.value; v < 0.42 || v > 0.43 {
		t.Fatalf("bar at %.3f; want 0.6/1.4", v)
	}
}

// The status line is cut to the window's width; the whole reason the
// server cannot be reached is said where it wraps.
func TestServerOutageIsSaidInFull(t *testing.T) {
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateDisconnected}
	c := startController(t, test.NewTempApp(t), newCore(t, feed, newFakePlayer(), nil, "https://scanner.example.org"), Options{})
	c.refresh()
	pw := c.win
	if !pw.problem.Visible() || !strings.Contains(pw.problem.Text, "Cannot reach scanner.example.org") {
		t.Fatalf("server down: the window's problem line %q (shown %v)", pw.problem.Text, pw.problem.Visible())
	}
	if pw.tg.Text != "Cannot reach the server" {
		t.Fatalf("server down: headline %q", pw.tg.Text)
	}
}
