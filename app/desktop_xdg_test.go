//go:build !windows && !darwin

package app

import (
	"testing"

	"earshot/ui/dbustest"
)

func TestTrayHostDetection(t *testing.T) {
	conn, _ := dbustest.Connect(t)
	if nameHasOwner(conn, "org.kde.StatusNotifierWatcher") {
		t.Fatal("a tray host reported on an empty bus")
	}
	if _, err := conn.RequestName("org.kde.StatusNotifierWatcher", 0); err != nil {
		t.Fatal(err)
	}
	if !nameHasOwner(conn, "org.kde.StatusNotifierWatcher") {
		t.Fatal("the tray host was not detected")
	}
}
