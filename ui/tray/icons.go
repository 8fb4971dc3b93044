package tray

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"

	"earshot/assets"
	"earshot/ui/ico"
	"earshot/ui/listening"
)

// stateColors are the icon's base colours per state.
var stateColors = [...]color.NRGBA{
	listening.SignedOut:  {0x8e, 0x8e, 0x93, 0xff},
	listening.Connecting: {0xff, 0xcc, 0x00, 0xff},
	listening.Idle:       {0x34, 0xc7, 0x59, 0xff},
	listening.Playing:    {0x00, 0x7a, 0xff, 0xff},
	listening.Paused:     {0xaf, 0x52, 0xde, 0xff},
	listening.Problem:    {0xff, 0x3b, 0x30, 0xff},
	listening.Offline:    {0xff, 0x95, 0x00, 0xff},
	listening.LiveOff:    {0x5c, 0x6b, 0x7a, 0xff},
}

// IconPNG draws Earshot's icon in colour c: a round badge with a radio
// wave glyph. Paused adds a pause bar; an error a cross-out.
func IconPNG(state listening.State, c color.NRGBA, size int) []byte {
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
			case state == listening.Paused && math.Abs(dx) > r*0.12 && math.Abs(dx) < r*0.38 && math.Abs(dy) < r*0.45:
				px = white
			case state != listening.Paused && math.Hypot(dx+r*0.3, dy) < r*0.16:
				px = white
			case state != listening.Paused && inArc && math.Abs(math.Hypot(dx+r*0.3, dy)/r-0.45) < 0.08:
				px = white
			case state != listening.Paused && inArc && math.Abs(math.Hypot(dx+r*0.3, dy)/r-0.8) < 0.08 && u < 0.92:
				px = white
			}
			if state == listening.Problem && math.Abs(dx-dy) < r*0.1 && d < r*0.8 {
				px = white
			}
			img.SetNRGBA(x, y, px)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// windowsTraySizes are the sizes the notification area picks from: 16 px
// at 100 % scale up to 32 at 200 %; LoadImage's default, 32; and the
// drawn 64.
var windowsTraySizes = []int{16, 20, 24, 32, 40, 48, IconSize}

// hostIcon is an icon as the tray of goos takes it: Windows' notification
// area loads an .ico (fyne.io/systray hands the bytes to LoadImage, which
// shows nothing for a PNG), with the small sizes drawn rather than left to
// its scaling; the others take the PNG.
func hostIcon(goos string, png []byte) []byte {
	if goos != "windows" {
		return png
	}
	b, err := ico.FromPNG(png, windowsTraySizes...)
	if err != nil {
		return png // never for the icons drawn here
	}
	return b
}

// IconSize is the tray icons' side in pixels.
const IconSize = 64

// iconFor returns the tray icon for s: the state's colour, or the playing
// talkgroup's LED colour when the server gives one.
func iconFor(s *listening.Snapshot, cache map[string][]byte) (key string, png []byte) {
	st := s.State()
	c := stateColors[st]
	if st == listening.Playing && s.Call != nil {
		if led, ok := listening.ParseLED(s.Call.LEDColor); ok {
			c = led
		}
	}
	key = strconv.Itoa(int(st)) + "-" + strconv.FormatUint(uint64(c.R)<<16|uint64(c.G)<<8|uint64(c.B), 16)
	if s.Quiet.Active {
		key += "-quiet"
	}
	if b, ok := cache[key]; ok {
		return key, b
	}
	// The state's own icon comes from assets/; a talkgroup's LED tint is
	// drawn here, and so is the moon of quiet hours.
	b := assets.TrayPNG(int(st))
	if b == nil || c != stateColors[st] {
		b = IconPNG(st, c, IconSize)
	}
	if s.Quiet.Active {
		b = withMoon(b)
	}
	cache[key] = b
	return key, b
}

// moonColor and moonEdge draw the crescent quiet hours add to the icon:
// pale on a dark rim, so it shows on every state's colour and on light
// and dark panels.
var (
	moonColor = color.NRGBA{0xff, 0xf4, 0xc2, 0xff}
	moonEdge  = color.NRGBA{0x1c, 0x1c, 0x3a, 0xff}
)

// withMoon draws a crescent moon in the lower right quarter of a PNG icon:
// quiet hours are in force.
func withMoon(icon []byte) []byte {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return icon
	}
	b := src.Bounds()
	img := image.NewNRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	size := float64(b.Dx())
	cx, cy, r := size*0.72, size*0.72, size*0.27
	edge := size * 0.045
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			px, py := float64(x-b.Min.X)+0.5, float64(y-b.Min.Y)+0.5
			d := math.Hypot(px-cx, py-cy)
			// The bite out of the disc: a circle shifted up and right.
			bite := math.Hypot(px-cx-r*0.45, py-cy+r*0.35)
			switch {
			case d <= r && bite > r*0.78:
				img.SetNRGBA(x, y, moonColor)
			case d <= r+edge && bite > r*0.78-edge:
				img.SetNRGBA(x, y, moonEdge)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return icon
	}
	return buf.Bytes()
}

// BrandColor is Earshot's own colour (the app icon's).
var BrandColor = color.NRGBA{0x00, 0x7a, 0xff, 0xff}

// StateColor is the tray icon's colour for st.
func StateColor(st listening.State) color.NRGBA { return stateColors[st] }
