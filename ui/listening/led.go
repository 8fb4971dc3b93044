package listening

import (
	"image/color"

	"earshot/relay/led"
)

// ParseLED reads an OpenScanner LED colour (#rgb, #rrggbb or a few names)
// into the shade Earshot shows everywhere: the window, the tray and the web
// player (relay/led).
func ParseLED(s string) (color.NRGBA, bool) { return led.Parse(s) }
