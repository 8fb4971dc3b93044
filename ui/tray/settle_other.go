//go:build !(linux || freebsd || openbsd || netbsd) || android

package tray

import "context"

// settle: on Windows and macOS fyne.io/systray sets the icon and tooltip
// on the native item directly, with no export to race (see settle_unix.go).
func settle(context.Context, *Tray) {}
