//go:build !windows && !darwin

package app

import (
	"github.com/godbus/dbus/v5"
)

func nameHasOwner(conn *dbus.Conn, name string) bool {
	var has bool
	err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}

// trayHostPresent reports whether a StatusNotifier host (a tray) is on the
// session bus: without one, a hidden window could never be found again.
func trayHostPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	return nameHasOwner(conn, "org.kde.StatusNotifierWatcher")
}

// sessionBusPresent reports whether a session bus answers: the tray icon
// is set up only then (a tray host that starts later finds it there), and
// never without one (fyne#6403).
func sessionBusPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
