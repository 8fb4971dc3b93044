package app

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

func TestTrayHostDetection(t *testing.T) {
	// The socket lives in the test's own directory, which is removed
	// afterwards: a killed daemon leaves its socket behind in /tmp.
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address",
		"--address=unix:dir="+t.TempDir())
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon (install dbus with build/deps.sh): %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dbus.Connect(strings.TrimSpace(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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

// TestHeadlessBuildLinksNoGUI builds with -tags headless and checks with
// ldd that the binary links no GUI or audio library, so `earshot relay`
// runs on servers without X11, GL or ALSA.
func TestHeadlessBuildLinksNoGUI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "earshot")
	build := exec.Command("go", "build", "-tags", "headless", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("headless build: %v\n%s", err, out)
	}
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not a dynamic executable") {
		t.Fatalf("ldd: %v\n%s", err, out)
	}
	for _, lib := range []string{"libGL", "libX11", "libasound", "libwayland", "libxkbcommon"} {
		if strings.Contains(string(out), lib) {
			t.Errorf("the headless binary links %s:\n%s", lib, out)
		}
	}
	v, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(v), "earshot ") {
		t.Fatalf("headless --version: %q, %v", v, err)
	}
}
