package ui

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// The playback window keeps its controls still: every line of the
// now-playing block has a fixed height, whether a call plays or not and
// whether or not it has a transcript, and long text is cut with an
// ellipsis instead of wrapping into the lines below (or widening the
// window). The helpers here give a label that room.

// steadyLayout gives its objects a fixed height (and at least a minimum
// width), whatever they hold; they fill the space they are given.
type steadyLayout struct {
	width, height float32 // 0: the objects' own minimum
}

func (l steadyLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var min fyne.Size
	for _, o := range objects {
		if o.Visible() {
			min = min.Max(o.MinSize())
		}
	}
	if l.width > 0 {
		min.Width = l.width
	}
	if l.height > 0 {
		min.Height = l.height
	}
	return min
}

func (l steadyLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// labelHeight is the height of a label of n lines of text in style at
// size (theme.SizeNameText for body text), as the theme draws it now.
func labelHeight(n int, style fyne.TextStyle, size fyne.ThemeSizeName) float32 {
	l := widget.NewLabelWithStyle(strings.Repeat("Xg\n", max(n, 1)-1)+"Xg", fyne.TextAlignLeading, style)
	l.SizeName = size
	return l.MinSize().Height
}

// steadyLines holds label l in exactly n lines: one line is cut with an
// ellipsis; more wrap at words and the last line is cut.
func steadyLines(l *widget.Label, n int) fyne.CanvasObject {
	l.Truncation = fyne.TextTruncateEllipsis
	if n > 1 {
		l.Wrapping = fyne.TextWrapWord
	} else {
		l.Wrapping = fyne.TextWrapOff
	}
	size := l.SizeName
	if size == "" {
		size = theme.SizeNameText
	}
	return container.New(steadyLayout{height: labelHeight(n, l.TextStyle, size)}, l)
}

// steadyWidth holds o at the width of text (in body text), so what it
// shows can change without moving what is beside it.
func steadyWidth(o fyne.CanvasObject, text string) fyne.CanvasObject {
	w := widget.NewLabel(text).MinSize().Width
	return container.New(steadyLayout{width: w}, o)
}

// callProgress is how far the playing call has come: a thin bar whose
// filled part is the theme's primary colour inside an outline in the
// input-border colour, both readable against the background (Fyne's own
// progress bar fills its track with half-transparent primary, which
// leaves the two parts too alike to tell apart at a glance).
type callProgress struct {
	widget.BaseWidget
	value float64 // 0…1
}

func newCallProgress() *callProgress {
	p := &callProgress{}
	p.ExtendBaseWidget(p)
	return p
}

// SetValue shows fraction v (clamped to 0…1).
func (p *callProgress) SetValue(v float64) {
	v = math.Max(0, math.Min(1, v))
	if math.IsNaN(v) {
		v = 0
	}
	if v == p.value {
		return
	}
	p.value = v
	p.Refresh()
}

// progressThickness is the bar's height.
const progressThickness = 10

func (p *callProgress) CreateRenderer() fyne.WidgetRenderer {
	r := &progressRenderer{p: p, track: canvas.NewRectangle(color.Transparent), fill: canvas.NewRectangle(color.Transparent)}
	r.applyTheme()
	return r
}

type progressRenderer struct {
	p           *callProgress
	track, fill *canvas.Rectangle
	size        fyne.Size
}

func (r *progressRenderer) applyTheme() {
	th := r.p.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.track.FillColor = color.Transparent
	r.track.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	r.track.StrokeWidth = 1
	r.track.CornerRadius = progressThickness / 2
	r.fill.FillColor = th.Color(theme.ColorNamePrimary, v)
	r.fill.CornerRadius = progressThickness / 2
}

func (r *progressRenderer) Layout(size fyne.Size) {
	r.size = size
	y := (size.Height - progressThickness) / 2
	r.track.Move(fyne.NewPos(0, y))
	r.track.Resize(fyne.NewSize(size.Width, progressThickness))
	r.fill.Move(fyne.NewPos(0, y))
	w := float32(r.p.value) * size.Width
	if w > 0 && w < progressThickness {
		w = progressThickness // a sliver reads as a dot, not nothing
	}
	r.fill.Resize(fyne.NewSize(w, progressThickness))
	r.fill.Hidden = w == 0
}

func (r *progressRenderer) MinSize() fyne.Size {
	return fyne.NewSize(4*progressThickness, progressThickness)
}

func (r *progressRenderer) Refresh() {
	r.applyTheme()
	r.Layout(r.size)
	canvas.Refresh(r.p)
}

func (r *progressRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.track, r.fill} }
func (r *progressRenderer) Destroy()                     {}

// progressOf is the progress bar's fraction and the time label beside it,
// from the same figures rounded once, so the two always agree: under a
// minute in tenths of a second ("3.0 / 12.4 s"), longer in m:ss. A
// position past the end shows as the end.
func progressOf(pos, length time.Duration) (fraction float64, label string) {
	if length <= 0 {
		return 0, ""
	}
	pos = max(0, min(pos, length))
	unit := time.Second
	if length.Round(100*time.Millisecond) < time.Minute {
		unit = 100 * time.Millisecond
	}
	p, l := pos.Round(unit), length.Round(unit)
	if l <= 0 {
		l = unit
	}
	p = min(p, l)
	fraction = float64(p) / float64(l)
	if unit < time.Second {
		return fraction, fmt.Sprintf("%.1f / %.1f s", p.Seconds(), l.Seconds())
	}
	return fraction, clock(p) + " / " + clock(l)
}

// progressLabelWidth is text as wide as the widest time label.
const progressLabelWidth = "00:00 / 00:00"
