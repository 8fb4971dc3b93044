package ui

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/ui/listening"
	"earshot/ui/player"
)

// nothingSelected is the selection that hears no talkgroup: an empty
// selection hears every one, so unchecking the last box stores this
// (system ids are positive: it matches no call).
var nothingSelected = player.Talkgroup{SystemID: -1}

func selected(sel []player.Talkgroup, t player.Talkgroup) bool {
	if len(sel) == 0 {
		return true // an empty selection hears everything
	}
	for _, s := range sel {
		if s == t || (s.SystemID == t.SystemID && s.TalkgroupID == 0) {
			return true
		}
	}
	return false
}

// systemChecked tells how a system's box shows the selection: checked when
// the whole system (or all its talkgroups) is heard, partial when some are.
func systemChecked(sel []player.Talkgroup, sys listening.DirSystem) (checked, partial bool) {
	if selected(sel, player.Talkgroup{SystemID: sys.ID}) {
		return true, false
	}
	n := 0
	for _, k := range sys.Talkgroups {
		if selected(sel, k) {
			n++
		}
	}
	return n > 0 && n == len(sys.Talkgroups), n > 0 && n < len(sys.Talkgroups)
}

// tickedCount says how many of a system's talkgroups are heard: "all 3
// talkgroups", "2 of 3 talkgroups", "none of 3 talkgroups".
func tickedCount(sel []player.Talkgroup, sys listening.DirSystem) string {
	n := 0
	for _, k := range sys.Talkgroups {
		if selected(sel, k) {
			n++
		}
	}
	total := len(sys.Talkgroups)
	noun := "talkgroups"
	if total == 1 {
		noun = "talkgroup"
	}
	switch {
	case total == 0:
		if selected(sel, player.Talkgroup{SystemID: sys.ID}) {
			return "heard (no talkgroups known yet)"
		}
		return "not heard (no talkgroups known yet)"
	case n == total && total == 1:
		return "its 1 talkgroup"
	case n == total:
		return fmt.Sprintf("all %d %s", total, noun)
	case n == 0:
		return fmt.Sprintf("none of %d %s", total, noun)
	}
	return fmt.Sprintf("%d of %d %s", n, total, noun)
}

// tgRow is one row of the checklist: a system (all its talkgroups) or one
// talkgroup.
type tgRow struct {
	system bool
	key    player.Talkgroup // TalkgroupID 0 for a system row
}

// shownTalkgroups are the talkgroup rows the checklist shows now.
func (pw *playerWindow) shownTalkgroups() []player.Talkgroup {
	var out []player.Talkgroup
	for _, r := range pw.tgItems {
		if !r.system {
			out = append(out, r.key)
		}
	}
	return out
}

func (pw *playerWindow) reloadTalkgroups() {
	d := pw.snap.Directory
	pw.dir, pw.tgRev = d, pw.snap.DirRev
	choices := d.GroupChoices()
	if !slices.Equal(choices, pw.group.Options) {
		cur := pw.group.Selected
		pw.updating = true
		pw.group.SetOptions(choices)
		if !slices.Contains(choices, cur) {
			cur = listening.AllGroups
		}
		pw.group.SetSelected(cur)
		pw.updating = false
	}
	group := pw.group.Selected
	q := strings.ToLower(strings.TrimSpace(pw.search.Text))
	pw.tgItems = pw.tgItems[:0]
	for _, sys := range d.Systems {
		var rows []tgRow
		for _, k := range sys.Talkgroups {
			info := d.Info[k]
			if !info.InGroup(group) {
				continue
			}
			hay := strings.ToLower(strings.Join([]string{sys.Label, info.Label, info.Name, info.Group, info.Tag, fmt.Sprint(k.TalkgroupID)}, " "))
			if q == "" || strings.Contains(hay, q) {
				rows = append(rows, tgRow{key: k})
			}
		}
		emptyShown := len(sys.Talkgroups) == 0 && (group == "" || group == listening.AllGroups) &&
			(q == "" || strings.Contains(strings.ToLower(sys.Label), q))
		if len(rows) > 0 || emptyShown {
			pw.tgItems = append(pw.tgItems, tgRow{system: true, key: player.Talkgroup{SystemID: sys.ID}})
			pw.tgItems = append(pw.tgItems, rows...)
		}
	}
	pw.tgList.Refresh()
	switch {
	case len(pw.tgItems) > 0:
		pw.tgNone.Hide()
	case len(d.Systems) == 0:
		pw.tgNone.SetText("No talkgroups yet: they appear as the server sends its list, or as calls arrive.")
		pw.tgNone.Show()
	default:
		pw.tgNone.SetText("No talkgroups match “" + strings.TrimSpace(pw.search.Text) + "”" + groupNote(group) + ".")
		pw.tgNone.Show()
	}
}

