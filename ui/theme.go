package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// earshotTheme is Fyne's default theme with the colours that carry text
// and control outlines changed to meet WCAG 2.1 AA in both variants: text
// at least 4.5:1 against what is behind it (state lines, disabled buttons,
// placeholders, text on the primary colour) and control boundaries and
// check marks at least 3:1 (unticked boxes, entry and select outlines, the
// progress bar). Fyne's defaults leave disabled text at 1.4:1 and
// unticked boxes at 1.5:1 on the dark background, and white on its blue
// at 4.47:1. TestWindowContrast checks the rendered widgets' colours.
type earshotTheme struct {
	fyne.Theme
	// variant, if set, is used whatever the desktop asks (tests, and the
	// screenshots of both variants).
	variant *fyne.ThemeVariant
}

// newTheme is Earshot's theme on the desktop's light or dark preference.
func newTheme() fyne.Theme { return earshotTheme{Theme: theme.DefaultTheme()} }

// themeVariant is Earshot's theme fixed to one variant.
func themeVariant(v fyne.ThemeVariant) fyne.Theme {
	return earshotTheme{Theme: theme.DefaultTheme(), variant: &v}
}

// The colours that differ from Fyne's, per variant.
var (
	darkColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNamePrimary:             color.NRGBA{0x5c, 0x9d, 0xff, 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{0x17, 0x17, 0x18, 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{0x5c, 0x9d, 0xff, 0xff},
		theme.ColorNameDisabled:            color.NRGBA{0x9a, 0x9a, 0xa0, 0xff},
		theme.ColorNameInputBorder:         color.NRGBA{0x80, 0x80, 0x86, 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{0xb2, 0xb2, 0xb2, 0xff},
		theme.ColorNameError:               color.NRGBA{0xff, 0x6b, 0x5e, 0xff},
		theme.ColorNameForegroundOnError:   color.NRGBA{0x17, 0x17, 0x18, 0xff},
		theme.ColorNameFocus:               color.NRGBA{0x5c, 0x9d, 0xff, 0x2a},
		theme.ColorNameSelection:           color.NRGBA{0x5c, 0x9d, 0xff, 0x33},
	}
	lightColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNamePrimary:             color.NRGBA{0x25, 0x63, 0xeb, 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{0xff, 0xff, 0xff, 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{0x25, 0x63, 0xeb, 0xff},
		theme.ColorNameForeground:          color.NRGBA{0x3a, 0x3a, 0x3c, 0xff},
		theme.ColorNameDisabled:            color.NRGBA{0x6e, 0x6e, 0x73, 0xff},
		theme.ColorNameInputBorder:         color.NRGBA{0x80, 0x80, 0x86, 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{0x6b, 0x6b, 0x6b, 0xff},
		theme.ColorNameError:               color.NRGBA{0xb7, 0x1c, 0x1c, 0xff},
		theme.ColorNameForegroundOnError:   color.NRGBA{0xff, 0xff, 0xff, 0xff},
		theme.ColorNameFocus:               color.NRGBA{0x25, 0x63, 0xeb, 0x2a},
		theme.ColorNameSelection:           color.NRGBA{0x25, 0x63, 0xeb, 0x33},
	}
)

func (t earshotTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.variant != nil {
		v = *t.variant
	}
	colors := darkColors
	if v == theme.VariantLight {
		colors = lightColors
	}
	if c, ok := colors[n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}
