//go:build !headless

package app

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/ui/dbustest"
)

// watcher plays a desktop's StatusNotifierWatcher on a private bus and
// records who registers.
type watcher struct{ registered chan string }

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.registered <- string(sender)
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// startPrivateSession starts a dbus-daemon and a throwaway gnome-keyring on
// it and returns the bus address.
func startPrivateSession(t testing.TB, home string) string {
	t.Helper()
	addr := dbustest.Start(t)
	// As build/with-keyring.sh does; the daemon exits with the bus.
	runtime := filepath.Join(home, "run")
	os.MkdirAll(runtime, 0o700)
	kr := exec.Command("gnome-keyring-daemon", "--daemonize", "--unlock", "--components=secrets")
	kr.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_RUNTIME_DIR="+runtime, "HOME="+home)
	kr.Stdin = strings.NewReader("earshot-test")
	if out, err := kr.CombinedOutput(); err != nil {
		t.Fatalf("gnome-keyring-daemon (install with build/deps.sh): %v\n%s", err, out)
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 100 && !nameHasOwner(conn, "org.freedesktop.secrets"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return addr
}

// startXvfb starts a virtual display and returns its name. Xvfb picks a
// free display number itself (-displayfd), so stale sockets and lock files
// left in /tmp by an X server that was killed cannot exhaust a range of
// numbers, and it is stopped with SIGTERM so it removes its own.
func startXvfb(t testing.TB) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w} // fd 3 in the child
	var stderr strings.Builder
	x.Stderr = &stderr
	err = x.Start()
	w.Close()
	if err != nil {
		t.Fatalf("Xvfb (install with build/deps.sh): %v", err)
	}
	exited := make(chan struct{})
	go func() { x.Wait(); close(exited) }()
	t.Cleanup(func() {
		x.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			x.Process.Kill()
			<-exited
		}
	})
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		number <- strings.TrimSpace(line)
	}()
	select {
	case n := <-number:
		if n == "" {
			<-exited
			t.Fatalf("Xvfb did not start:\n%s", stderr.String())
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		x.Process.Kill()
		<-exited // stderr is complete, and no longer written, once Wait returns
		t.Fatalf("Xvfb announced no display within 30 s:\n%s", stderr.String())
	}
	return ""
}

type menuLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// TestTrayRegistersAndItsMenuWorks runs the real app under Xvfb with a
// StatusNotifierWatcher on a private session bus: Earshot registers its
// tray item, the menu read through com.canonical.dbusmenu has the issue's
// items, and clicking "Quit" ends the app. It also reports the cold start
// to tray registration.
func TestTrayRegistersAndItsMenuWorks(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "earshot")
	buildBoth(t, dir)
	addr := startPrivateSession(t, filepath.Join(dir, "home"))
	display := startXvfb(t)

	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &watcher{registered: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}

	alsa := filepath.Join(dir, "asound.conf")
	os.WriteFile(alsa, []byte("pcm.!default { type null }\n"), 0o600)
	runtime := filepath.Join(dir, "run")
	os.MkdirAll(runtime, 0o700)
	app := exec.Command(bin, "--demo", "--listen", "127.0.0.1:0")
	app.Env = append(os.Environ(), "DISPLAY="+display, "DBUS_SESSION_BUS_ADDRESS="+addr,
		"EARSHOT_CONFIG_DIR="+filepath.Join(dir, "config"), "EARSHOT_CACHE_DIR="+filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR="+runtime, "ALSA_CONFIG_PATH="+alsa, "LANG=en_US.UTF-8", "HOME="+filepath.Join(dir, "home"))
	logf, _ := os.Create(filepath.Join(dir, "app.log"))
	app.Stdout, app.Stderr = logf, logf
	start := time.Now()
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- app.Wait() }()
	defer func() {
		app.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			app.Process.Kill()
		}
	}()
	var item string
	select {
	case item = <-w.registered:
		t.Logf("cold start to tray icon registered: %v", time.Since(start).Round(time.Millisecond))
	case err := <-exited:
		b, _ := os.ReadFile(filepath.Join(dir, "app.log"))
		t.Fatalf("app exited before registering its tray item: %v\n%s", err, b)
	case <-time.After(60 * time.Second): // a hang; the figure comes from the log line above
		b, _ := os.ReadFile(filepath.Join(dir, "app.log"))
		t.Fatalf("no tray registration within 60 s\n%s", b)
	}

	menu := conn.Object(item, "/StatusNotifierItem/menu")
	labels := map[string]int32{}
	deadline := time.Now().Add(30 * time.Second)
	for len(labels) < 5 && time.Now().Before(deadline) {
		var rev uint32
		var root menuLayout
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		for _, ch := range root.Children {
			fields, ok := ch.Value().([]any)
			if !ok || len(fields) < 2 {
				continue
			}
			id, _ := fields[0].(int32)
			props, _ := fields[1].(map[string]dbus.Variant)
			if l, ok := props["label"]; ok {
				labels[strings.ReplaceAll(l.Value().(string), "_", "")] = id
			}
		}
		if len(labels) < 5 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, want := range []string{"Open player", "Live", "Pause", "Skip", "Mute", "Copy stream URL", "Manage tokens…", "Quit"} {
		if _, ok := labels[want]; !ok {
			t.Errorf("tray menu lacks %q (has %v)", want, labels)
		}
	}
	// The tooltip says the state and the server.
	deadline = time.Now().Add(30 * time.Second)
	for {
		v, err := conn.Object(item, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err == nil && strings.Contains(fmt.Sprint(v.Value()), "Earshot") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tray tooltip = %v, %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	quit, ok := labels["Quit"]
	if !ok {
		t.FailNow()
	}
	if err := menu.Call("com.canonical.dbusmenu.Event", 0, quit, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		t.Fatalf("click Quit: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the app did not quit from its tray menu")
	}
}

// buildBoth builds the resident (earshot) and the window program
// (earshot-window) side by side into dir, as an install has them.
func buildBoth(t testing.TB, dir string) {
	t.Helper()
	for out, pkg := range map[string]string{"earshot": ".", WindowBinary: "./ui/cmd/earshot-window"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		build.Dir = ".."
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
}
