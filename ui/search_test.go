package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/relay/hub"
)

// searchRig is the playback window with a relay search over older calls.
func searchRig(t *testing.T) (*Controller, *fakePlayer, *fakeFeed, *fakePast) {
	t.Helper()
	a := test.NewTempApp(t)
	fp := newFakePlayer()
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}, catalog: catalog()}
	core := newCore(t, feed, fp, nil, "https://scanner.example.org")
	past := &fakePast{calls: olderCalls(time.Now(), 120, 5000)}
	for i := range past.calls {
		if i%3 != 0 {
			past.calls[i].Transcript = "Engine 5 respond"
		}
	}
	c := startController(t, a, core, Options{Past: past})
	c.win.tabs.SelectIndex(tabSearch)
	return c, fp, feed, past
}

func TestSearchFindsPagesPlaysAndSaves(t *testing.T) {
	c, fp, feed, past := searchRig(t)
	sv := c.win.past
	// Fire Tac of Harness County, transcript "engine".
	sv.system.SetSelected("Harness County")
	sv.talkgroup.SetSelected("Fire Tac")
	test.Type(sv.text, "engine")
	c.Do(sv.search)
	c.WaitIdle()
	past.mu.Lock()
	q := past.searches[0]
	past.mu.Unlock()
	if q.Text != "engine" || len(q.Systems) != 1 || q.Systems[0] != 1 || len(q.Talkgroups) != 1 || q.Talkgroups[0] != 102 || q.Limit != searchPage {
		t.Fatalf("the relay was asked %+v", q)
	}
	if len(sv.results) != searchPage || sv.next == "" || !strings.Contains(sv.status.Text, "50 calls, more") {
		t.Fatalf("first page: %d results, next %q, status %q", len(sv.results), sv.next, sv.status.Text)
	}
	for _, r := range sv.results {
		if !strings.Contains(r.Transcript, "Engine") {
			t.Fatalf("a result does not say engine: %+v", r)
		}
	}
	c.Do(sv.loadMore)
	c.WaitIdle()
	past.mu.Lock()
	second := past.searches[1]
	past.mu.Unlock()
	if second.Text != "engine" || second.Before == "" || len(sv.results) != 80 || sv.next != "" || !strings.Contains(sv.status.Text, "all shown") {
		t.Fatalf("second page asked %+v; %d results, next %q, status %q", second, len(sv.results), sv.next, sv.status.Text)
	}
	if !sv.more.Disabled() {
		t.Fatal("More enabled after the last page")
	}
	// The keyboard: ↓ ↓ chooses the third result, Enter plays it.
	want := sv.results[2]
	feed.mu.Lock()
	feed.found = map[int64]event.Call{want.ID: want}
	feed.mu.Unlock()
	cv := c.win.w.Canvas()
	cv.Focus(sv.list)
	pressKey(cv, fyne.KeyDown)
	pressKey(cv, fyne.KeyDown)
	pressKey(cv, fyne.KeyReturn)
	if st := fp.State(); st.Call == nil || st.Call.ID != want.ID {
		t.Fatalf("Enter on the third result played %+v; want call %d", st.Call, want.ID)
	}
	// Ctrl+S asks the resident for the name, then where to save.
	sv.list.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault})
	c.WaitIdle()
	if !strings.Contains(topDialogText(cv), fmt.Sprintf("call-%d.mp3", want.ID)) {
		t.Fatalf("Ctrl+S showed no save dialog with the call's name: %q", topDialogText(cv))
	}
}

func TestSearchSaysWhenNothingMatchesAndChecksItsTimes(t *testing.T) {
	c, _, _, _ := searchRig(t)
	sv := c.win.past
	test.Type(sv.text, "no such words")
	c.Do(sv.search)
	c.WaitIdle()
	if sv.status.Text != "No calls match." || !sv.export.Disabled() || !sv.play.Disabled() {
		t.Fatalf("nothing found: status %q, export disabled %v", sv.status.Text, sv.export.Disabled())
	}
	sv.when.SetSelected(rangeBetween)
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.Local)
	sv.fromDate.SetDate(&day)
	test.Type(sv.fromTime, "25:99")
	c.Do(sv.search)
	if !strings.Contains(sv.status.Text, "not a time of day") {
		t.Fatalf("a bad time: status %q", sv.status.Text)
	}
}

func TestSearchRangesAndTimesOfDay(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	from, to := rangeOf(rangeYesterday, now)
	if !from.Equal(time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 3, 13, 23, 59, 59, 0, time.UTC)) {
		t.Fatalf("yesterday: %v to %v", from, to)
	}
	if from, to := rangeOf(rangeHour, now); !from.Equal(now.Add(-time.Hour)) || !to.IsZero() {
		t.Fatalf("last hour: %v to %v", from, to)
	}
	for text, want := range map[string]time.Duration{"18:30": 18*time.Hour + 30*time.Minute, "6:30 pm": 18*time.Hour + 30*time.Minute, "7": 7 * time.Hour} {
		if got, err := clockOf(text, 0); err != nil || got != want {
			t.Errorf("clockOf(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

func TestExportingASearchShowsProgressAndWhatItWrote(t *testing.T) {
	c, _, _, past := searchRig(t)
	sv := c.win.past
	c.Do(sv.search)
	c.WaitIdle()
	c.Do(func() { sv.runExport("/tmp/earshot-calls.zip") })
	c.WaitIdle()
	past.mu.Lock()
	got := past.exported
	past.mu.Unlock()
	if len(got) != 1 || got[0] != "/tmp/earshot-calls.zip" {
		t.Fatalf("exported %v", got)
	}
	if !strings.Contains(sv.status.Text, "Exported 2 calls (8 KB) to /tmp/earshot-calls.zip") || sv.progressRow.Visible() {
		t.Fatalf("after the export: %q, progress shown %v", sv.status.Text, sv.progressRow.Visible())
	}
}

// topDialogText is the text of the canvas's top overlay (a dialog).
func topDialogText(cv fyne.Canvas) string {
	top := cv.Overlays().Top()
	if top == nil {
		return ""
	}
	var b strings.Builder
	for _, o := range test.LaidOutObjects(top) {
		switch x := o.(type) {
		case *widget.Entry:
			b.WriteString(x.Text + " ")
		case *widget.Label:
			b.WriteString(x.Text + " ")
		}
	}
	return b.String()
}
