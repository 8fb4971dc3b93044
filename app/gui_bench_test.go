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
)

// BenchmarkGUIIdle runs the real tray app (under Xvfb, with a
// StatusNotifierWatcher on a private session bus) against a public
// OpenScanner fake that sends no calls, and reports the figures:
// cold start to tray icon registered (ms-to-tray), CPU used over the idle
// window with the live feed connected and nothing playing (cpu%), and the
// resident set size at its end (rss-MB, and its anonymous part anon-MB). The window is 60 s; set
// EARSHOT_IDLE_SECONDS to change it.
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
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	addr := startPrivateSession(b, filepath.Join(dir, "home"))
	display := startXvfb(b)
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
	os.WriteFile(alsa, []byte("pcm.!default { type null }\n"), 0o600)
	runtime := filepath.Join(dir, "run")
	os.MkdirAll(runtime, 0o700)
	b.ResetTimer()
	app := exec.Command(bin, "--listen", "127.0.0.1:0")
	app.Env = append(os.Environ(), "DISPLAY="+display, "DBUS_SESSION_BUS_ADDRESS="+addr,
		"EARSHOT_CONFIG_DIR="+cfgDir, "EARSHOT_CACHE_DIR="+filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR="+runtime, "ALSA_CONFIG_PATH="+alsa, "LANG=en_US.UTF-8", "HOME="+filepath.Join(dir, "home"))
	var log bytes.Buffer
	app.Stdout, app.Stderr = &log, &log
	start := time.Now()
	if err := app.Start(); err != nil {
		b.Fatal(err)
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
	select {
	case <-w.registered:
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-tray")
	case err := <-exited:
		b.Fatalf("app exited before registering its tray item: %v\n%s", err, log.String())
	case <-time.After(60 * time.Second):
		b.Fatalf("no tray registration within 60 s\n%s", log.String())
	}
	// Let start-up work (history, cache, first paint) finish, then measure.
	time.Sleep(5 * time.Second)
	before := cpuTicks(b, app.Process.Pid)
	t0 := time.Now()
	threads := func() map[string]int64 {
		m := map[string]int64{}
		ents, _ := os.ReadDir("/proc/" + strconv.Itoa(app.Process.Pid) + "/task")
		for _, e := range ents {
			raw, _ := os.ReadFile("/proc/" + strconv.Itoa(app.Process.Pid) + "/task/" + e.Name() + "/stat")
			comm := string(raw[bytes.IndexByte(raw, '(')+1 : bytes.LastIndexByte(raw, ')')])
			f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			m[e.Name()+" "+comm] = u + st
		}
		return m
	}
	tb := threads()
	time.Sleep(idle)
	for k, v := range threads() {
		if v-tb[k] > 0 {
			b.Logf("thread %s: %d ticks", k, v-tb[k])
		}
	}
	used := float64(cpuTicks(b, app.Process.Pid)-before) / clockTicks
	b.ReportMetric(100*used/time.Since(t0).Seconds(), "cpu%")
	b.ReportMetric(float64(statusKB(b, app.Process.Pid, "VmRSS"))/1024, "rss-MB")
	// The anonymous part is the process's own memory; the rest is mapped
	// files (the binary, and under Xvfb Mesa's llvmpipe: libLLVM alone is
	// about 55 MB), shared with every other GL program.
	b.ReportMetric(float64(statusKB(b, app.Process.Pid, "RssAnon"))/1024, "anon-MB")
	b.StopTimer()
	if c := srv.Counters(); c.WSConnects == 0 {
		b.Fatalf("the app never connected to the live feed\n%s", log.String())
	}
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