// groupNote names the group/tag choice in "no matches" ("" for all).
func groupNote(group string) string {
	if group == "" || group == listening.AllGroups {
		return ""
	}
	return " in " + group
}

func (pw *playerWindow) bindTalkgroup(i widget.ListItemID, row *fyne.Container) {
	if i >= len(pw.tgItems) {
		return
	}
	r := pw.tgItems[i]
	var sel *fitCheck
	var notify *keyCheck
	var indent fyne.CanvasObject
	var trim *tgTrim
	objects := slices.Clone(row.Objects)
	for i := 0; i < len(objects); i++ {
		switch x := objects[i].(type) {
		case *keyCheck:
			notify = x
		case *fitCheck:
			sel = x
		case *canvas.Rectangle:
			indent = x
		case *tgTrim:
			trim = x
		case *fyne.Container: // the row's right: volume, priority, Notify
			objects = append(objects, x.Objects...)
		}
	}
	f := pw.snap.Filter
	d := pw.snap.Directory
	sel.OnChanged = nil
	notify.OnChanged = nil
	if r.system {
		sys, _ := d.System(r.key.SystemID)
		label := sys.Label
		if label == "" {
			label = fmt.Sprintf("System %d", sys.ID)
		}
		sel.setLabel(label + " — " + tickedCount(f.Selection, sys))
		checked, partial := systemChecked(f.Selection, sys)
		sel.SetChecked(checked)
		sel.Partial = partial
		sel.Refresh()
		sel.OnChanged = func(on bool) { pw.setSystemSelected(sys.ID, on) }
		notify.Hide()
		trim.Hide()
		if indent.Visible() {
			indent.Hide()
			row.Refresh()
		}
		return
	}
	t := r.key
	info := d.Info[t]
	label := info.Label
	if label == "" {
		label = fmt.Sprintf("TG %d", t.TalkgroupID)
	}
	var extra []string
	if info.Name != "" && info.Name != info.Label {
		extra = append(extra, info.Name)
	}
	if info.Group != "" {
		extra = append(extra, info.Group)
	}
	if info.Tag != "" {
		extra = append(extra, info.Tag)
	}
	for _, a := range f.Avoids {
		if a.Talkgroup == t {
			extra = append(extra, "avoided")
		}
	}
	if len(extra) > 0 {
		label += "  (" + strings.Join(extra, " · ") + ")"
	}
	sel.setLabel(label)
	sel.SetChecked(selected(f.Selection, t))
	sel.Refresh()
	sel.OnChanged = func(on bool) { pw.setSelected([]player.Talkgroup{t}, on) }
	notify.Show()
	trim.Show()
	trim.bind(t, &pw.snap.Settings)
	if !indent.Visible() {
		indent.Show()
		row.Refresh()
	}
	notify.SetChecked(pw.snap.NotifyOn(t))
	notify.OnChanged = func(on bool) { pw.c.opts.Core.SetNotify(t, on) }
}

