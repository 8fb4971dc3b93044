package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// pressKey delivers a key press the way Fyne's desktop driver does: to the
// focused widget if there is one, else to the canvas's handler; Space also
// types a ' ' character, as the driver's character callback does.
func pressKey(cv fyne.Canvas, name fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: name}
	if f := cv.Focused(); f != nil {
		f.TypedKey(ev)
	} else if h := cv.OnTypedKey(); h != nil {
		h(ev)
	}
	if name == fyne.KeySpace {
		typeRune(cv, ' ')
	}
}

// typeRune delivers a typed character as the desktop driver does.
func typeRune(cv fyne.Canvas, r rune) {
	if f := cv.Focused(); f != nil {
		f.TypedRune(r)
	} else if h := cv.OnTypedRune(); h != nil {
		h(r)
	}
}

// focus focuses o as a tap or Tab would, and fails if it cannot (hidden).
func focus(t *testing.T, cv fyne.Canvas, o fyne.Focusable, what string) {
	t.Helper()
	cv.Focus(o)
	if cv.Focused() != o {
		t.Fatalf("could not focus %s", what)
	}
}

func count(actions, what string) int {
	n := 0
	for _, a := range strings.Split(actions, ",") {
		if a == what {
			n++
		}
	}
	return n
}

func TestSpaceAfterTappingMuteTogglesPlaybackNotTheCheckbox(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	fp.Play(call(1, 101, "Fire Dispatch"))
	playerChanged(coreOf(c), fp)
	c.refresh()
	pw := c.win
	cv := pw.w.Canvas()
	test.Tap(pw.mute)
	if !fp.State().Muted || !pw.mute.Checked {
		t.Fatal("tapping Mute did not mute")
	}
	if cv.Focused() == nil {
		t.Fatal("precondition: the tapped checkbox should hold the focus, as in Fyne's desktop driver")
	}
	pressKey(cv, fyne.KeySpace)
	if !fp.State().Paused {
		t.Fatalf("Space with Mute focused did not pause (did %s)", fp.actions())
	}
	if !fp.State().Muted || !pw.mute.Checked {
		t.Fatal("Space with Mute focused toggled the checkbox")
	}
	pressKey(cv, fyne.KeySpace)
	if fp.State().Paused {
		t.Fatal("a second Space did not resume")
	}
	typeRune(cv, 'm')
	if fp.State().Muted || pw.mute.Checked {
		t.Fatal("M with Mute focused did not unmute exactly once")
	}
}

func TestArrowsAfterTappingVolumeSkipAndReplayWithoutMovingIt(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	fp.Play(call(1, 101, "Fire Dispatch"))
	playerChanged(coreOf(c), fp)
	c.refresh()
	pw := c.win
	cv := pw.w.Canvas()
	pw.volume.Resize(fyne.NewSize(200, 30))
	test.TapAt(pw.volume, fyne.NewPos(100, 15))
	if cv.Focused() == nil {
		t.Fatal("precondition: the tapped slider should hold the focus")
	}
	vol := fp.State().Volume
	pressKey(cv, fyne.KeyRight)
	pressKey(cv, fyne.KeyLeft)
	if got := fp.actions(); count(got, "skip") != 1 || count(got, "replay") != 1 {
		t.Fatalf("→ ← with the volume focused did %q, want one skip and one replay", got)
	}
	if fp.State().Volume != vol {
		t.Fatalf("the arrows moved the volume from %v to %v", vol, fp.State().Volume)
	}
	// ↑ and ↓ still move it from the keyboard.
	pressKey(cv, fyne.KeyUp)
	if fp.State().Volume <= vol {
		t.Fatalf("↑ on the focused volume left it at %v", fp.State().Volume)
	}
}

func TestArrowsWithAvoidChoiceFocusedDoNotAvoid(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	fp.Play(call(1, 101, "Fire Dispatch"))
	playerChanged(coreOf(c), fp)
	c.refresh()
	pw := c.win
	cv := pw.w.Canvas()
	focus(t, cv, pw.avoid, "the avoid choice")
	pressKey(cv, fyne.KeyRight)
	if f := fp.Filter(); len(f.Avoids) != 0 {
		t.Fatalf("→ on the focused avoid choice avoided %+v", f.Avoids)
	}
	if count(fp.actions(), "skip") != 1 {
		t.Fatalf("→ on the focused avoid choice did %q, want a skip", fp.actions())
	}
	focus(t, cv, pw.live, "Live")
	pressKey(cv, fyne.KeySpace)
	if !fp.State().Live || !fp.State().Paused {
		t.Fatalf("Space with Live focused: live=%v paused=%v, want live kept and paused", fp.State().Live, fp.State().Paused)
	}
}

func TestSpaceInFocusedHistoryDoesNotPlayARow(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	cv := pw.w.Canvas()
	pw.tabs.SelectIndex(tabHistory)
	focus(t, cv, pw.hist.list, "the history")
	pressKey(cv, fyne.KeySpace)
	if got := fp.actions(); count(got, "play") != 0 || count(got, "pause") != 1 {
		t.Fatalf("Space in the focused history did %q, want only pause", got)
	}
	pressKey(cv, fyne.KeyReturn) // Enter plays the focused row instead
	if count(fp.actions(), "play") != 1 {
		t.Fatalf("Enter in the focused history did %q, want a play", fp.actions())
	}
}

func TestSearchKeepsLettersAndEscapeGivesKeysBack(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	cv := pw.w.Canvas()
	pw.tabs.SelectIndex(tabTalkgroups)
	focus(t, cv, pw.search, "the search")
	for _, r := range "mal" {
		typeRune(cv, r)
	}
	pressKey(cv, fyne.KeySpace)
	if pw.search.Text != "mal " {
		t.Fatalf("search holds %q, want what was typed", pw.search.Text)
	}
	if st := fp.State(); st.Muted || !st.Live || st.Paused {
		t.Fatalf("typing in the search ran shortcuts: %+v (did %s)", st, fp.actions())
	}
	pressKey(cv, fyne.KeyEscape)
	if cv.Focused() != nil {
		t.Fatal("Escape did not leave the search")
	}
	typeRune(cv, 'm')
	if !fp.State().Muted {
		t.Fatal("after Escape, M did not mute")
	}
}
