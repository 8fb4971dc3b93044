package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// The resident program (what `earshot` starts and the desktop autostarts)
// links no Fyne, so it has no GL loop to wake it and needs no cgo on Linux;
// commands that show no window never touch Fyne.
func TestResidentLinksNoFyneAndBuildsWithoutCgo(t *testing.T) {
	list := exec.Command("go", "list", "-deps", ".")
	list.Dir = ".."
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "fyne.io/fyne") {
			t.Errorf("the resident program imports %s", dep)
		}
	}
	bin := filepath.Join(t.TempDir(), "earshot")
	for _, goos := range []string{"windows", "linux"} { // linux last: it is run below
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = ".."
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos)
		if out, err := build.CombinedOutput(); err != nil {
			t.Errorf("CGO_ENABLED=0 GOOS=%s go build: %v\n%s", goos, err, out)
		}
	}
	// The fault: under the common LANG=C.UTF-8, commands that show no
	// window printed Fyne's "language: tag is not well-formed" error.
	for _, args := range [][]string{{"--version"}, {"token", "list"}, {"help"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "EARSHOT_CONFIG_DIR="+t.TempDir(), "EARSHOT_CACHE_DIR="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "language") || strings.Contains(strings.ToLower(string(out)), "fyne") {
			t.Errorf("`earshot %s` under LANG=C.UTF-8 says:\n%s", strings.Join(args, " "), out)
		}
	}
}
