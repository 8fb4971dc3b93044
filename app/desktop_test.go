package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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

// The fault: Earshot.exe started with no DISPLAY (Windows has none) and
// took that for a server without a screen, so it ran the relay alone: no
// tray, no player, nothing on screen.
func TestDisplayPresent(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	none := env(nil)
	for _, c := range []struct {
		goos string
		env  func(string) string
		want bool
	}{
		{"windows", none, true},
		{"darwin", none, true},
		{"linux", none, false},
		{"freebsd", none, false},
		{"linux", env(map[string]string{"DISPLAY": ":0"}), true},
		{"linux", env(map[string]string{"WAYLAND_DISPLAY": "wayland-0"}), true},
	} {
		if got := displayPresent(c.goos, c.env); got != c.want {
			t.Errorf("displayPresent(%s) = %v, want %v", c.goos, got, c.want)
		}
	}
}

// dbusFreeOffLinux are the packages allowed to import godbus in the
// Windows and macOS builds: fyne.io/systray compiles its StatusNotifier
// types everywhere (a file named _unix, which Go does not read as a build
// constraint), yet only its Linux/BSD files connect to a bus; the test
// reads the files each platform compiles to hold it to that.
var dbusFreeOffLinux = map[string]bool{
	"fyne.io/systray": true,
	"fyne.io/systray/internal/generated/notifier": true,
}

// The fault: off Linux, the resident connected to a session bus for
// notifications and MPRIS, and the window program for a tray host; godbus
// there runs dbus-launch (Windows) or asks launchd (macOS), logs a failure
// at every start, and the window program took "no bus" for "no tray" and
// quit Earshot when its window closed. Neither program, for Windows or
// macOS, may have a package of its own that imports godbus.
func TestOffLinuxNothingReachesForDBus(t *testing.T) {
	for _, goos := range []string{"windows", "darwin"} {
		for _, prog := range []string{".", "./ui/cmd/earshot-window"} {
			list := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}\t{{join .Imports \" \"}}", prog)
			list.Dir = ".."
			// CGO_ENABLED=1: the programs as released (the macOS tray and
			// every window are cgo); go list needs no C compiler.
			list.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=1")
			out, err := list.Output()
			if err != nil {
				t.Fatalf("GOOS=%s go list %s: %v", goos, prog, err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Split(line, "\t")
				if len(f) != 4 {
					t.Fatalf("go list printed %q", line)
				}
				pkg, dir, files, imports := f[0], f[1], strings.Fields(f[2]), strings.Fields(f[3])
				if strings.HasPrefix(pkg, "github.com/godbus/") {
					continue
				}
				if pkg == "earshot/ui/mpris" || pkg == "earshot/ui/dbustest" {
					t.Errorf("GOOS=%s %s links %s", goos, prog, pkg)
				}
				if !slicesHasPrefix(imports, "github.com/godbus/") {
					continue
				}
				if !dbusFreeOffLinux[pkg] {
					t.Errorf("GOOS=%s %s: %s imports godbus", goos, prog, pkg)
					continue
				}
				for _, name := range files {
					src, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(string(src), "SessionBus") || strings.Contains(string(src), "dbus.Connect") {
						t.Errorf("GOOS=%s: %s's %s connects to D-Bus", goos, pkg, name)
					}
				}
			}
		}
	}
}

func slicesHasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
