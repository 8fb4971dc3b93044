package ui

import (
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// goldenWindow is the playback window in a fixed state (fixed clock and
// zone): a call playing 3 s into 12, two queued, a talkgroup avoided.
func goldenWindow(t *testing.T, acc *fakeAccounts, opts ...func(*listening.Options)) (*Controller, *fakeFeed) {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(themeVariant(theme.VariantDark))
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	hist := []event.Call{
		{ID: 3, DateTime: at.Unix(), SystemID: 1, SystemLabel: "Harness County", TalkgroupID: 101, TalkgroupLabel: "Fire Dispatch", TalkgroupName: "County Fire Dispatch"},
		{ID: 2, DateTime: at.Add(-time.Minute).Unix(), SystemID: 1, SystemLabel: "Harness County", TalkgroupID: 102, TalkgroupLabel: "Fire Tac"},
	}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: hist}
	fp := newFakePlayer()
	playing := hist[0]
	playing.Frequency = 851012500
	playing.TalkerAlias = "Engine 5"
	playing.Transcript = "Engine 5 respond to 12 Main Street"
	playing.LEDColor = "#ff3b30"
	fp.st = player.State{Call: &playing, Position: 3 * time.Second, Duration: 12 * time.Second, Live: true, Volume: 0.8, Queue: 2}
	fp.filter.AvoidTalkgroup(1, 102, at.Add(30*time.Minute))
	server, _ := acc.Account()
	core := newCore(t, feed, fp, nil, server, opts...)
	playerChanged(core, fp)
	c := startController(t, a, core, Options{Accounts: acc, Past: &fakePast{}, Location: time.UTC, Now: func() time.Time { return at }})
	c.refresh()
	// The desktop driver lays out again whatever changed size before each
	// frame; the test canvas does not, so do it here.
	c.win.w.Content().Refresh()
	return c, feed
}

func TestPlaybackWindowRendersAsTheGolden(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	test.AssertRendersToMarkup(t, "playback_window.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "playback_window.png", c.win.w.Canvas())
}

func TestPlaybackWindowOnTheDemoServerRendersAsTheGolden(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{})
	test.AssertRendersToMarkup(t, "playback_window_demo.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "playback_window_demo.png", c.win.w.Canvas())
}

func TestTalkgroupsTabWithTheCatalogueRendersAsTheGolden(t *testing.T) {
	c, feed := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	cat := catalog()
	// A name too long for the row: it is cut with "…", never drawn under
	// the Priority box beside it.
	cat.Systems[1].Talkgroups[1].Name = "Police South District Patrol, Traffic and Harbour Units"
	core := coreOf(c)
	before := core.Snapshot().DirRev
	c.opts.Core.(*listening.Core).SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 101}, true)
	feed.hub.Publish(event.Event{Type: event.TypeCatalog, Catalog: &cat})
	for core.Snapshot().DirRev == before {
		time.Sleep(2 * time.Millisecond)
	}
	c.refresh()
	c.win.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 103}}, false) // EMS off: Harness County partly heard
	c.refresh()
	c.win.tabs.SelectIndex(tabTalkgroups)
	c.win.w.Content().Refresh()
	cut := 0
	for _, o := range test.LaidOutObjects(c.win.w.Content()) {
		check, ok := o.(*fitCheck)
		if !ok || !check.Visible() {
			continue
		}
		for _, l := range test.TempWidgetRenderer(t, check).Objects() {
			if label, ok := l.(*canvas.Text); ok && label.Text == check.Text {
				if end := label.Position().X + fyne.MeasureText(label.Text, label.TextSize, label.TextStyle).Width; end > check.Size().Width {
					t.Errorf("the label %q is drawn to %.0f, past its check's %.0f px (over what is beside it)", label.Text, end, check.Size().Width)
				}
			}
		}
		if strings.HasSuffix(check.Text, "…") {
			cut++
		}
	}
	if cut != 1 {
		t.Errorf("%d labels were cut with an ellipsis, want the one long one", cut)
	}
	test.AssertRendersToMarkup(t, "talkgroups_tab.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "talkgroups_tab.png", c.win.w.Canvas())
}

