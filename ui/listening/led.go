package listening

import (
	"image/color"
	"strconv"
	"strings"
)

// ParseLED reads an OpenScanner LED colour (#rgb, #rrggbb or a few names).
func ParseLED(s string) (color.NRGBA, bool) {
	named := map[string]string{"red": "#ff3b30", "green": "#34c759", "blue": "#007aff", "yellow": "#ffcc00",
		"orange": "#ff9500", "purple": "#af52de", "cyan": "#32ade6", "magenta": "#ff2d55", "white": "#ffffff"}
	s = strings.ToLower(strings.TrimSpace(s))
	if v, ok := named[s]; ok {
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
