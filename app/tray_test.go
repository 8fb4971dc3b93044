//go:build !headless && linux

package app

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/ui/dbustest"
	"earshot/ui/player/pulsetest"
	"earshot/ui/xvfbtest"
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

type menuLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// desktop is a desktop session for the real programs: Xvfb, a private
// session bus with a throwaway keyring and a panel's StatusNotifierWatcher,
// and earshot and earshot-window built side by side, as installed.
type desktop struct {
	dir     string
	bin     string // earshot
	display string
	conn    *dbus.Conn
	w       *watcher
	env     []string
	runs    int // programs started, naming their logs
}

// newDesktop sets one up. With pulse, sound goes to a private PulseAudio
// null sink (real time, as on a desktop); otherwise to ALSA's null device.
func newDesktop(tb testing.TB, pulse bool) *desktop {
	tb.Helper()
	d := &desktop{dir: tb.TempDir()}
	d.bin = filepath.Join(d.dir, "earshot")
	buildBoth(tb, d.dir)
	addr := startPrivateSession(tb, filepath.Join(d.dir, "home"))
	d.display = xvfbtest.Start(tb)
	conn, err := dbus.Connect(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	d.conn = conn
	d.w = &watcher{registered: make(chan string, 8)}
	if err := conn.Export(d.w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil {
		tb.Fatal(err)
	}
	alsa := filepath.Join(d.dir, "asound.conf")
	if err := os.WriteFile(alsa, []byte("pcm.!default { type null }\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	runtime := filepath.Join(d.dir, "run")
	if pulse {
		runtime = pulsetest.Start(tb)
	} else if err := os.MkdirAll(runtime, 0o700); err != nil {
		tb.Fatal(err)
	}
	d.env = append(os.Environ(), "DISPLAY="+d.display, "DBUS_SESSION_BUS_ADDRESS="+addr,
		"EARSHOT_CONFIG_DIR="+d.configDir(), "EARSHOT_CACHE_DIR="+filepath.Join(d.dir, "cache"),
		"XDG_RUNTIME_DIR="+runtime, "ALSA_CONFIG_PATH="+alsa, "LANG=en_US.UTF-8", "HOME="+filepath.Join(d.dir, "home"))
	return d
}

func (d *desktop) configDir() string { return filepath.Join(d.dir, "config") }

// program is one program started on the desktop.
type program struct {
	cmd   *exec.Cmd
	log   string        // its output
	done  chan struct{} // closed when it exited
	err   error         // how it exited, once done
	item  string        // its tray item's bus name, once registered
	start time.Time
}

// run starts bin on the desktop; it is stopped (SIGTERM, then killed) when
// the test ends.
func (d *desktop) run(tb testing.TB, bin string, args ...string) *program {
	tb.Helper()
	p := &program{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = d.env
	d.runs++
	p.log = filepath.Join(d.dir, filepath.Base(bin)+"-"+strconv.Itoa(d.runs)+".log")
	f, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("%s's output:\n%s", filepath.Base(bin), p.output())
		}
	})
	return p
}

// stop ends the program (SIGTERM, killed after 10 s) and waits for it.
func (p *program) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *program) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// registered waits for the program's tray item and returns the time from
// its start.
func (d *desktop) registered(tb testing.TB, p *program) time.Duration {
	tb.Helper()
	select {
	case p.item = <-d.w.registered:
		return time.Since(p.start)
	case <-p.done:
		tb.Fatalf("%s exited before registering its tray item: %v\n%s", p.cmd.Path, p.err, p.output())
	case <-time.After(60 * time.Second): // a hang guard
		tb.Fatalf("%s: no tray registration within 60 s\n%s", p.cmd.Path, p.output())
	}
	return 0
}

// menu reads the program's tray menu as a panel does: label → item id.
func (d *desktop) menu(tb testing.TB, p *program) map[string]int32 {
	tb.Helper()
	var rev uint32
	var root menuLayout
	if err := d.conn.Object(p.item, "/StatusNotifierItem/menu").
		Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		tb.Fatalf("GetLayout: %v", err)
	}
	labels := map[string]int32{}
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
	return labels
}

