// Package relayproc is what the load tools (build/loadtest, build/soak)
// share to run a real `earshot relay` process and read its figures: a
// headless build, a free loopback address, the stream token from its
// first-start welcome, and its CPU time and memory from /proc (Linux).
//
// It must not start or stop the relay itself: each tool owns its process
// (Command only prepares it).
package relayproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BuildHeadless builds earshot with -tags headless (no GUI libraries) into
// dir and returns the binary's path.
func BuildHeadless(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "earshot")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "headless", "-o", bin, ".")
	build.Dir = moduleRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build earshot: %w", err)
	}
	return bin, nil
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// Command prepares `bin relay args…` with its configuration and cache in
// directories under work (configJSON, if not nil, as its config.json): it
// is stopped with SIGINT when ctx ends, given 10 s to exit, and logs to
// this process's stderr. The caller takes its stdout (the welcome, for
// ReadToken), starts it, and waits for it after ending ctx.
func Command(ctx context.Context, bin, work string, configJSON []byte, args ...string) (*exec.Cmd, error) {
	configDir := filepath.Join(work, "config")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return nil, err
	}
	if configJSON != nil {
		if err := os.WriteFile(filepath.Join(configDir, "config.json"), configJSON, 0o600); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"relay"}, args...)...)
	cmd.Env = append(os.Environ(), "EARSHOT_CONFIG_DIR="+configDir, "EARSHOT_CACHE_DIR="+filepath.Join(work, "cache"))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = os.Stderr
	return cmd, nil
}

// FreeAddr returns a loopback address nothing listens on right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ReadToken reads the relay's welcome until the live-feed URL and returns
// the stream token in it (the first start prints it once).
func ReadToken(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "/v1/live?token="); ok {
			tok := strings.TrimSpace(after)
			if strings.HasPrefix(tok, "<") {
				return "", errors.New("the relay printed no token: its registry was not fresh")
			}
			return tok, nil
		}
	}
	return "", errors.New("the relay exited before printing its live-feed URL (is a Secret Service running? use build/with-keyring.sh)")
}

// StatusMB reads a memory figure of a process from /proc/PID/status
// (VmRSS, RssAnon…), in MiB; 0 when it cannot be read.
func StatusMB(pid int, field string) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return float64(kb) / 1024
		}
	}
	return 0
}

// clockTicks is USER_HZ, 100 on every Linux build Go supports.
const clockTicks = 100

// CPUSeconds is a process's user+system CPU time so far; 0 when it cannot
// be read.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+s) / clockTicks
}
