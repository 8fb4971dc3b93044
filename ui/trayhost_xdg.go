//go:build !windows && !darwin

package ui

import "github.com/godbus/dbus/v5"

// trayHostPresent reports whether a StatusNotifier host (a tray) is on the
// session bus: without one, a closed window could never be found again.
func trayHostPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
