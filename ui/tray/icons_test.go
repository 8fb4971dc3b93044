package tray

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"earshot/ui/listening"
)

// The fault: the tray handed fyne.io/systray a PNG on Windows too, where it
// loads the icon with LoadImage(IMAGE_ICON), which reads only .ico files:
// the notification area showed no Earshot icon. Windows now gets an .ico
// from 16 to 64 px; the other systems keep the PNG.
func TestWindowsTrayIconIsAnICO(t *testing.T) {
	png := IconPNG(listening.Idle, StateColor(listening.Idle), IconSize)
	for _, goos := range []string{"linux", "darwin", "freebsd"} {
		if got := hostIcon(goos, png); !bytes.Equal(got, png) {
			t.Errorf("%s: the tray icon is no longer the PNG", goos)
		}
	}
	ico := hostIcon("windows", png)
	le := binary.LittleEndian
	n := len(windowsTraySizes)
	if len(ico) < 6+16*n || le.Uint16(ico) != 0 || le.Uint16(ico[2:]) != 1 || int(le.Uint16(ico[4:])) != n {
		t.Fatalf("the Windows tray icon is not a %d-image .ico: % x", n, ico[:min(len(ico), 6)])
	}
	for i, size := range windowsTraySizes {
		e := ico[6+16*i:]
		off := le.Uint32(e[12:])
		if int(e[0]) != size || int(off)+40 > len(ico) || le.Uint32(ico[off:]) != 40 || int32(le.Uint32(ico[off+4:])) != int32(size) {
			t.Errorf("image %d of the .ico is not a %d px bitmap", i, size)
		}
	}
}

// The fault: fyne.io/systray on Windows copies the tooltip into a 128-unit
// array without a bound or a check, so a long one (a problem line, a long
// talkgroup name) lost its terminating NUL, and one with a NUL was refused
// and the old tooltip stayed. Windows gets it cut to fit, with "…".
func TestWindowsTooltipFitsSzTip(t *testing.T) {
	long := "Earshot — Playing: " + strings.Repeat("Fire Dispatch 🚒 ", 12) + "\nconnected"
	if hostTooltip("linux", long) != long || hostTooltip("darwin", "a\x00b") != "a\x00b" {
		t.Error("the tooltip changed off Windows")
	}
	got := hostTooltip("windows", long)
	if n := len(utf16.Encode([]rune(got))); n > windowsTooltipUnits || n < windowsTooltipUnits-1 {
		t.Errorf("the Windows tooltip is %d UTF-16 units, want %d (or one less, not to split 🚒)", n, windowsTooltipUnits)
	}
	if !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || !utf8.ValidString(got) {
		t.Errorf("the Windows tooltip is %q", got)
	}
	if got := hostTooltip("windows", "Earshot — Live\nqueue\x000"); got != "Earshot — Live\nqueue0" {
		t.Errorf("a NUL was kept: %q", got)
	}
	if short := "Earshot — Live\n0 in queue"; hostTooltip("windows", short) != short {
		t.Error("a short tooltip changed")
	}
}

// The fault: a talkgroup's name in a menu item ("Hold Fire & EMS", "Hold
// FD_DISPATCH") lost a character and underlined the next, as Windows reads
// "&" and dbusmenu "_" as an access key's mark; on Windows a NUL left the
// item's old title up.
func TestMenuTitlesShowTalkgroupNamesLiterally(t *testing.T) {
	for _, c := range []struct{ goos, in, want string }{
		{"windows", "Hold Fire & EMS\tN\x00orth", "Hold Fire && EMS North"},
		{"windows", "Hold FD_DISPATCH", "Hold FD_DISPATCH"},
		{"linux", "Hold FD_DISPATCH & Fire", "Hold FD__DISPATCH & Fire"},
		{"freebsd", "a__b", "a____b"},
		{"darwin", "Hold Fire & EMS_1", "Hold Fire & EMS_1"},
	} {
		if got := hostMenuTitle(c.goos, c.in); got != c.want {
			t.Errorf("%s: %q shown as %q, want %q", c.goos, c.in, got, c.want)
		}
	}
}
