//go:build !headless

package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/relay/backend/backendtest"
	"earshot/ui/player/pulsetest"
	"earshot/ui/xvfbtest"
)

// BenchmarkGUIIdle runs the real tray app (under Xvfb, with a
// StatusNotifierWatcher on a private session bus) against a public
// OpenScanner fake that sends no calls, with sound going to a private
// PulseAudio server, and reports the figures:
// cold start to tray icon registered (ms-to-tray), CPU used over the idle
// window with the live feed connected and nothing playing (cpu%), and the
// resident set size at its end (rss-MB, and its anonymous part anon-MB).
//
// In the same run it measures build/idlefloor — the smallest Fyne tray app,
// doing nothing — under the same display and bus (floor-cpu%,
// floor-rss-MB): Fyne 2.7's run loop wakes 60 times a second even when
// idle (fyne-io/fyne#2506), which sets a floor no Fyne app goes below.
// The window is 60 s each; set EARSHOT_IDLE_SECONDS to change it.
//
//	go test -run '^$' -bench GUIIdle -benchtime 1x ./app/
//
// Targets: cpu% ≤ 1, rss-MB ≤ 120, ms-to-tray ≤ 2000.
func BenchmarkGUIIdle(b *testing.B) {
	idle := 60 * time.Second
	if s := os.Getenv("EARSHOT_IDLE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("EARSHOT_IDLE_SECONDS=%q: %v", s, err)
		}
		idle = time.Duration(n) * time.Second
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "earshot")
	floorBin := filepath.Join(dir, "idlefloor")
	buildBoth(b, dir)
	for out, pkg := range map[string]string{floorBin: "./build/idlefloor"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	addr := startPrivateSession(b, filepath.Join(dir, "home"))
	display := xvfbtest.Start(b)
	conn, err := dbus.Connect(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	w := &watcher{registered: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil {
		b.Fatal(err)
	}

	// A quiet public server with some history.
	srv := backendtest.NewServer(backendtest.Options{PublicAccess: true})
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.AddSystem(1, "Harness County")
	srv.AddTalkgroup(1, 101, "Fire Dispatch", "County Fire Dispatch", "Fire", "Dispatch", "red")
	for i := range 20 {
		srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: time.Now().Add(time.Duration(i-20) * time.Minute),
			Audio: backendtest.SynthWAV(2, 440, 8000), AudioName: "call.wav", AudioType: "audio/wav", Duration: 2})
	}
	cfgDir := filepath.Join(dir, "config")
	if err := SaveConfig(cfgDir, &Config{Server: srv.URL()}); err != nil {
		b.Fatal(err)
	}
	alsa := filepath.Join(dir, "asound.conf")
	if err := os.WriteFile(alsa, []byte("pcm.!default { type null }\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	// Sound goes to a real PulseAudio null sink, as on a desktop: it
	// takes audio in real time. (ALSA's null device, the fallback, takes
	// it as fast as it comes, so the output would spin writing silence
	// until the player suspends it, and the figure would show that.)
	runtime := pulsetest.Start(b)
	env := append(os.Environ(), "DISPLAY="+display, "DBUS_SESSION_BUS_ADDRESS="+addr,
		"EARSHOT_CONFIG_DIR="+cfgDir, "EARSHOT_CACHE_DIR="+filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR="+runtime, "ALSA_CONFIG_PATH="+alsa, "LANG=en_US.UTF-8", "HOME="+filepath.Join(dir, "home"))

	b.ResetTimer()
	cpu, rss, anon, startup := runIdle(b, w, env, idle, bin, "--listen", "127.0.0.1:0")
	if c := srv.Counters(); c.WSConnects == 0 {
		b.Fatal("the app never connected to the live feed")
	}
	floorCPU, floorRSS, _, _ := runIdle(b, w, env, idle, floorBin)
	b.StopTimer()
	b.ReportMetric(float64(startup.Milliseconds()), "ms-to-tray")
	b.ReportMetric(cpu, "cpu%")
	b.ReportMetric(rss, "rss-MB")
	// The anonymous part is the process's own memory; the rest is mapped
	// files (the binary, and under Xvfb Mesa's llvmpipe: libLLVM alone is
	// about 45 MB), shared with every other GL program.
	b.ReportMetric(anon, "anon-MB")
	b.ReportMetric(floorCPU, "floor-cpu%")
	b.ReportMetric(floorRSS, "floor-rss-MB")
}

// runIdle starts a tray program, waits for its tray item to register,
// lets start-up work finish, then measures it over the idle window: CPU %,
// RSS and its anonymous part (MB), and the time to the tray icon.
func runIdle(b *testing.B, w *watcher, env []string, idle time.Duration, bin string, args ...string) (cpu, rss, anon float64, startup time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	select {
	case <-w.registered:
		startup = time.Since(start)
	case err := <-exited:
		b.Fatalf("%s exited before registering its tray item: %v\n%s", filepath.Base(bin), err, log.String())
	case <-time.After(60 * time.Second):
		b.Fatalf("%s: no tray registration within 60 s\n%s", filepath.Base(bin), log.String())
	}
	// Let start-up work (history, cache, first paint) finish, then measure.
	time.Sleep(5 * time.Second)
	pid := cmd.Process.Pid
	before := cpuTicks(b, pid)
	t0 := time.Now()
	time.Sleep(idle)
	used := float64(cpuTicks(b, pid)-before) / clockTicks
	cpu = 100 * used / time.Since(t0).Seconds()
	return cpu, float64(statusKB(b, pid, "VmRSS")) / 1024, float64(statusKB(b, pid, "RssAnon")) / 1024, startup
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// cpuTicks is the process's user+system CPU time in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at state.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// statusKB reads a memory figure (VmRSS, RssAnon…) of the process.
func statusKB(b *testing.B, pid int, field string) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
