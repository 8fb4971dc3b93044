// Command icongen draws Earshot's icons into assets/: the app icon
// (icon.png, used by FyneApp.toml and the desktop file) and one tray icon
// per state, from the same code the tray uses at run time.
//
//	go run ./build/icongen
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"earshot/ui/listening"
	"earshot/ui/tray"
)

func main() {
	dir := "assets"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "icongen:", err)
			os.Exit(1)
		}
	}
	write("icon.png", tray.IconPNG(listening.Idle, tray.BrandColor, 512))
	for st := listening.SignedOut; st <= listening.LiveOff; st++ {
		write(fmt.Sprintf("tray-%d-%s.png", st, slug(st.String())), tray.IconPNG(st, tray.StateColor(st), tray.IconSize))
	}
}

func slug(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == ' ' {
			r = '-'
		}
		out = append(out, r)
	}
	return string(out)
}
