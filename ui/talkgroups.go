package ui

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/widget"

	"earshot/ui/player"
)

// directory is every talkgroup the checklist offers: the server's
// catalogue (its systems and talkgroups, in its order) and, after them,
// talkgroups only seen in calls (a server that sends no catalogue, or one
// added since). It is rebuilt whole on a change and never modified, so a
// copy may be read without the lock.
type directory struct {
	systems []dirSystem
	info    map[player.Talkgroup]tgInfo
}

type dirSystem struct {
	ID         int64
	Label      string
	Talkgroups []player.Talkgroup
}

// rebuildDirLocked merges the catalogue and the talkgroups seen. Call it
// with c.mu held.
func (c *Controller) rebuildDirLocked() {
	d := directory{info: map[player.Talkgroup]tgInfo{}}
	index := map[int64]int{} // system id → d.systems index
	for _, sys := range c.catalog.Systems {
		index[sys.ID] = len(d.systems)
		ds := dirSystem{ID: sys.ID, Label: sys.Label}
		for _, tg := range sys.Talkgroups {
			k := player.Talkgroup{SystemID: sys.ID, TalkgroupID: tg.ID}
			if _, dup := d.info[k]; dup {
				continue
			}
			d.info[k] = tgInfo{SystemLabel: sys.Label, Label: tg.Label, Name: tg.Name, Group: tg.Group, Tag: tg.Tag}
			ds.Talkgroups = append(ds.Talkgroups, k)
		}
		d.systems = append(d.systems, ds)
	}
	var extra []player.Talkgroup // seen in calls, not in the catalogue
	for k, info := range c.seen {
		if _, ok := d.info[k]; !ok {
			d.info[k] = info
			extra = append(extra, k)
		}
	}
	slices.SortFunc(extra, func(a, b player.Talkgroup) int {
		ia, ib := d.info[a], d.info[b]
		return cmp.Or(cmp.Compare(ia.SystemLabel, ib.SystemLabel), cmp.Compare(a.SystemID, b.SystemID),
			cmp.Compare(ia.Label, ib.Label), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
	for _, k := range extra {
		i, ok := index[k.SystemID]
		if !ok {
			i = len(d.systems)
			index[k.SystemID] = i
			d.systems = append(d.systems, dirSystem{ID: k.SystemID, Label: d.info[k].SystemLabel})
		}
		d.systems[i].Talkgroups = append(d.systems[i].Talkgroups, k)
	}
	c.dir = d
	c.tgRev++
}

func (c *Controller) directory() (directory, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dir, c.tgRev
}

// talkgroupKeys lists the talkgroups offered, system by system.
func (c *Controller) talkgroupKeys() []player.Talkgroup {
	d, _ := c.directory()
	var keys []player.Talkgroup
	for _, sys := range d.systems {
		keys = append(keys, sys.Talkgroups...)
	}
	return keys
}

func (d directory) system(id int64) (dirSystem, bool) {
	for _, sys := range d.systems {
		if sys.ID == id {
			return sys, true
		}
	}
	return dirSystem{}, false
}

func (c *Controller) talkgroupInfo(t player.Talkgroup) tgInfo {
	d, _ := c.directory()
	return d.info[t]
}

func (c *Controller) notifyOn(t player.Talkgroup) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notify[t]
}

// systemLabel names a system.
func (c *Controller) systemLabel(id int64) string {
	d, _ := c.directory()
	if sys, ok := d.system(id); ok && sys.Label != "" {
		return sys.Label
	}
	return fmt.Sprintf("system %d", id)
}

// Group and tag choices are worded "Group: X" and "Tag: Y".
const (
	groupPrefix = "Group: "
	tagPrefix   = "Tag: "
)

// inGroup tells whether the talkgroup belongs to a group/tag choice.
func (i tgInfo) inGroup(choice string) bool {
	switch {
	case choice == "" || choice == allGroups:
		return true
	case strings.HasPrefix(choice, groupPrefix):
		return i.Group == strings.TrimPrefix(choice, groupPrefix)
	case strings.HasPrefix(choice, tagPrefix):
		return i.Tag == strings.TrimPrefix(choice, tagPrefix)
	}
	return false
}

// groupChoices lists "All", then every group and tag, sorted.
func (c *Controller) groupChoices() []string {
	d, _ := c.directory()
	groups, tags := map[string]bool{}, map[string]bool{}
	for _, info := range d.info {
		if info.Group != "" {
			groups[groupPrefix+info.Group] = true
		}
		if info.Tag != "" {
			tags[tagPrefix+info.Tag] = true
		}
	}
	g, t := slices.Sorted(maps.Keys(groups)), slices.Sorted(maps.Keys(tags))
	return append(append([]string{allGroups}, g...), t...)
}

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
func systemChecked(sel []player.Talkgroup, sys dirSystem) (checked, partial bool) {
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
	d, rev := pw.c.directory()
	pw.tgRev = rev
	choices := pw.c.groupChoices()
	if !slices.Equal(choices, pw.group.Options) {
		cur := pw.group.Selected
		pw.updating = true
		pw.group.SetOptions(choices)
		if !slices.Contains(choices, cur) {
			cur = allGroups
		}
		pw.group.SetSelected(cur)
		pw.updating = false
	}
	group := pw.group.Selected
	q := strings.ToLower(strings.TrimSpace(pw.search.Text))
	pw.tgItems = pw.tgItems[:0]
	for _, sys := range d.systems {
		var rows []tgRow
		for _, k := range sys.Talkgroups {
			info := d.info[k]
			if !info.inGroup(group) {
				continue
			}
			hay := strings.ToLower(strings.Join([]string{sys.Label, info.Label, info.Name, info.Group, info.Tag, fmt.Sprint(k.TalkgroupID)}, " "))
			if q == "" || strings.Contains(hay, q) {
				rows = append(rows, tgRow{key: k})
			}
		}
		emptyShown := len(sys.Talkgroups) == 0 && (group == "" || group == allGroups) &&
			(q == "" || strings.Contains(strings.ToLower(sys.Label), q))
		if len(rows) > 0 || emptyShown {
			pw.tgItems = append(pw.tgItems, tgRow{system: true, key: player.Talkgroup{SystemID: sys.ID}})
			pw.tgItems = append(pw.tgItems, rows...)
		}
	}
	pw.tgList.Refresh()
}

func (pw *playerWindow) bindTalkgroup(i widget.ListItemID, row *fyne.Container) {
	if i >= len(pw.tgItems) {
		return
	}
	r := pw.tgItems[i]
	var sel, notify *keyCheck
	var indent fyne.CanvasObject
	for _, o := range row.Objects {
		switch x := o.(type) {
		case *keyCheck:
			if x.Text == "Notify" {
				notify = x
			} else {
				sel = x
			}
		case *canvas.Rectangle:
			indent = x
		}
	}
	f := pw.c.opts.Player.Filter()
	d, _ := pw.c.directory()
	sel.OnChanged = nil
	notify.OnChanged = nil
	if r.system {
		sys, _ := d.system(r.key.SystemID)
		label := sys.Label
		if label == "" {
			label = fmt.Sprintf("System %d", sys.ID)
		}
		sel.Text = fmt.Sprintf("%s — all %d talkgroups", label, len(sys.Talkgroups))
		checked, partial := systemChecked(f.Selection, sys)
		sel.SetChecked(checked)
		sel.Partial = partial
		sel.Refresh()
		sel.OnChanged = func(on bool) { pw.setSystemSelected(sys.ID, on) }
		notify.Hide()
		if indent.Visible() {
			indent.Hide()
			row.Refresh()
		}
		return
	}
	t := r.key
	info := d.info[t]
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
	sel.Text = label
	if len(extra) > 0 {
		sel.Text += "  (" + strings.Join(extra, " · ") + ")"
	}
	sel.SetChecked(selected(f.Selection, t))
	sel.Refresh()
	sel.OnChanged = func(on bool) { pw.setSelected([]player.Talkgroup{t}, on) }
	notify.Show()
	if !indent.Visible() {
		indent.Show()
		row.Refresh()
	}
	notify.SetChecked(pw.c.notifyOn(t))
	notify.OnChanged = func(on bool) { pw.c.SetNotify(t, on) }
}

// changeSelection applies change to the selection as a set in which a
// whole system is {SystemID, 0}; an empty selection (everything) starts as
// every system.
func (pw *playerWindow) changeSelection(change func(set map[player.Talkgroup]bool, d directory)) {
	pw.c.uiMu.Lock()
	defer pw.c.uiMu.Unlock()
	p := pw.c.opts.Player
	d, _ := pw.c.directory()
	set := map[player.Talkgroup]bool{}
	if cur := p.Filter().Selection; len(cur) == 0 {
		for _, sys := range d.systems {
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
	p.SetSelection(next)
	pw.c.savePrefs()
	pw.tgList.Refresh()
}

// setSelected adds or removes talkgroups from the selection. Unchecking
// one of a system heard whole keeps its other talkgroups.
func (pw *playerWindow) setSelected(ts []player.Talkgroup, on bool) {
	pw.changeSelection(func(set map[player.Talkgroup]bool, d directory) {
		for _, t := range ts {
			whole := player.Talkgroup{SystemID: t.SystemID}
			switch {
			case on && !set[whole]:
				set[t] = true
			case !on && set[whole]:
				delete(set, whole)
				if sys, ok := d.system(t.SystemID); ok {
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
	pw.changeSelection(func(set map[player.Talkgroup]bool, _ directory) {
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
