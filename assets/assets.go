// Package assets holds Earshot's image files, drawn by build/icongen: the
// app icon (packaging, window icon) and the tray icon for each state.
//
// It owns the embedded bytes only; it must not draw (ui.IconPNG does, and a
// ui test checks these files still match what it draws).
package assets

import (
	"embed"
	"fmt"
	"io/fs"
)

// IconPNG is the app icon, 512×512.
//
//go:embed icon.png
var IconPNG []byte

//go:embed tray-*.png
var tray embed.FS

// TrayPNG returns the 64×64 tray icon for state n (the file
// tray-N-<state>.png: 0 signed out, 1 connecting, 2 live, 3 playing,
// 4 paused, 5 problem), or nil if there is none.
func TrayPNG(n int) []byte {
	names, _ := fs.Glob(tray, fmt.Sprintf("tray-%d-*.png", n))
	if len(names) != 1 {
		return nil
	}
	b, err := tray.ReadFile(names[0])
	if err != nil {
		return nil
	}
	return b
}
