// Package pulsetest runs a private PulseAudio server with only a null sink
// for tests and benchmarks: a real sound server that plays in real time,
// as on a desktop (PulseAudio, or PipeWire's pulse server), where ALSA's
// null device swallows audio as fast as it is written.
//
// It owns only that server's lifetime: it must not touch the user's own
// sound server (everything lives in the test's temporary directory), and
// the server is stopped when the test ends.
package pulsetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startWait bounds how long the server may take to make its socket: a
// hang guard, not a timing.
const startWait = 20 * time.Second

// Start runs the server and returns the runtime directory its socket is in
// (pulse/native): a process given XDG_RUNTIME_DIR set to it plays there.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		tb.Fatal("this needs pulseaudio; install it with build/deps.sh")
	}
	dir := tb.TempDir()
	runtimeDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
		"--use-pid-file=no", "--disable-shm=yes",
		"-L", "module-null-sink", "-L", "module-native-protocol-unix auth-anonymous=1")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir, "HOME="+dir,
		"PULSE_STATE_PATH="+filepath.Join(dir, "state"), "PULSE_RUNTIME_PATH="+filepath.Join(runtimeDir, "pulse"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start pulseaudio: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	socket := filepath.Join(runtimeDir, "pulse", "native")
	deadline := time.After(startWait)
	for {
		if _, err := os.Stat(socket); err == nil {
			return runtimeDir
		}
		select {
		case <-exited:
			tb.Fatalf("pulseaudio exited:\n%s", log.String())
		case <-deadline:
			cmd.Process.Kill()
			<-exited // log is complete, and no longer written
			tb.Fatalf("pulseaudio made no socket within %v:\n%s", startWait, log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
