package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/alerts"
	"earshot/relay/archive"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// standoutWindow is the golden window with the catalogue, three alert
// rules, a priority talkgroup, a volume offset, quiet hours and an
// archive, as a listener who set them up sees it.
func standoutWindow(t *testing.T) (*Controller, *listening.Core) {
	t.Helper()
	// The golden window's clock and zone: quiet hours are read at its time.
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	c, core := alertsWindow(t, func(o *listening.Options) {
		o.Now, o.Location = func() time.Time { return at }, time.UTC
	})
	ctx := context.Background()
	fire := player.Talkgroup{SystemID: 1, TalkgroupID: 101}
	for _, ch := range []listening.Change{
		{Kind: listening.ChangeAlert, Rule: &alerts.Rule{Name: "Mayday", Words: []string{"mayday", "firefighter down"}, Priority: true, Tone: true}},
		{Kind: listening.ChangeAlert, Rule: &alerts.Rule{Name: "Working fire", Systems: []int64{1}, Talkgroups: []int64{101, 102}, Words: []string{"working fire"}, Bump: true}},
		{Kind: listening.ChangeAlert, Rule: &alerts.Rule{Name: "Metro units", Systems: []int64{2}, Regex: `unit \d+`}},
		{Kind: listening.ChangePriority, Talkgroup: &fire, On: true},
		{Kind: listening.ChangeVolume, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 102}, DB: -6},
		{Kind: listening.ChangeQuietHours, QuietHours: &quiet.Hours{Enabled: true, AllowPriority: true, Zone: "UTC",
			Days: map[string][]string{"mon": {"22:00-06:30"}, "tue": {"22:00-06:30"}, "wed": {"22:00-06:30"}, "thu": {"22:00-06:30"},
				"fri": {"23:30-08:00"}, "sat": {"23:30-08:00"}}}},
		{Kind: listening.ChangeOnInterrupt, OnInterrupt: priority.Drop},
		{Kind: listening.ChangeArchive, Archive: &archive.Settings{Enabled: true, MaxDays: 14, Talkgroups: []filter.Talkgroup{{SystemID: 1}}}},
	} {
		if err := core.ChangeSettings(ctx, ch); err != nil {
			t.Fatalf("%s: %v", ch.Kind, err)
		}
	}
	c.refresh()
	return c, core
}