// changeSelection applies change to the selection as a set in which a
// whole system is {SystemID, 0}; an empty selection (everything) starts as
// every system.
func (pw *playerWindow) changeSelection(change func(set map[player.Talkgroup]bool, d listening.Directory)) {
	pw.c.uiMu.Lock()
	defer pw.c.uiMu.Unlock()
	core := pw.c.opts.Core
	d := pw.snap.Directory
	set := map[player.Talkgroup]bool{}
	if cur := pw.snap.Filter.Selection; len(cur) == 0 {
		for _, sys := range d.Systems {
			set[player.Talkgroup{SystemID: sys.ID}] = true
		}
	} else {
		for _, s := range cur {
			set[s] = true
		}
	}
	delete(set, nothingSelected)
	change(set, d)
	next := slices.SortedFunc(maps.Keys(set), func(a, b player.Talkgroup) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
	if len(next) == 0 {
		next = []player.Talkgroup{nothingSelected}
	}
	core.SetSelection(next)
	// Show the new selection now (in process the core has it already;
	// over the channel the snapshot that confirms it follows).
	snap := *pw.snap
	snap.Filter = snap.Filter.Clone()
	snap.Filter.SetSelection(next)
	if s := core.Snapshot(); s.Rev > pw.snap.Rev {
		snap = *s
	}
	pw.snap = &snap
	pw.tgList.Refresh()
}

// setSelected adds or removes talkgroups from the selection. Unchecking
// one of a system heard whole keeps its other talkgroups.
func (pw *playerWindow) setSelected(ts []player.Talkgroup, on bool) {
	pw.changeSelection(func(set map[player.Talkgroup]bool, d listening.Directory) {
		for _, t := range ts {
			whole := player.Talkgroup{SystemID: t.SystemID}
			switch {
			case on && !set[whole]:
				set[t] = true
			case !on && set[whole]:
				delete(set, whole)
				if sys, ok := d.System(t.SystemID); ok {
					for _, k := range sys.Talkgroups {
						set[k] = true
					}
				}
				delete(set, t)
			case !on:
				delete(set, t)
			}
		}
	})
}

// setSystemSelected hears (or stops hearing) a whole system, talkgroups
// added to it later included.
func (pw *playerWindow) setSystemSelected(id int64, on bool) {
	pw.changeSelection(func(set map[player.Talkgroup]bool, _ listening.Directory) {
		for k := range set {
			if k.SystemID == id {
				delete(set, k)
			}
		}
		if on {
			set[player.Talkgroup{SystemID: id}] = true
		}
	})
}

func (pw *playerWindow) selectShown(on bool) {
	pw.c.uiMu.Lock()
	shown := pw.shownTalkgroups()
	pw.c.uiMu.Unlock()
	pw.setSelected(shown, on)
}

// fitCheck is a check whose label is cut to the check's width, ending with
// "…": a check draws its whole label, over whatever lies beside it (a long
// talkgroup name ran under the Priority box and the volume button).
type fitCheck struct {
	keyCheck
	full  string  // the label in full
	fitTo float32 // the width Text was cut to
}

func newFitCheck(keys keyTarget) *fitCheck {
	c := &fitCheck{keyCheck: keyCheck{keys: keys}}
	c.ExtendBaseWidget(c)
	return c
}

// setLabel sets the label (cut to the check's width once it has one).
func (c *fitCheck) setLabel(text string) {
	c.full, c.fitTo = text, 0
	c.Text = text
	c.fit(c.Size().Width)
}

// Resize lays the check out at s with its label cut to the new width.
func (c *fitCheck) Resize(s fyne.Size) {
	c.keyCheck.Resize(s)
	if c.fit(s.Width) {
		c.Refresh()
	}
}

// fit cuts the label to width; it reports whether the label changed.
func (c *fitCheck) fit(width float32) bool {
	if width <= 0 || width == c.fitTo {
		return false
	}
	c.fitTo = width
	// What the check's box and its paddings take before the label, as its
	// renderer lays them out, and a padding after.
	room := width - theme.IconInlineSize() - 2*theme.InnerPadding() - 2*theme.InputBorderSize()
	text := fitText(c.full, room, theme.TextSize(), fyne.TextStyle{})
	if text == c.Text {
		return false
	}
	c.Text = text
	return true
}
