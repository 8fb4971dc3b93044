package tray

import (
	"bytes"
	"encoding/binary"
	"testing"

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
