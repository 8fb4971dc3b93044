package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"

	"fyne.io/fyne/v2"

	"earshot/assets"
	"earshot/relay/led"
)

// stateColors are the icon's base colours per state.
var stateColors = [...]color.NRGBA{
	TraySignedOut:  {0x8e, 0x8e, 0x93, 0xff},
	TrayConnecting: {0xff, 0xcc, 0x00, 0xff},
	TrayIdle:       {0x34, 0xc7, 0x59, 0xff},
	TrayPlaying:    {0x00, 0x7a, 0xff, 0xff},
	TrayPaused:     {0xaf, 0x52, 0xde, 0xff},
	TrayError:      {0xff, 0x3b, 0x30, 0xff},
}

// ParseLED reads an OpenScanner LED colour (#rgb, #rrggbb or a few names)
// into the shade Earshot shows everywhere (relay/led, which the web player
// follows too).
func ParseLED(s string) (color.NRGBA, bool) { return led.Parse(s) }

// IconPNG draws Earshot's icon in colour c: a round badge with a radio
// wave glyph. Paused adds a pause bar; an error a cross-out.
func IconPNG(state TrayState, c color.NRGBA, size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	r := float64(size) / 2
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-r, float64(y)+0.5-r
			d := math.Hypot(dx, dy)
			if d > r-0.5 {
				continue
			}
			px := c
			// The glyph: a dot and two arcs opening to the right, like a
			// transmitter seen from the side.
			ang := math.Atan2(dy, dx)
			inArc := math.Abs(ang) < math.Pi/4
			u := d / r
			switch {
			case state == TrayPaused && math.Abs(dx) > r*0.12 && math.Abs(dx) < r*0.38 && math.Abs(dy) < r*0.45:
				px = white
			case state != TrayPaused && math.Hypot(dx+r*0.3, dy) < r*0.16:
				px = white
			case state != TrayPaused && inArc && math.Abs(math.Hypot(dx+r*0.3, dy)/r-0.45) < 0.08:
				px = white
			case state != TrayPaused && inArc && math.Abs(math.Hypot(dx+r*0.3, dy)/r-0.8) < 0.08 && u < 0.92:
				px = white
			}
			if state == TrayError && math.Abs(dx-dy) < r*0.1 && d < r*0.8 {
				px = white
			}
			img.SetNRGBA(x, y, px)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// TrayIconSize is the tray icons' side in pixels.
const TrayIconSize = 64

// iconCache renders each (state, colour) icon once.
type iconCache map[string]fyne.Resource

// For returns the tray icon for v: the state's colour, or the playing
// talkgroup's LED colour when the server gives one.
func (ic iconCache) For(v View) fyne.Resource {
	st := v.TrayState()
	c := stateColors[st]
	if st == TrayPlaying && v.Call != nil {
		if led, ok := ParseLED(v.Call.LEDColor); ok {
			c = led
		}
	}
	key := strconv.Itoa(int(st)) + "-" + strconv.FormatUint(uint64(c.R)<<16|uint64(c.G)<<8|uint64(c.B), 16)
	if r, ok := ic[key]; ok {
		return r
	}
	// The state's own icon comes from assets/; a talkgroup's LED tint is
	// drawn here.
	png := assets.TrayPNG(int(st))
	if png == nil || c != stateColors[st] {
		png = IconPNG(st, c, TrayIconSize)
	}
	r := fyne.NewStaticResource("earshot-"+key+".png", png)
	ic[key] = r
	return r
}

// BrandColor is Earshot's own colour (the app icon's).
var BrandColor = color.NRGBA{0x00, 0x7a, 0xff, 0xff}

// StateColor is the tray icon's colour for st.
func StateColor(st TrayState) color.NRGBA { return stateColors[st] }
