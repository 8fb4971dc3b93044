package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

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
	c := startController(t, a, core, Options{Accounts: acc, Location: time.UTC, Now: func() time.Time { return at }})
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
	c.win.tabs.SelectIndex(2)
	c.win.w.Content().Refresh()
	test.AssertRendersToMarkup(t, "talkgroups_tab.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "talkgroups_tab.png", c.win.w.Canvas())
}
