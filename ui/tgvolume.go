package ui

import (
	"fmt"
	"math"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/loudness"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// A talkgroup's volume offset (−20 … +10 dB, on top of levelling) and its
// priority, set from a Talkgroups row or from the now-playing block. The
// player applies a new offset from the next call; it is kept per server.

// dBWords writes an offset: "0 dB", "+4 dB", "−6 dB".
func dBWords(db float64) string {
	switch {
	case db > 0:
		return fmt.Sprintf("+%g dB", db)
	case db < 0:
		return fmt.Sprintf("−%g dB", -db)
	}
	return "0 dB"
}

// setVolume sends a talkgroup's offset; setPriority its priority.
func (pw *playerWindow) setVolume(t player.Talkgroup, db float64) {
	pw.c.change(listening.Change{Kind: listening.ChangeVolume, Talkgroup: &t, DB: db}, pw.sayTrimProblem)
}

func (pw *playerWindow) setPriority(t player.Talkgroup, on bool) {
	pw.c.change(listening.Change{Kind: listening.ChangePriority, Talkgroup: &t, On: on}, pw.sayTrimProblem)
}

// sayTrimProblem shows a refused volume or priority in the window's
// problem line.
func (pw *playerWindow) sayTrimProblem(err error) {
	if err != nil {
		setShown(pw.problem, "Not changed: "+settingsError(err))
	}
}

// tgTrim is the priority tick and the volume button of a Talkgroups row.
type tgTrim struct {
	widget.BaseWidget
	pw       *playerWindow
	t        player.Talkgroup
	priority *keyCheck
	volume   *keyButton
	prefix   string       // before the offset on the button ("TG " in the now-playing block)
	popped   *tgVolumeRow // the slider popped up last (tests drive it)
}

// newTGTrim makes the controls; prefix goes before the offset on the
// button.
func newTGTrim(pw *playerWindow, prefix string) *tgTrim {
	tr := &tgTrim{pw: pw, prefix: prefix}
	tr.priority = newKeyCheck(pw, "Priority", nil)
	tr.volume = newKeyButton(pw, prefix+dBWords(0), theme.VolumeUpIcon(), func() { tr.popVolume() })
	tr.ExtendBaseWidget(tr)
	return tr
}

func (tr *tgTrim) CreateRenderer() fyne.WidgetRenderer {
	// The button keeps the width of its widest text: what is beside it
	// never moves as the offset changes.
	widest := widget.NewButtonWithIcon(tr.prefix+dBWords(loudness.MinOffset), theme.VolumeUpIcon(), nil).MinSize().Width
	return widget.NewSimpleRenderer(container.NewHBox(tr.priority, container.New(steadyLayout{width: widest}, tr.volume)))
}

// bind shows talkgroup t's settings.
func (tr *tgTrim) bind(t player.Talkgroup, s *listening.Settings) {
	tr.t = t
	tr.priority.OnChanged = nil
	tr.priority.SetChecked(s.IsPriority(t))
	tr.priority.OnChanged = func(on bool) { tr.pw.setPriority(t, on) }
	tr.volume.SetText(tr.prefix + dBWords(s.VolumeOf(t)))
}

// Enable and Disable switch both controls (no talkgroup to act on yet).
func (tr *tgTrim) Enable() {
	tr.priority.Enable()
	tr.volume.Enable()
}

func (tr *tgTrim) Disable() {
	tr.priority.Disable()
	tr.volume.Disable()
}

// popVolume shows a slider for the talkgroup's offset under the button.
func (tr *tgTrim) popVolume() {
	pw := tr.pw
	t := tr.t
	row := newTGVolumeRow(pw)
	row.bind(&t, pw.snap.Directory.TalkgroupLabel(t), &pw.snap.Settings)
	tr.popped = row
	pop := widget.NewPopUp(container.NewPadded(row.content), pw.w.Canvas())
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(tr.volume)
	pop.ShowAtPosition(pos.Add(fyne.NewPos(tr.volume.Size().Width-360, tr.volume.Size().Height)))
	pop.Resize(fyne.NewSize(360, pop.MinSize().Height))
}

// tgVolumeRow is a slider for one talkgroup's offset, with its value and
// a reset.
type tgVolumeRow struct {
	pw      *playerWindow
	t       *player.Talkgroup
	label   *widget.Label
	slider  *keySlider
	value   *widget.Label
	reset   *keyButton
	content fyne.CanvasObject
	binding bool
}

func newTGVolumeRow(pw *playerWindow) *tgVolumeRow {
	r := &tgVolumeRow{pw: pw, label: widget.NewLabel("Talkgroup volume"), value: widget.NewLabel("0 dB")}
	r.label.Truncation = fyne.TextTruncateEllipsis
	r.slider = newKeySlider(pw, loudness.MinOffset, loudness.MaxOffset)
	r.slider.Step = 1
	r.slider.OnChanged = func(v float64) { r.value.SetText(dBWords(v)) }
	r.slider.OnChangeEnded = func(v float64) {
		if r.t != nil && !r.binding && !pw.updating {
			pw.setVolume(*r.t, math.Round(v))
		}
	}
	// SetValue ends a change as a drag does: OnChangeEnded sends it.
	r.reset = newKeyButton(pw, "", theme.ContentUndoIcon(), func() { r.slider.SetValue(0) })
	right := container.NewHBox(r.value, r.reset)
	label := container.New(steadyLayout{width: 150}, r.label)
	r.content = container.NewBorder(nil, nil, label, right, r.slider)
	return r
}

// bind shows talkgroup t named name.
func (r *tgVolumeRow) bind(t *player.Talkgroup, name string, s *listening.Settings) {
	r.binding = true
	defer func() { r.binding = false }()
	r.t = t
	r.label.SetText(strings.TrimSpace(name) + " volume")
	db := s.VolumeOf(*t)
	r.slider.SetValue(db)
	r.value.SetText(dBWords(db))
}
