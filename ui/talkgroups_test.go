package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// systemHeader is the text of the checklist's header of system id.
func systemHeader(t *testing.T, pw *playerWindow, id int64) string {
	t.Helper()
	for i, r := range pw.tgItems {
		if r.system && r.key.SystemID == id {
			return rowCheck(t, pw, i).Text
		}
	}
	t.Fatalf("no header for system %d in %q", id, rows(pw))
	return ""
}

// The fault: "all 3 talkgroups" with two of them unticked.
func TestSystemHeaderCountsWhatIsTicked(t *testing.T) {
	c, _, feed, _ := newTestController(t)
	pw := c.win
	followController(t, c)
	cat := catalog()
	feed.hub.Publish(event.Event{Type: event.TypeCatalog, Catalog: &cat})
	waitUntil(t, c, "the catalogue in the checklist", func() bool { return strings.Count(rows(pw), "S") == 2 })
	c.Do(func() {
		if got := systemHeader(t, pw, 1); got != "Harness County — all 3 talkgroups" {
			t.Errorf("everything heard: %q", got)
		}
	})
	pw.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 102}, {SystemID: 1, TalkgroupID: 103}}, false)
	c.Do(func() {
		if got := systemHeader(t, pw, 1); got != "Harness County — 1 of 3 talkgroups" {
			t.Errorf("two unticked: %q", got)
		}
		if got := systemHeader(t, pw, 2); got != "Metro — all 2 talkgroups" {
			t.Errorf("the other system: %q", got)
		}
	})
	pw.setSystemSelected(1, false)
	c.Do(func() {
		if got := systemHeader(t, pw, 1); got != "Harness County — none of 3 talkgroups" {
			t.Errorf("the system unticked: %q", got)
		}
	})
}

func TestChecklistSaysWhenNothingMatches(t *testing.T) {
	c, _, _, _ := newTestController(t)
	pw := c.win
	test.Type(pw.search, "zzz")
	if len(pw.tgItems) != 0 || !pw.tgNone.Visible() || !strings.Contains(pw.tgNone.Text, "No talkgroups match “zzz”") {
		t.Fatalf("a search that finds nothing: rows %q, line %q (shown %v)", rows(pw), pw.tgNone.Text, pw.tgNone.Visible())
	}
	pw.search.SetText("")
	if pw.tgNone.Visible() {
		t.Fatal("the no-matches line stays after clearing the search")
	}
}

// The fault: a search typed on the demo carried over to the real server
// and showed an empty list.
func TestChecklistSearchTextBelongsToItsServer(t *testing.T) {
	a := test.NewTempApp(t)
	var mu sync.Mutex
	server := ""
	account := func() (string, string) { mu.Lock(); defer mu.Unlock(); return server, "" }
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(1, 101, "Fire Dispatch")}}
	core := listening.New(listening.Options{Feed: feed, Player: newFakePlayer(), Account: account})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := startController(t, a, core, Options{})
	pw := c.win
	c.refresh()
	if rows(pw) != "S1 1/101" {
		t.Fatalf("the demo's checklist: %q", rows(pw))
	}
	pw.search.SetText("fire")
	followController(t, c)
	// Signed in to the real server, whose talkgroups say nothing of fire.
	real := event.Call{ID: 7, SystemID: 9, SystemLabel: "Metro", TalkgroupID: 901, TalkgroupLabel: "PD North", DateTime: time.Now().Unix()}
	feed.mu.Lock()
	feed.calls = []event.Call{real}
	feed.mu.Unlock()
	mu.Lock()
	server = "https://scanner.example.org"
	mu.Unlock()
	feed.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	waitUntil(t, c, "the real server's talkgroups, unfiltered", func() bool { return rows(pw) == "S9 9/901" && pw.search.Text == "" })
	// Back on the demo, its search comes back.
	feed.mu.Lock()
	feed.calls = []event.Call{call(1, 101, "Fire Dispatch")}
	feed.mu.Unlock()
	mu.Lock()
	server = ""
	mu.Unlock()
	feed.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	waitUntil(t, c, "the demo's search again", func() bool { return pw.search.Text == "fire" && rows(pw) == "S1 1/101" })
}

// waitUntil waits (on the window's lock) until ok.
func waitUntil(t *testing.T, c *Controller, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var done bool
		c.Do(func() { done = ok() })
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
