// Package led reads OpenScanner's talkgroup and system LED colours — a few
// names ("red", "blue", …) or #rgb/#rrggbb — into the colours Earshot shows
// them in, the same in the window, the tray and the web player (whose
// app.js carries a copy of Palette, held equal by a test).
//
// It owns only that palette and parsing; it imports no GUI package.
package led

import (
	"image/color"
	"strconv"
	"strings"
)

// Palette maps the colour names OpenScanner offers to the shade Earshot
// shows for each.
func Palette() map[string]string {
	return map[string]string{
		"red": "#ff3b30", "green": "#34c759", "blue": "#007aff", "yellow": "#ffcc00",
		"orange": "#ff9500", "purple": "#af52de", "cyan": "#32ade6", "magenta": "#ff2d55", "white": "#ffffff",
	}
}

// Default is the colour of a playing call whose talkgroup and system have
// no (readable) colour.
const Default = "#007aff"

// Parse reads an LED colour. ok is false for "" and anything unreadable.
func Parse(s string) (c color.NRGBA, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if v, found := Palette()[s]; found {
		s = v
	}
	s = strings.TrimPrefix(s, "#")
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	if len(s) != 6 {
		return color.NRGBA{}, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return color.NRGBA{}, false
	}
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}, true
}

// Hex is the colour to show for s as #rrggbb: its own, or Default.
func Hex(s string) string {
	c, ok := Parse(s)
	if !ok {
		return Default
	}
	return "#" + hex2(c.R) + hex2(c.G) + hex2(c.B)
}

func hex2(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}
