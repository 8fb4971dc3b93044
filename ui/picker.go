package ui

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/ui/listening"
	"earshot/ui/player"
)

// tgPicker chooses systems and talkgroups from the catalogue (the
// directory): a search and a checklist with a row per system (the whole
// system, {id, 0}) and per talkgroup under it. An alert rule's talkgroups
// and the archive's are picked with it.
type tgPicker struct {
	dir    listening.Directory
	picked map[player.Talkgroup]bool
	rows   []player.Talkgroup // shown, in order; TalkgroupID 0 is a system row
	// touched: the listener changed the picks (until then, what was
	// given is kept as it was, even what the catalogue does not list).
	touched bool

	search    *widget.Entry
	list      *widget.List
	summary   *widget.Label
	content   fyne.CanvasObject
	onChanged func()
}

func newTGPicker(dir listening.Directory, picked []player.Talkgroup) *tgPicker {
	p := &tgPicker{dir: dir, picked: map[player.Talkgroup]bool{}, search: widget.NewEntry(), summary: widget.NewLabel("")}
	for _, t := range picked {
		p.picked[t] = true
	}
	p.search.SetPlaceHolder("Search systems and talkgroups…")
	p.search.OnChanged = func(string) { p.filter() }
	p.summary.Wrapping = fyne.TextWrapWord
	p.list = widget.NewList(func() int { return len(p.rows) },
		func() fyne.CanvasObject {
			indent := canvas.NewRectangle(color.Transparent)
			indent.SetMinSize(fyne.NewSize(theme.IconInlineSize(), 0))
			return container.NewBorder(nil, nil, indent, nil, widget.NewCheck("talkgroup", nil))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { p.bind(i, o.(*fyne.Container)) })
	p.list.OnSelected = func(i widget.ListItemID) {
		p.list.UnselectAll()
		if i < len(p.rows) {
			p.set(p.rows[i], !p.picked[p.rows[i]])
		}
	}
	p.filter()
	p.say()
	p.content = container.NewBorder(p.search, p.summary, nil, nil, p.list)
	return p
}

// filter shows the rows the search finds.
func (p *tgPicker) filter() {
	q := strings.ToLower(strings.TrimSpace(p.search.Text))
	p.rows = p.rows[:0]
	for _, sys := range p.dir.Systems {
		var tgs []player.Talkgroup
		for _, k := range sys.Talkgroups {
			info := p.dir.Info[k]
			hay := strings.ToLower(strings.Join([]string{sys.Label, info.Label, info.Name, info.Group, info.Tag, fmt.Sprint(k.TalkgroupID)}, " "))
			if q == "" || strings.Contains(hay, q) {
				tgs = append(tgs, k)
			}
		}
		if len(tgs) > 0 || q == "" || strings.Contains(strings.ToLower(sys.Label), q) {
			p.rows = append(p.rows, player.Talkgroup{SystemID: sys.ID})
			p.rows = append(p.rows, tgs...)
		}
	}
	p.list.Refresh()
}

func (p *tgPicker) bind(i widget.ListItemID, row *fyne.Container) {
	if i >= len(p.rows) {
		return
	}
	t := p.rows[i]
	var check *widget.Check
	var indent fyne.CanvasObject
	for _, o := range row.Objects {
		switch x := o.(type) {
		case *widget.Check:
			check = x
		case *canvas.Rectangle:
			indent = x
		}
	}
	check.OnChanged = nil
	if t.TalkgroupID == 0 {
		check.Text = p.dir.SystemLabel(t.SystemID) + " — every talkgroup"
		indent.Hide()
	} else {
		check.Text = fmt.Sprintf("%s (%d)", p.dir.TalkgroupLabel(t), t.TalkgroupID)
		indent.Show()
	}
	check.SetChecked(p.picked[t])
	check.Refresh()
	row.Refresh()
	check.OnChanged = func(on bool) { p.set(t, on) }
}

// set picks or unpicks a row.
func (p *tgPicker) set(t player.Talkgroup, on bool) {
	p.touched = true
	if on {
		p.picked[t] = true
	} else {
		delete(p.picked, t)
	}
	p.list.Refresh()
	p.say()
	if p.onChanged != nil {
		p.onChanged()
	}
}

// Picked lists the picks in order (systems and talkgroups by id).
func (p *tgPicker) Picked() []player.Talkgroup {
	return slices.SortedFunc(maps.Keys(p.picked), func(a, b player.Talkgroup) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
}

// say sums the picks up under the list.
func (p *tgPicker) say() {
	p.summary.SetText("Picked: " + pickedWords(p.Picked(), p.dir, "nothing (any system and talkgroup)"))
}

// pickedWords names picked systems and talkgroups, a few of them.
func pickedWords(picked []player.Talkgroup, d listening.Directory, none string) string {
	if len(picked) == 0 {
		return none
	}
	const named = 4
	var names []string
	for i, t := range picked {
		if i == named {
			names = append(names, fmt.Sprintf("and %d more", len(picked)-named))
			break
		}
		if t.TalkgroupID == 0 {
			names = append(names, "all of "+d.SystemLabel(t.SystemID))
		} else {
			names = append(names, d.TalkgroupLabel(t))
		}
	}
	return strings.Join(names, ", ")
}
