//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"bytes"
	"context"
	"image"
	_ "image/png" // the icons are PNG
	"log/slog"
	"runtime"
	"time"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// settleBound is how long settle keeps checking the item on the bus: a
// bound on a hang (no bus, an item never exported), not a timing target.
const settleBound = 2 * time.Minute

// settle makes the item on the session bus show what the tray last set.
//
// fyne.io/systray (v1.12.2) runs the ready callback before it exports the
// item, and reads the title, icon and tooltip for the exported properties
// before it records that they exist: a SetTooltip or SetIcon between the
// two is kept in memory but never reaches the bus, so a panel showed an
// empty tooltip and the default icon until the state next changed (about
// one start in twenty). settle reads the item's own properties through the
// bus and, while they differ from what was set, sets them again; once the
// item is live a set lands, so this ends at the first check on every other
// start and adds no signal there.
func settle(ctx context.Context, t *Tray) {
	conn, err := dbus.SessionBus()
	if err != nil {
		return // Run needs the bus: fyne.io/systray logs its own failure
	}
	names := conn.Names()
	if len(names) == 0 {
		return
	}
	item := conn.Object(names[0], "/StatusNotifierItem")
	read := func(prop string) (dbus.Variant, bool) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var v dbus.Variant
		err := item.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.kde.StatusNotifierItem", prop).Store(&v)
		return v, err == nil
	}
	deadline := time.NewTimer(settleBound)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			slog.Warn("the tray icon's tooltip may be out of date: its item never showed on the session bus")
			return
		case <-tick.C:
		}
		wantTip, wantIcon, sets, shown := t.shownIconTooltip()
		if !shown {
			continue // nothing set yet
		}
		title, ok := read("Title")
		if !ok {
			continue // not exported yet
		}
		tip, ok := read("ToolTip")
		if !ok {
			continue
		}
		pixmap, ok := read("IconPixmap")
		if !ok {
			continue
		}
		if _, _, now, _ := t.shownIconTooltip(); now != sets {
			continue // the state changed meanwhile: what was read may be either
		}
		if s, _ := title.Value().(string); s != trayTitle {
			systray.SetTitle(trayTitle)
			continue
		}
		if tooltipTitle(tip) != hostTooltip(runtime.GOOS, wantTip) || !samePixmap(pixmap, wantIcon) {
			t.reassert()
			continue
		}
		return
	}
}

// samePixmap says whether v, a StatusNotifierItem IconPixmap value, holds
// the image of png as fyne.io/systray converts it (one ARGB pixmap).
func samePixmap(v dbus.Variant, png []byte) bool {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return true // nothing to compare with: fyne.io/systray sends none either
	}
	maps, _ := v.Value().([][]any) // a(iiay)
	if len(maps) != 1 || len(maps[0]) != 3 {
		return false
	}
	w, _ := maps[0][0].(int32)
	h, _ := maps[0][1].(int32)
	pix, _ := maps[0][2].([]byte)
	b := img.Bounds()
	if int(w) != b.Dx() || int(h) != b.Dy() || len(pix) != 4*b.Dx()*b.Dy() {
		return false
	}
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if !bytes.Equal(pix[i:i+4], []byte{byte(a), byte(r), byte(g), byte(bl)}) {
				return false
			}
			i += 4
		}
	}
	return true
}

// tooltipTitle is the text of a StatusNotifierItem ToolTip value (icon
// name, icon pixmaps, title, description).
func tooltipTitle(v dbus.Variant) string {
	f, _ := v.Value().([]any)
	if len(f) < 3 {
		return ""
	}
	s, _ := f[2].(string)
	return s
}
