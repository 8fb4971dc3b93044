package ipc

import (
	"context"
	"strings"
	"testing"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/quiet"
	"earshot/ui/listening"
)

// The window edits the settings through the channel: a good edit is in
// force and comes back with the settings; a refused one comes back as an
// invalid-kind error in the alert engine's words; pause reaches the core.
func TestTheWindowEditsTheSettings(t *testing.T) {
	res, _ := newResident(t)
	c, _, _, _, _ := pair(t, res)
	ctx := context.Background()
	rule := alerts.Rule{Name: "Mayday", Words: []string{"mayday", "firefighter down"}, Priority: true}
	if err := c.ChangeSettings(ctx, listening.Change{Kind: listening.ChangeAlert, Rule: &rule}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window seeing the new rule", func() bool {
		a := c.Snapshot().Settings.Alerts
		return len(a) == 1 && a[0].Name == "Mayday"
	})
	bad := alerts.Rule{Name: "Bad", Regex: "(unclosed"}
	err := c.ChangeSettings(ctx, listening.Change{Kind: listening.ChangeAlert, Rule: &bad})
	if !IsKind(err, KindInvalid) || !strings.HasPrefix(err.Error(), "invalid alert rule: ") {
		t.Fatalf("a bad rule: %v", err)
	}
	err = c.ChangeSettings(ctx, listening.Change{Kind: listening.ChangeAlertRemove, RuleName: "nothing"})
	if !IsKind(err, KindNotFound) {
		t.Fatalf("removing an unknown rule: %v", err)
	}
	h := quiet.Hours{Enabled: true, Days: map[string][]string{"mon": {"22:00-07:00"}}}
	if err := c.ChangeSettings(ctx, listening.Change{Kind: listening.ChangeQuietHours, QuietHours: &h}); err != nil {
		t.Fatal(err)
	}
	c.PauseQuietHours(time.Hour)
	waitFor(t, "the pause at the core", func() bool { return !res.core.Snapshot().Quiet.PausedUntil.IsZero() })
	waitFor(t, "the pause in the window", func() bool { return !c.Snapshot().Quiet.PausedUntil.IsZero() })
	if !c.Snapshot().Settings.QuietHours.Enabled {
		t.Fatal("the window does not see the quiet hours")
	}
}

func TestBadSettingsMessagesAreRefused(t *testing.T) {
	for _, line := range []string{
		`{"type":"command","command":"settings"}`,
		`{"type":"command","command":"settings","change":{"kind":"launch"}}`,
		`{"type":"command","command":"settings","change":{"kind":"alert"}}`,
		`{"type":"command","command":"settings","change":{"kind":"volume","talkgroup":{"systemId":0,"talkgroupId":1}}}`,
		`{"type":"command","command":"pauseQuiet","seconds":-5}`,
		`{"type":"settings"}`,
		`{"type":"settings","settings":{"alerts":[{"name":""}]}}`,
	} {
		if _, err := Decode([]byte(line)); err == nil {
			t.Errorf("accepted %s", line)
		}
	}
}
