package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// standout is what the playback window shows of what stands out: the
// Alerts and Settings tabs, and in the now-playing block the talkgroup's
// priority and volume (beside the volume), and a line, when there is
// something to say, with the playing call's alerts and how quiet hours
// stand (with one click to pause them).
type standout struct {
	pw       *playerWindow
	alerts   *alertsTab
	settings *settingsTab
	trim     *tgTrim
	line     *widget.Label
	quietBtn *keyButton
	// now is the now-playing block's line of it.
	now *fyne.Container
	rev uint64 // the settings revision the talkgroup rows show
}

func newStandout(pw *playerWindow) *standout {
	so := &standout{pw: pw, alerts: newAlertsTab(pw), settings: newSettingsTab(pw), trim: newTGTrim(pw, "TG "), line: widget.NewLabel("")}
	// The line wraps rather than lose its end ("… (priority passes)"): it
	// is the block's last, so a second line moves nothing above it. (Its
	// words are brief, so that it rarely needs one: the window, with the
	// demo banner, has room for one line only before it grows.)
	so.line.Wrapping = fyne.TextWrapWord
	so.quietBtn = newKeyButton(pw, "Pause for an hour", nil, so.alerts.togglePause)
	so.now = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), so.quietBtn, so.line)
	so.now.Hide()
	return so
}

// tabs are the window's tabs for alerts and settings.
func (so *standout) tabs() []*container.TabItem {
	return []*container.TabItem{
		container.NewTabItemWithIcon("Alerts", theme.WarningIcon(), so.alerts.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), so.settings.content),
	}
}

// update shows snapshot s (the window lock held). What it sets is shown,
// not asked for: the controls' callbacks see pw.updating.
func (so *standout) update(s *listening.Snapshot) {
	was := so.pw.updating
	so.pw.updating = true
	defer func() { so.pw.updating = was }()
	so.alerts.update(s)
	so.settings.update(s)
	if s.SettingsRev != so.rev {
		so.rev = s.SettingsRev
		so.pw.tgList.Refresh() // the rows show priority and volume
	}
	var parts []string
	if a := alertWords(s, s.Call); a != "" {
		parts = append(parts, a)
		so.line.Importance = widget.DangerImportance
	} else {
		so.line.Importance = widget.MediumImportance
	}
	quiet := s.QuietBriefAt(so.pw.c.opts.Now(), so.pw.c.opts.Location)
	if quiet != "" {
		parts = append(parts, quiet)
		if s.Quiet.PausedUntil.IsZero() {
			so.quietBtn.SetText("Pause for an hour")
		} else {
			so.quietBtn.SetText("Resume")
		}
		so.quietBtn.Show()
	} else {
		so.quietBtn.Hide()
	}
	so.line.SetText(strings.Join(parts, " · "))
	if len(parts) > 0 && !so.now.Visible() {
		so.now.Show()
	} else if len(parts) == 0 && so.now.Visible() {
		so.now.Hide()
	}
	// Between calls the talkgroup is the last call's, as Hold and Avoid
	// act on it then.
	call := s.Call
	if call == nil {
		call = s.Last
	}
	if call == nil {
		so.trim.Disable()
		return
	}
	so.trim.Enable()
	so.trim.bind(player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}, &s.Settings)
}

// alertWords says which alert rules matched the playing call (its
// history entry has the ones that fired late too) and whether it is a
// priority call.
func alertWords(s *listening.Snapshot, call *event.Call) string {
	if call == nil {
		return ""
	}
	alerts, prio := call.Alerts, false
	for _, h := range s.History {
		if h.Call.ID == call.ID {
			// The history has the alerts that fired after the call.
			if len(h.Call.Alerts) > len(alerts) {
				alerts = h.Call.Alerts
			}
			prio = h.Priority
			break
		}
	}
	var rules []string
	for _, a := range alerts {
		rules = append(rules, a.Rule)
	}
	switch {
	case len(rules) > 0:
		return "Alert: " + strings.Join(rules, ", ")
	case prio:
		return "Priority talkgroup"
	}
	return ""
}