// click clicks the tray menu's item labelled label.
func (d *desktop) click(tb testing.TB, p *program, label string) {
	tb.Helper()
	var id int32
	waitUntil(tb, "the tray menu has "+label, func() bool {
		var ok bool
		id, ok = d.menu(tb, p)[label]
		return ok
	})
	if err := d.conn.Object(p.item, "/StatusNotifierItem/menu").
		Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		tb.Fatalf("click %s: %v", label, err)
	}
}

// tooltip is the program's tray tooltip text.
func (d *desktop) tooltip(p *program) string {
	v, err := d.conn.Object(p.item, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.ToolTip")
	if err != nil {
		return ""
	}
	return fmt.Sprint(v.Value())
}

// windowProcess returns the pid of pid's earshot-window child (0: none).
func windowProcess(pid int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(stat[end+2:]))
		if string(stat[open+1:end]) == WindowBinary && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return child
		}
	}
	return 0
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	end := bytes.LastIndexByte(stat, ')')
	return end > 0 && len(stat) > end+2 && stat[end+2] != 'Z'
}

// xWindow reports whether a viewable X window's name matches pattern
// (xdotool search --onlyvisible --name).
func (d *desktop) xWindow(pattern string) bool {
	cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", pattern)
	cmd.Env = append(os.Environ(), "DISPLAY="+d.display)
	out, err := cmd.Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// closeWindow presses Ctrl+W in the viewable window named like pattern
// (XTEST, as a keyboard does).
func (d *desktop) closeWindow(tb testing.TB, pattern string) {
	tb.Helper()
	cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", pattern,
		"windowfocus", "--sync", "%1", "key", "--clearmodifiers", "ctrl+w")
	cmd.Env = append(os.Environ(), "DISPLAY="+d.display)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("xdotool: %v\n%s", err, out)
	}
}

// waitUntil waits for cond (a hang guard of 60 s, not a timing).
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("never: %s", what)
		}
	}
}

// TestTrayRegistersAndItsMenuWorks runs the real app under Xvfb with a
// StatusNotifierWatcher on a private session bus: Earshot registers its
// tray item, the menu read through com.canonical.dbusmenu has the issue's
// items, and clicking "Quit" ends the app. It also reports the cold start
// to tray registration.
func TestTrayRegistersAndItsMenuWorks(t *testing.T) {
	d := newDesktop(t, false)
	app := d.run(t, d.bin, "--demo", "--listen", "127.0.0.1:0")
	t.Logf("cold start to tray icon registered: %v", d.registered(t, app).Round(time.Millisecond))
	// The menu is built an item at a time (a panel reads it again on each
	// LayoutUpdated): wait for the whole of it, not for its first items.
	items := []string{"Open player", "Live", "Pause", "Skip", "Mute", "Copy stream URL", "Manage tokens…", "Quit"}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) { // a hang guard
		labels := d.menu(t, app)
		var missing []string
		for _, want := range items {
			if _, ok := labels[want]; !ok {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tray menu lacks %q (has %v)", missing, labels)
		}
	}
	// The tooltip says the state and the server.
	waitUntil(t, "a tooltip naming Earshot", func() bool { return strings.Contains(d.tooltip(app), "Earshot") })

	// Copy stream URL: the copy is the desktop clipboard program's, so it
	// pastes while no window is open, and even after Earshot quit.
	info, err := readRunning(d.configDir())
	if err != nil {
		t.Fatal(err)
	}
	want := "http://" + info.Addr + "/v1/stream.mp3?token="
	d.click(t, app, "Copy stream URL")
	waitUntil(t, "the stream URL on the clipboard", func() bool { return strings.HasPrefix(d.paste(), want) })
	d.click(t, app, "Quit")
	select {
	case <-app.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the app did not quit from its tray menu")
	}
	if got := d.paste(); !strings.HasPrefix(got, want) {
		t.Fatalf("after Earshot quit the clipboard holds %q", got)
	}
}