func TestHistoryTabRendersAsTheGolden(t *testing.T) {
	c, feed := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	mk := func(id int64, ago time.Duration, tg int64, label string) event.Call {
		return event.Call{ID: id, DateTime: at.Add(-ago).Unix(), SystemID: 1, SystemLabel: "Harness County", TalkgroupID: tg,
			TalkgroupLabel: label, Duration: 4}
	}
	alert := mk(12, 2*time.Minute, 101, "Fire Dispatch")
	alert.Transcript = "Mayday mayday, firefighter down on the second floor"
	alert.Alerts = []event.Alert{{CallID: 12, Rule: "Mayday"}}
	alert.LEDColor = "#ff3b30"
	alert.Source = 4021
	ems := mk(11, 3*time.Minute, 103, "EMS")
	ems.TalkgroupTag = "Dispatch"
	ems.Transcript = "Medic 3 respond to 400 Elm for a fall"
	ems.LEDColor = "#34c759"
	late := mk(10, 16*time.Hour, 102, "Fire Tac") // yesterday, 23:09
	late.Backfill = true
	late.TalkerAlias = "Engine 5"
	for _, cl := range []event.Call{late, ems, alert} {
		cl := cl
		feed.hub.Publish(event.Event{Type: event.TypeCall, Call: &cl})
	}
	core := coreOf(c)
	for deadline := time.Now().Add(5 * time.Second); len(core.Snapshot().History) < 5; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the calls did not reach the history")
		}
	}
	c.win.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 103}}, false) // EMS unticked now
	c.refresh()
	c.win.tabs.SelectIndex(tabHistory)
	c.win.w.Content().Refresh()
	test.AssertRendersToImage(t, "history_tab.png", c.win.w.Canvas())
}

func TestSearchTabRendersAsTheGolden(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	past := c.opts.Past.(*fakePast)
	for i := range 60 {
		cl := event.Call{ID: int64(900 - i), DateTime: at.Add(-time.Duration(i)*17*time.Minute - time.Hour).Unix(), SystemID: 1,
			SystemLabel: "Harness County", TalkgroupID: 101, TalkgroupLabel: "Fire Dispatch", Duration: 6, Source: 4000 + int64(i),
			Transcript: fmt.Sprintf("Engine %d respond to %d Main Street", i%9+1, 100+i*12), LEDColor: "#ff3b30"}
		past.calls = append(past.calls, cl)
	}
	sv := c.win.past
	sv.talkgroup.SetSelected("Fire Dispatch — Harness County")
	sv.text.SetText("engine")
	c.Do(sv.search)
	c.WaitIdle()
	c.win.tabs.SelectIndex(tabSearch)
	c.win.w.Content().Refresh()
	// The chosen result is highlighted, its day's header is not: the
	// list's own selection covered the header too, as if it were chosen.
	// (Pixels of the picture: right of the header's text, and of the
	// chosen result's row, against the window's background.)
	img := c.win.w.Canvas().Capture()
	header, row, plain := img.At(600, 141), img.At(600, 181), img.At(630, 5)
	t.Logf("header %v row %v plain %v", header, row, plain)
	if !sameColor(header, plain) {
		t.Errorf("the day header is drawn %v, not on the window's background %v: it looks chosen", header, plain)
	}
	if sameColor(row, plain) {
		t.Errorf("the chosen result is not highlighted (%v)", row)
	}
	test.AssertRendersToImage(t, "search_tab.png", c.win.w.Canvas())
}

// sameColor reports whether a and b are one colour (of any color.Color type).
func sameColor(a, b color.Color) bool {
	ar, ag, ab, aa := a.RGBA()
	br, bg, bb, ba := b.RGBA()
	return ar == br && ag == bg && ab == bb && aa == ba
}
