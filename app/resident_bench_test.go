//go:build !headless && linux

package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
)

// BenchmarkResident runs the real programs on a desktop (Xvfb, a private
// session bus with a panel's StatusNotifierWatcher, sound to a private
// PulseAudio null sink) against a public OpenScanner fake that sends no
// calls, and reports the figures in one run:
//
//   - ms-to-tray: the resident's cold start to its tray item registered;
//   - cpu%, pss-MB (and rss-MB): the resident over the idle window, live
//     feed connected, nothing playing, no window (PSS from
//     /proc/PID/smaps_rollup: shared pages counted once among their users);
//   - systray-cpu%, systray-pss-MB: build/systrayfloor, a bare
//     fyne.io/systray process with the same menu, measured the same way;
//   - floor-cpu%, floor-pss-MB: build/idlefloor, the smallest Fyne tray
//     app (Fyne 2.7's run loop wakes 60 times a second: fyne-io/fyne#2506);
//   - open-ms: tray "Open player" clicked → the playback window viewable
//     (median of EARSHOT_OPENS, 5 by default), each a new window process;
//   - window-pss-MB (window-anon-MB its own memory): that process with the
//     playback window open, a few seconds after it is on screen;
//   - floor-window-pss-MB: build/idlefloor -show, the Fyne floor with a
//     window of the same size open, measured the same way;
//   - close-ms: Ctrl+W → the window process gone (median).
//
// The idle window is 60 s each; set EARSHOT_IDLE_SECONDS to change it.
//
//	go test -run '^$' -bench Resident -benchtime 1x ./app/
//
// Targets: cpu% ≤ 0.1, pss-MB ≤ 40, window-pss-MB ≤ floor-window-pss-MB + 15,
// open-ms ≤ 700, close-ms ≤ 1000.
func BenchmarkResident(b *testing.B) {
	idle := envSeconds(b, "EARSHOT_IDLE_SECONDS", 60)
	opens := int(envSeconds(b, "EARSHOT_OPENS", 5) / time.Second)
	d := newDesktop(b, true)
	floors := map[string]string{"idlefloor": "./build/idlefloor", "systrayfloor": "./build/systrayfloor"}
	for out, pkg := range floors {
		build := exec.Command("go", "build", "-o", filepath.Join(d.dir, out), pkg)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
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
	// An account (a public server): no first-run window.
	if err := SaveConfig(d.configDir(), &Config{Server: srv.URL()}); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	app := d.run(b, d.bin, "--listen", "127.0.0.1:0", "-v")
	defer func() {
		if dst := os.Getenv("EARSHOT_BENCH_LOG"); dst != "" {
			_ = os.WriteFile(dst, []byte(app.output()), 0o600)
		}
		if b.Failed() {
			cmd := exec.Command("xwininfo", "-root", "-tree")
			cmd.Env = append(os.Environ(), "DISPLAY="+d.display)
			tree, _ := cmd.CombinedOutput()
			b.Logf("earshot's log:\n%s\nwindows:\n%s", app.output(), tree)
		}
	}()
	startup := d.registered(b, app)
	waitUntil(b, "the live feed connected", func() bool { return srv.Counters().WSConnects > 0 })
	cpu, pss, rss := measureIdle(b, app.cmd.Process.Pid, idle)
	if w := windowProcess(app.cmd.Process.Pid); w != 0 {
		b.Fatalf("a window process (%d) ran while the resident was measured", w)
	}

	var openMS, closeMS []float64
	var windowPSS, windowAnon float64
	for i := range opens {
		prev := windowProcess(app.cmd.Process.Pid)
		t0 := time.Now()
		d.click(b, app, "Open player")
		waitUntil(b, "the playback window viewable", func() bool { return d.xWindow("^Earshot$") })
		openMS = append(openMS, float64(time.Since(t0).Microseconds())/1000)
		win := windowProcess(app.cmd.Process.Pid)
		if win == 0 || win == prev {
			b.Fatalf("open %d: no new window process", i)
		}
		if i == 0 {
			time.Sleep(3 * time.Second) // let it settle: first paint, history, talkgroups
			windowPSS, windowAnon = smapsMB(b, win, "Pss"), smapsMB(b, win, "Anonymous")
		}
		d.closeWindow(b, "^Earshot$")
		t1 := time.Now()
		waitUntil(b, "the window process gone", func() bool { return !alive(win) })
		closeMS = append(closeMS, float64(time.Since(t1).Microseconds())/1000)
	}
	app.stop()

	floorResults := map[string][2]float64{}
	for name := range floors {
		p := d.run(b, filepath.Join(d.dir, name))
		d.registered(b, p)
		c, pss, _ := measureIdle(b, p.cmd.Process.Pid, idle)
		floorResults[name] = [2]float64{c, pss}
		p.stop()
	}
	// The Fyne floor with a window open, measured as the window process
	// is: a few seconds after it is on screen.
	shown := d.run(b, filepath.Join(d.dir, "idlefloor"), "-show")
	d.registered(b, shown)
	waitUntil(b, "the floor's window viewable", func() bool { return d.xWindow("^Idle floor$") })
	time.Sleep(3 * time.Second)
	floorWindowPSS := smapsMB(b, shown.cmd.Process.Pid, "Pss")
	shown.stop()
	b.StopTimer()
	b.ReportMetric(float64(startup.Milliseconds()), "ms-to-tray")
	b.ReportMetric(cpu, "cpu%")
	b.ReportMetric(pss, "pss-MB")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(floorResults["systrayfloor"][0], "systray-cpu%")
	b.ReportMetric(floorResults["systrayfloor"][1], "systray-pss-MB")
	b.ReportMetric(floorResults["idlefloor"][0], "floor-cpu%")
	b.ReportMetric(floorResults["idlefloor"][1], "floor-pss-MB")
	b.ReportMetric(median(openMS), "open-ms")
	b.ReportMetric(windowPSS, "window-pss-MB")
	b.ReportMetric(windowAnon, "window-anon-MB")
	b.ReportMetric(floorWindowPSS, "floor-window-pss-MB")
	b.ReportMetric(median(closeMS), "close-ms")
	b.Logf("open ms %v, close ms %v", openMS, closeMS)
}

// measureIdle lets start-up work finish, then measures pid over idle: CPU
// (% of one core), and at the end PSS and RSS (MB).
func measureIdle(b *testing.B, pid int, idle time.Duration) (cpu, pss, rss float64) {
	b.Helper()
	time.Sleep(5 * time.Second)
	before := cpuTicks(b, pid)
	t0 := time.Now()
	time.Sleep(idle)
	used := float64(cpuTicks(b, pid)-before) / clockTicks
	cpu = 100 * used / time.Since(t0).Seconds()
	return cpu, smapsMB(b, pid, "Pss"), smapsMB(b, pid, "Rss")
}

func envSeconds(b *testing.B, name string, def int) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return time.Duration(def) * time.Second
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return time.Duration(n) * time.Second
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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

// smapsMB reads a memory figure (Pss, Rss, Anonymous…) of the process from
// /proc/PID/smaps_rollup, in MB.
func smapsMB(b *testing.B, pid int, field string) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return float64(n) / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/smaps_rollup", field, pid)
	return 0
}