// paste reads the display's clipboard, as pasting in another program does.
func (d *desktop) paste() string {
	cmd := exec.Command("xclip", "-selection", "clipboard", "-out")
	cmd.Env = append(os.Environ(), "DISPLAY="+d.display)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// The window process is only a view: killing it never stops playback or
// the relay, and the tray opens a new one; when the resident process dies
// (killed, so it cannot tidy up), the window says so and closes.
func TestWindowProcessDiesAloneAndOutlivesNoResident(t *testing.T) {
	d := newDesktop(t, true)
	app := d.run(t, d.bin, "--demo", "--listen", "127.0.0.1:0", "-v")
	d.registered(t, app)
	pid := app.cmd.Process.Pid
	// First run, no account: the playback window opens by itself.
	var win int
	waitUntil(t, "the first run's window process", func() bool { win = windowProcess(pid); return win != 0 })
	waitUntil(t, "the playback window drawn", func() bool { return d.xWindow("^Earshot$") })
	info, err := readRunning(d.configDir())
	if err != nil {
		t.Fatal(err)
	}
	health := func() bool {
		resp, err := http.Get("http://" + info.Addr + "/v1/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	if err := syscall.Kill(win, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the killed window process gone", func() bool { return !alive(win) })
	// The demo sends a call every few seconds: the tray keeps naming new
	// ones, so the listening core still plays.
	playing := map[string]bool{}
	waitUntil(t, "two calls played after the window was killed", func() bool {
		if tip := d.tooltip(app); strings.Contains(tip, "playing") {
			playing[tip] = true
		}
		return len(playing) >= 2
	})
	select {
	case <-app.done:
		t.Fatalf("Earshot exited when its window process was killed: %v\n%s", app.err, app.output())
	default:
	}
	if !health() {
		t.Fatal("the relay stopped answering when the window process was killed")
	}

	d.click(t, app, "Open player")
	var again int
	waitUntil(t, "a new window process from the tray", func() bool { again = windowProcess(pid); return again != 0 && again != win })
	waitUntil(t, "the playback window drawn again", func() bool { return d.xWindow("^Earshot$") })
	// The process that drew it: a display that refused the first one for
	// a moment is asked once more, by a newer process.
	waitUntil(t, "the window process that drew it", func() bool { again = windowProcess(pid); return again != 0 })

	// Closed (Ctrl+W) and opened again at once, while the resident has not
	// yet seen the old process end: the fault was a click that went to the
	// ending process and showed nothing.
	d.closeWindow(t, "^Earshot$")
	for deadline := time.Now().Add(30 * time.Second); alive(again); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard
			syscall.Kill(again, syscall.SIGQUIT) // its goroutines, to earshot's log
			time.Sleep(2 * time.Second)
			t.Fatal("the closed window's process did not end (its goroutines are in earshot's output)")
		}
	}
	d.click(t, app, "Open player")
	closed := again
	waitUntil(t, "a window process after close and reopen", func() bool {
		again = windowProcess(pid)
		return again != 0 && again != closed
	})
	waitUntil(t, "the playback window drawn after close and reopen", func() bool { return d.xWindow("^Earshot$") })

	// The resident dies.
	if err := app.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(again, syscall.SIGKILL) // if it outlived the test
	waitUntil(t, "the window saying Earshot stopped", func() bool { return !alive(again) || d.xWindow("stopped") })
	if !alive(again) {
		t.Fatal("the window closed without saying Earshot had stopped")
	}
	waitUntil(t, "the window process gone after its resident died", func() bool { return !alive(again) })
}

// buildBoth builds the resident (earshot) and the window program
// (earshot-window) side by side into dir, as an install has them, with
// build/build.sh (which knows their build flags).
func buildBoth(t testing.TB, dir string) {
	t.Helper()
	build := exec.Command("build/build.sh", dir)
	build.Dir = ".."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build/build.sh: %v\n%s", err, b)
	}
}

// windowStarts counts the window processes the resident (run with -v) says
// it started.
func windowStarts(p *program) int { return strings.Count(p.output(), "window process started") }

