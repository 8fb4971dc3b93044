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
// Alerts and Settings tabs, and in the now-playing block how quiet hours
// stand (with one click to pause them), the playing call's alerts and its
// talkgroup's volume and priority.
type standout struct {
	pw        *playerWindow
	alerts    *alertsTab
	settings  *settingsTab
	quietRow  *fyne.Container
	quietLine *widget.Label
	quietBtn  *keyButton
	alertLine *widget.Label
	volume    *tgVolumeRow
	// now is the now-playing block's lines of it.
	now fyne.CanvasObject
	rev uint64 // the settings revision the talkgroup rows show
}

func newStandout(pw *playerWindow) *standout {
	so := &standout{pw: pw, alerts: newAlertsTab(pw), settings: newSettingsTab(pw),
		quietLine: widget.NewLabel(""), alertLine: widget.NewLabel(""), volume: newTGVolumeRow(pw, true)}
	so.quietLine.Truncation = fyne.TextTruncateEllipsis
	so.quietBtn = newKeyButton(pw, "Pause for an hour", nil, so.alerts.togglePause)
	so.quietRow = container.NewBorder(nil, nil, widget.NewIcon(theme.VisibilityOffIcon()), so.quietBtn, so.quietLine)
	so.alertLine.Importance = widget.DangerImportance
	so.alertLine.Truncation = fyne.TextTruncateEllipsis
	so.now = container.NewVBox(so.volume.content, so.alertLine, so.quietRow)
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
	if line := s.QuietLineAt(so.pw.c.opts.Now(), so.pw.c.opts.Location); line != "" {
		so.quietLine.SetText(line)
		if s.Quiet.PausedUntil.IsZero() {
			so.quietBtn.SetText("Pause for an hour")
		} else {
			so.quietBtn.SetText("Resume")
		}
		so.quietRow.Show()
	} else {
		so.quietRow.Hide()
	}
	var call *event.Call
	if s.Call != nil {
		call = s.Call
	}
	setShown(so.alertLine, alertWords(s, call))
	if call == nil {
		so.volume.bind(nil, "", &s.Settings)
		return
	}
	t := player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}
	so.volume.bind(&t, s.Title, &s.Settings)
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
