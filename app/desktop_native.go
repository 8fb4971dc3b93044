//go:build windows || darwin

package app

// trayHostPresent: Windows' notification area and the macOS menu bar are
// always there (fyne.io/systray's native backends draw the icon).
func trayHostPresent() bool { return true }

// sessionBusPresent: the tray needs no D-Bus on Windows or macOS.
func sessionBusPresent() bool { return true }