// With no display the window program died with a raw panic, and nothing
// told the listener. The resident must say why (a notification, and the
// tray's tooltip until a window opens), not start it again in a loop, and
// try again when Open player is clicked.
func TestNoDisplayForTheWindowIsToldAndNotRetried(t *testing.T) {
	d := newDesktop(t, false)
	// The session's X server is gone, its tray host (D-Bus) is not.
	dead := xvfbtest.Dead(t)
	for i, kv := range d.env {
		if strings.HasPrefix(kv, "DISPLAY=") {
			d.env[i] = "DISPLAY=" + dead
		}
	}
	desk := &desktopNotifications{conn: d.conn}
	if err := d.conn.Export(desk, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	notices := func() []shownNotice {
		desk.mu.Lock()
		defer desk.mu.Unlock()
		return slices.Clone(desk.shown)
	}
	app := d.run(t, d.bin, "--demo", "--listen", "127.0.0.1:0", "-v")
	d.registered(t, app)
	why := "Earshot cannot open a window: no display (DISPLAY=" + dead + " cannot be reached)"
	body := "No display (DISPLAY=" + dead + " cannot be reached). Open player in the tray tries again."
	// First run, no account: Earshot asks for the playback window itself.
	waitUntil(t, "the tooltip saying why no window opens", func() bool { return strings.Contains(d.tooltip(app), why) })
	waitUntil(t, "a notification saying why", func() bool { return len(notices()) == 1 })
	if n := notices()[0]; n.title != "Earshot cannot open a window" || n.body != body {
		t.Fatalf("the notification says %q: %q", n.title, n.body)
	}
	// No loop: the failed window program is not started again by itself.
	// (What is watched is a count, over a span long enough for a retry
	// loop to show: no timing is asserted.)
	time.Sleep(3 * time.Second)
	if n := windowStarts(app); n != 1 {
		t.Fatalf("the window program was started %d times for one window\n%s", n, app.output())
	}
	if strings.Contains(app.output(), "panic:") || strings.Contains(app.output(), "goroutine ") {
		t.Fatalf("a raw panic reached the log:\n%s", app.output())
	}
	// Open player tries again (once), and says why again.
	d.click(t, app, "Open player")
	waitUntil(t, "a second notification after Open player", func() bool { return len(notices()) == 2 })
	time.Sleep(2 * time.Second)
	if n := windowStarts(app); n != 2 {
		t.Fatalf("after one Open player the window program was started %d times in all\n%s", n, app.output())
	}
	if !strings.Contains(d.tooltip(app), why) {
		t.Fatalf("the tooltip stopped saying why: %q", d.tooltip(app))
	}
	select {
	case <-app.done:
		t.Fatalf("Earshot exited: %v\n%s", app.err, app.output())
	default:
	}
}

// Under the common LANG=C.UTF-8 the window program printed Fyne's
// "Fyne error: Error parsing user locale C … language: tag is not
// well-formed" with a source path each time it started. Started as the
// resident starts it (windowEnv) it prints only its own words.
func TestTheWindowProgramSaysNothingOfFyneUnderTheCLocale(t *testing.T) {
	dir := t.TempDir()
	buildBoth(t, dir)
	dead := xvfbtest.Dead(t)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANGUAGE=") &&
			!strings.HasPrefix(kv, "DISPLAY=") {
			base = append(base, kv)
		}
	}
	base = append(base, "LANG=C.UTF-8", "DISPLAY="+dead)
	run := func(env []string) string {
		cmd := exec.Command(filepath.Join(dir, WindowBinary))
		cmd.Env = env
		cmd.Stdin = strings.NewReader("")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // it cannot open a window: exit status 3
		return stderr.String()
	}
	if raw := run(base); !strings.Contains(raw, "Fyne error") {
		t.Logf("Fyne no longer complains of LANG=C.UTF-8 by itself:\n%s", raw)
	}
	got := run(windowEnv(base, false))
	if strings.Contains(got, "Fyne error") || strings.Contains(got, "locale") {
		t.Errorf("started as the resident starts it, the window program printed Fyne's locale error:\n%s", got)
	}
	if !strings.Contains(got, "Earshot cannot open a window") {
		t.Errorf("it did not say why it showed no window:\n%s", got)
	}
}
