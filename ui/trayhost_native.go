//go:build windows || darwin

package ui

// trayHostPresent: Windows' notification area and the macOS menu bar are
// always there, so closing the window leaves Earshot in the tray rather
// than quitting it (asking a session bus there would fail, and quit).
func trayHostPresent() bool { return true }
