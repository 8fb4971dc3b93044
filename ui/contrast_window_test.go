package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/player"
)

// contrastStates are the windows in the states a listener sees, drawn
// with Earshot's theme in variant v; each is checked as drawn.
func contrastStates(t *testing.T, th fyne.Theme) map[string]fyne.Canvas {
	t.Helper()
	out := map[string]fyne.Canvas{}
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	newRig := func(state string, acc *fakeAccounts) (*Controller, *fakePlayer, *fakeFeed) {
		a := test.NewTempApp(t)
		a.Settings().SetTheme(th)
		fp := newFakePlayer()
		alerted := call(4, 101, "Fire Dispatch")
		alerted.Alerts = []event.Alert{{CallID: 4, Rule: "Mayday"}}
		alerted.Transcript = "Mayday mayday"
		alerted.Source = 4021
		backfilled := call(3, 103, "EMS")
		backfilled.Backfill = true
		backfilled.DateTime -= 86400
		feed := &fakeFeed{hub: hub.New(nil), state: state, calls: []event.Call{alerted, backfilled, call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}}
		feed.catalog = catalog()
		server, _ := acc.Account()
		core := newCore(t, feed, fp, nil, server)
		c := startController(t, a, core, Options{Accounts: acc, Tokens: &fakeTokens{}, Past: &fakePast{}, Location: time.UTC, Now: func() time.Time { return at }})
		return c, fp, feed
	}
	signedIn := &fakeAccounts{server: "https://scanner.example.org"}

	// Playing, with a transcript, a hold and an avoid in force, queue.
	c, fp, _ := newRig(event.StateConnected, signedIn)
	playing := call(3, 101, "Fire Dispatch")
	playing.Transcript = "Engine 5 respond to 12 Main Street"
	playing.Frequency = 851012500
	fp.mu.Lock()
	fp.st = player.State{Call: &playing, Position: 3 * time.Second, Duration: 12 * time.Second, Live: true, Volume: 0.8, Queue: 2, Replay: 2}
	fp.filter.HoldTalkgroup(1, 101, time.Time{})
	fp.filter.AvoidTalkgroup(1, 102, at.Add(30*time.Minute))
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	c.win.w.Content().Refresh()
	out["playing, held, avoiding, replaying"] = c.win.w.Canvas()

	// Paused between calls, nothing to skip (disabled buttons), unticked Mute.
	c, fp, _ = newRig(event.StateConnected, signedIn)
	fp.mu.Lock()
	fp.st = player.State{Live: true, Paused: true, Volume: 1}
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	c.win.w.Content().Refresh()
	out["paused between calls"] = c.win.w.Canvas()

	// The server down, on the demo (banner), the history tab.
	c, _, _ = newRig(event.StateDisconnected, &fakeAccounts{})
	c.refresh()
	c.win.w.Content().Refresh()
	out["server down, demo banner"] = c.win.w.Canvas()

	c, fp, _ = newRig(event.StateConnected, signedIn)
	fp.Play(call(2, 102, "Fire Tac"))
	playerChanged(coreOf(c), fp)
	c.win.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 103}}, false)
	c.refresh()
	c.win.tabs.SelectIndex(tabHistory)
	c.win.w.Content().Refresh()
	out["history"] = c.win.w.Canvas()

	// Talkgroups with some unticked, one "notify me".
	c, _, _ = newRig(event.StateConnected, signedIn)
	coreOf(c).SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 101}, true)
	c.refresh()
	c.win.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 103}}, false)
	c.refresh()
	c.win.tabs.SelectIndex(tabTalkgroups)
	c.win.w.Content().Refresh()
	out["talkgroups"] = c.win.w.Canvas()

	// Search results, one chosen, the range row open.
	c, _, _ = newRig(event.StateConnected, signedIn)
	past := c.opts.Past.(*fakePast)
	past.calls = olderCalls(at, 30, 800)
	past.calls[0].Alerts = []event.Alert{{CallID: 800, Rule: "Mayday"}}
	past.calls[1].Transcript = "Engine 5 respond"
	sv := c.win.past
	sv.when.SetSelected(rangeBetween)
	c.Do(sv.search)
	c.WaitIdle()
	c.win.tabs.SelectIndex(tabSearch)
	c.win.w.Content().Refresh()
	out["search"] = c.win.w.Canvas()

	// Sign-in, with a message; the token window.
	c, _, _ = newRig(event.StateConnected, signedIn)
	c.Do(c.ShowSignIn)
	for _, w := range c.app.Driver().AllWindows() {
		if w.Title() == "Sign in to OpenScanner" {
			out["sign-in"] = w.Canvas()
		}
	}
	used, retires := at.Add(-time.Hour), at.Add(10*time.Minute)
	c.opts.Tokens = &fakeTokens{list: []tokens.Info{
		{ID: "a", Name: "default", Scope: "listen", Created: at},
		{ID: "b", Name: "OBS", Scope: "listen", Created: at, LastUsed: &used, LastClient: "VLC", RetiresAt: &retires},
		{ID: "c", Name: "old laptop", Scope: "listen", Created: at, Revoked: true},
	}}
	c.Do(c.ShowTokens)
	c.WaitIdle()
	for _, w := range c.app.Driver().AllWindows() {
		if w.Title() == "Earshot — stream tokens" {
			out["tokens"] = w.Canvas()
		}
	}
	return out
}

func TestWindowContrastMeetsWCAGAA(t *testing.T) {
	for _, v := range []fyne.ThemeVariant{theme.VariantDark, theme.VariantLight} {
		name := map[fyne.ThemeVariant]string{theme.VariantDark: "dark", theme.VariantLight: "light"}[v]
		t.Run(name, func(t *testing.T) {
			for state, cv := range contrastStates(t, themeVariant(v)) {
				checkContrast(t, name+", "+state, cv, themeVariant(v), v)
			}
		})
	}
}