func TestAlertsTabRendersAsTheGolden(t *testing.T) {
	c, _ := standoutWindow(t)
	c.win.tabs.SelectIndex(tabAlerts)
	c.win.w.Content().Refresh()
	// Each rule's summary is read whole at the window's 640 px: beside
	// Edit and Remove the Mayday rule's was cut to "priority, to…".
	summaries := 0
	for _, o := range test.LaidOutObjects(c.win.extra.alerts.list) {
		l, ok := o.(*widget.Label)
		if !ok || !l.Visible() || !strings.HasPrefix(l.Text, "Any talkgroup") && !strings.Contains(l.Text, "saying") {
			continue
		}
		summaries++
		if need := fyne.MeasureText(l.Text, theme.TextSize(), l.TextStyle).Width + 2*theme.InnerPadding(); need > l.Size().Width {
			t.Errorf("the rule summary %q needs %.0f px and has %.0f: it is cut", l.Text, need, l.Size().Width)
		}
	}
	if summaries != 3 {
		t.Errorf("%d rule summaries shown, want 3", summaries)
	}
	test.AssertRendersToMarkup(t, "alerts_tab.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "alerts_tab.png", c.win.w.Canvas())
}

func TestRuleEditorRendersAsTheGolden(t *testing.T) {
	c, core := standoutWindow(t)
	c.win.tabs.SelectIndex(tabAlerts)
	r := core.Snapshot().Settings.Alerts[1]
	c.Do(func() { c.win.extra.alerts.editRule(&r) })
	c.win.w.Content().Refresh()
	test.AssertRendersToImage(t, "rule_editor.png", c.win.w.Canvas())
}

func TestQuietHoursEditorRendersAsTheGolden(t *testing.T) {
	c, _ := standoutWindow(t)
	c.win.tabs.SelectIndex(tabAlerts)
	c.Do(c.win.extra.alerts.editQuiet)
	c.win.w.Content().Refresh()
	test.AssertRendersToImage(t, "quiet_editor.png", c.win.w.Canvas())
}

func TestSettingsTabRendersAsTheGolden(t *testing.T) {
	c, _ := standoutWindow(t)
	c.win.tabs.SelectIndex(tabSettings)
	c.win.w.Content().Refresh()
	test.AssertRendersToMarkup(t, "settings_tab.xml", c.win.w.Canvas())
	test.AssertRendersToImage(t, "settings_tab.png", c.win.w.Canvas())
}

// The now-playing block during quiet hours, playing a priority call an
// alert matched: the alert, the talkgroup's volume and priority, and the
// quiet hours line with its pause button.
func TestNowPlayingWithAnAlertDuringQuietHoursRendersAsTheGolden(t *testing.T) {
	c, core := standoutWindow(t)
	always := quiet.Hours{Enabled: true, AllowPriority: true, AllowAlerts: true, Zone: "UTC", Days: map[string][]string{}}
	for _, d := range weekdays {
		always.Days[d.key] = []string{"12:00-18:00"}
	}
	if err := core.ChangeSettings(context.Background(), listening.Change{Kind: listening.ChangeQuietHours, QuietHours: &always}); err != nil {
		t.Fatal(err)
	}
	s := core.Snapshot()
	playing := *s.Call
	playing.Alerts = []event.Alert{{CallID: playing.ID, Rule: "Mayday", Words: []string{"mayday"}, Priority: true}}
	core.OnPlayerChange(player.State{Call: &playing, Position: 3 * time.Second, Duration: 12 * time.Second, Live: true, Volume: 0.8, Queue: 2})
	c.refresh()
	c.win.w.Content().Refresh()
	// The whole line is read: it was cut at "(prioritı…", losing what
	// quiet hours let through; and it takes one line, so the window does
	// not grow past its 560 px with the demo banner above.
	line := c.win.extra.line
	want := "Alert: Mayday · Quiet hours until 18:00 (priority and alerts pass)"
	var shown []string
	for _, o := range test.LaidOutObjects(line) {
		if tx, ok := o.(*canvas.Text); ok && tx.Visible() && tx.Text != "" {
			shown = append(shown, strings.TrimSpace(tx.Text))
		}
	}
	if line.Text != want || len(shown) != 1 || shown[0] != want {
		t.Errorf("the alert and quiet hours line says %q and shows %q, want all of %q on one line", line.Text, shown, want)
	}
	test.AssertRendersToImage(t, "now_playing_alert_quiet.png", c.win.w.Canvas())
}

// With the demo banner above, the window has room for one line of alert
// and quiet hours: the line's full words took two, and the window grew
// past its 560 px (its content's minimum was 578 px high).
func TestTheDemoWindowKeepsItsHeightDuringQuietHoursWithAnAlert(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{})
	core := coreOf(c)
	hours := quiet.Hours{Enabled: true, AllowPriority: true, AllowAlerts: true, Zone: "UTC", Days: map[string][]string{}}
	for _, d := range weekdays {
		hours.Days[d.key] = []string{"12:00-18:00"}
	}
	if err := core.ChangeSettings(context.Background(), listening.Change{Kind: listening.ChangeQuietHours, QuietHours: &hours}); err != nil {
		t.Fatal(err)
	}
	playing := *core.Snapshot().Call
	playing.Alerts = []event.Alert{{CallID: playing.ID, Rule: "Mayday", Words: []string{"mayday"}, Priority: true}}
	core.OnPlayerChange(player.State{Call: &playing, Position: 3 * time.Second, Duration: 12 * time.Second, Live: true, Volume: 0.8, Queue: 2})
	c.refresh()
	c.win.w.Content().Refresh()
	if !c.win.extra.now.Visible() {
		t.Fatal("the alert and quiet hours line is not shown")
	}
	if h := c.win.w.Content().MinSize().Height; h > 560 {
		t.Fatalf("the demo window's content needs %.1f px: the window grows past its 560", h)
	}
}
