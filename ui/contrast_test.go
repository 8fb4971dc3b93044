package ui

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// WCAG 2.1 AA, checked on what the windows actually draw: the test walks
// the rendered object tree (the test driver's renderers, in paint order),
// works out for every text, icon, outline and mark the colour behind it by
// compositing the shapes painted before it, and computes the contrast
// ratio of the colours as drawn.

// Required ratios.
const (
	textContrast     = 4.5 // WCAG 1.4.3, normal text
	disabledContrast = 3.0 // inactive controls are exempt from 1.4.3; kept readable anyway
	controlContrast  = 3.0 // WCAG 1.4.11: outlines, check marks, icons, marks
)

// relativeLuminance is WCAG's relative luminance of an opaque colour.
func relativeLuminance(c color.NRGBA) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// contrastRatio is WCAG's contrast ratio of two opaque colours.
func contrastRatio(a, b color.NRGBA) float64 {
	la, lb := relativeLuminance(a), relativeLuminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// over composites c (with its alpha) over an opaque base.
func over(c color.Color, base color.NRGBA) color.NRGBA {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	a := float64(n.A) / 255
	mix := func(f, b uint8) uint8 { return uint8(math.Round(float64(f)*a + float64(b)*(1-a))) }
	return color.NRGBA{mix(n.R, base.R), mix(n.G, base.G), mix(n.B, base.B), 0xff}
}

// drawn is one object as painted: where, and its colours.
type drawn struct {
	obj      fyne.CanvasObject
	pos      fyne.Position
	size     fyne.Size
	disabled bool   // inside a disabled widget
	path     string // the widget types above it, for messages
	fill     color.Color
	circle   bool
	isFill   bool // a check or radio box's fill icon: a surface, not a mark
}

func (d drawn) contains(p fyne.Position) bool {
	if p.X < d.pos.X || p.Y < d.pos.Y || p.X >= d.pos.X+d.size.Width || p.Y >= d.pos.Y+d.size.Height {
		return false
	}
	if !d.circle {
		return true
	}
	rx, ry := d.size.Width/2, d.size.Height/2
	dx, dy := (p.X-d.pos.X-rx)/rx, (p.Y-d.pos.Y-ry)/ry
	return dx*dx+dy*dy <= 1
}

// paintOrder lists the visible objects under o in the order they are
// painted, with their absolute positions.
func paintOrder(o fyne.CanvasObject, at fyne.Position, disabled bool, path string, out *[]drawn) {
	if o == nil || !o.Visible() {
		return
	}
	pos := at.Add(o.Position())
	if d, ok := o.(fyne.Disableable); ok && d.Disabled() {
		disabled = true
	}
	*out = append(*out, drawn{obj: o, pos: pos, size: o.Size(), disabled: disabled, path: path})
	switch x := o.(type) {
	case fyne.Widget:
		path += "/" + strings.TrimPrefix(fmt.Sprintf("%T", x), "*")
		for _, child := range test.WidgetRenderer(x).Objects() {
			paintOrder(child, pos, disabled, path, out)
		}
	case *fyne.Container:
		for _, child := range x.Objects {
			paintOrder(child, pos, disabled, path, out)
		}
	}
}

// fillIconNames are the names of the icons that fill a check or radio box.
func fillIconNames(th fyne.Theme) []string {
	var names []string
	for _, n := range []fyne.ThemeIconName{theme.IconNameCheckButtonFill, theme.IconNameRadioButtonFill} {
		name := th.Icon(n).Name()
		if _, base, ok := strings.Cut(name, "_"); ok {
			name = base
		}
		names = append(names, "_"+name)
	}
	return names
}

type colorNamed interface {
	ThemeColorName() fyne.ThemeColorName
}

// contrastProblems walks what cv draws and lists every colour pair below
// its required ratio.
func contrastProblems(cv fyne.Canvas, th fyne.Theme, v fyne.ThemeVariant) []string {
	var all []drawn
	paintOrder(cv.Content(), fyne.Position{}, false, "", &all)
	for _, o := range cv.Overlays().List() {
		paintOrder(o, fyne.Position{}, false, "overlay", &all)
	}
	fills := fillIconNames(th)
	marks := map[color.NRGBA]bool{
		over(th.Color(theme.ColorNamePrimary, v), color.NRGBA{A: 0xff}):    true,
		over(th.Color(theme.ColorNameForeground, v), color.NRGBA{A: 0xff}): true,
	}
	// Surfaces: what counts as "behind" later objects.
	for i := range all {
		d := &all[i]
		switch x := d.obj.(type) {
		case *canvas.Rectangle:
			d.fill = x.FillColor
		case *canvas.Circle:
			d.fill, d.circle = x.FillColor, true
		case *canvas.Image:
			if named, ok := x.Resource.(colorNamed); ok {
				for _, f := range fills {
					if strings.HasSuffix(x.Resource.Name(), f) {
						d.fill, d.isFill = th.Color(named.ThemeColorName(), v), true
					}
				}
			}
		}
	}
	base := over(th.Color(theme.ColorNameBackground, v), color.NRGBA{A: 0xff})
	bounds := cv.Size()
	behind := func(i int, p fyne.Position, skipFills bool) color.NRGBA {
		c := base
		for _, d := range all[:i] {
			if d.fill == nil || (skipFills && d.isFill) || !d.contains(p) {
				continue
			}
			if _, _, _, a := d.fill.RGBA(); a == 0 {
				continue
			}
			c = over(d.fill, c)
		}
		return c
	}
	var problems []string
	report := func(d drawn, what string, fg, bg color.NRGBA, need float64) {
		if r := contrastRatio(fg, bg); r < need {
			problems = append(problems, fmt.Sprintf("%s at %v in %s: %.2f:1 (#%02x%02x%02x on #%02x%02x%02x), want %.1f:1",
				what, d.pos, d.path, r, fg.R, fg.G, fg.B, bg.R, bg.G, bg.B, need))
		}
	}
	for i, d := range all {
		if d.pos.X >= bounds.Width || d.pos.Y >= bounds.Height || d.size.Width <= 0 || d.size.Height <= 0 {
			continue // off the canvas, or not drawn
		}
		centre := d.pos.Add(fyne.NewPos(d.size.Width/2, d.size.Height/2))
		switch x := d.obj.(type) {
		case *canvas.Text:
			if strings.TrimSpace(x.Text) == "" {
				continue
			}
			bg := behind(i, centre, false)
			need := textContrast
			if d.disabled {
				need = disabledContrast
			}
			report(d, fmt.Sprintf("text %q", x.Text), over(x.Color, bg), bg, need)
		case *canvas.Image:
			named, ok := x.Resource.(colorNamed)
			if !ok || d.isFill {
				continue
			}
			fg := th.Color(named.ThemeColorName(), v)
			inner, outer := behind(i, centre, false), behind(i, centre, true)
			report(d, "icon "+x.Resource.Name(), over(fg, inner), inner, controlContrast)
			report(d, "icon "+x.Resource.Name()+" (outside its box)", over(fg, outer), outer, controlContrast)
		case *canvas.Rectangle:
			if x.StrokeWidth > 0 {
				if _, _, _, a := x.StrokeColor.RGBA(); a > 0 {
					inner := behind(i, centre, false)
					outer := behind(i, d.pos.Subtract(fyne.NewPos(1, 1)), false)
					report(d, "outline", over(x.StrokeColor, inner), inner, controlContrast)
					report(d, "outline (outside)", over(x.StrokeColor, outer), outer, controlContrast)
				}
			}
			if x.FillColor != nil && marks[over(x.FillColor, color.NRGBA{A: 0xff})] {
				bg := behind(i, centre, false)
				report(d, "mark", over(x.FillColor, bg), bg, controlContrast)
			}
		case *canvas.Circle:
			if x.FillColor != nil && marks[over(x.FillColor, color.NRGBA{A: 0xff})] {
				bg := behind(i, centre, false)
				report(d, "mark", over(x.FillColor, bg), bg, controlContrast)
			}
		}
	}
	return problems
}

// checkContrast fails t for every colour pair of cv below WCAG AA.
func checkContrast(t *testing.T, what string, cv fyne.Canvas, th fyne.Theme, v fyne.ThemeVariant) {
	t.Helper()
	for _, p := range contrastProblems(cv, th, v) {
		t.Errorf("%s: %s", what, p)
	}
}

func TestContrastRatioIsWCAGs(t *testing.T) {
	white, black := color.NRGBA{0xff, 0xff, 0xff, 0xff}, color.NRGBA{0, 0, 0, 0xff}
	if r := contrastRatio(white, black); math.Abs(r-21) > 1e-9 {
		t.Fatalf("white on black %.3f, want 21", r)
	}
	// #767676 on white is the classic 4.54:1.
	if r := contrastRatio(color.NRGBA{0x76, 0x76, 0x76, 0xff}, white); math.Abs(r-4.54) > 0.01 {
		t.Fatalf("#767676 on white %.3f, want 4.54", r)
	}
}
