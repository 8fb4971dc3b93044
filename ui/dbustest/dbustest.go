// Package dbustest runs a private D-Bus session bus for tests and
// benchmarks: a real dbus-daemon, as a desktop has, on which a test can
// play the desktop's services (a tray host, a notification service) and
// watch what the code under test sends.
//
// It owns only that daemon's lifetime: it must not touch the user's own
// session bus (the socket lives in the test's temporary directory), and the
// daemon is stopped when the test ends.
package dbustest

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// Start runs a session bus and returns its address
// (for DBUS_SESSION_BUS_ADDRESS).
func Start(tb testing.TB) string {
	tb.Helper()
	// The socket lives in the test's own directory, which is removed
	// afterwards: a killed daemon leaves its socket behind in /tmp.
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address",
		"--address=unix:dir="+tb.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("dbus-daemon (install dbus with build/deps.sh): %v", err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(addr)
}

// Connect starts a session bus and connects to it; the connection is
// closed when the test ends.
func Connect(tb testing.TB) (*dbus.Conn, string) {
	tb.Helper()
	addr := Start(tb)
	conn, err := dbus.Connect(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn, addr
}
