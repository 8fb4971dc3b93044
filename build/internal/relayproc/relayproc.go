// Package relayproc is what the load tools (build/loadtest, build/soak)
// share to run a real `earshot relay` process and read its figures: a
// headless build, a free loopback address, the stream token from its
// first-start welcome, and its CPU time and memory from /proc (Linux).
//
// Each tool owns its relay process: Launch starts it and the tool stops it
// (Relay.Stop) when done. Main is the tools' shared main: flags,
// interrupt, report, exit code.
package relayproc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Workdir makes a temporary directory for a tool's run (remove it when
// done) and, unless bin names one, builds the earshot binary in it.
func Workdir(ctx context.Context, name, bin string) (work, binPath string, err error) {
	work, err = os.MkdirTemp("", "earshot-"+name+"-")
	if err != nil {
		return "", "", err
	}
	if bin == "" {
		if bin, err = BuildHeadless(ctx, work); err != nil {
			os.RemoveAll(work)
			return "", "", err
		}
	}
	return work, bin, nil
}

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

// Relay is a running `earshot relay` process a tool launched.
type Relay struct {
	Addr  string // host:port it listens on
	Token string // the stream token its first start printed
	Pid   int
	stop  func()
}

// Launch starts `bin relay --listen ADDR args…` on a free loopback address,
// with its configuration and cache in directories under work (config, if
// not nil, as its config.json), logging to this process's stderr, and
// reads the stream token from its welcome. Stop it when done.
func Launch(ctx context.Context, bin, work string, config []byte, args ...string) (*Relay, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	configDir := filepath.Join(work, "config")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return nil, err
	}
	if config != nil {
		if err := os.WriteFile(filepath.Join(configDir, "config.json"), config, 0o600); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, bin, append([]string{"relay", "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), "EARSHOT_CONFIG_DIR="+configDir, "EARSHOT_CACHE_DIR="+filepath.Join(work, "cache"))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start the relay: %w", err)
	}
	// Stop the relay (SIGINT) before waiting for it: the other way round,
	// Wait would wait for a relay nobody told to stop.
	r := &Relay{Addr: addr, Pid: cmd.Process.Pid, stop: func() { cancel(); _ = cmd.Wait() }}
	if r.Token, err = ReadToken(stdout); err != nil {
		r.Stop()
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }() // ends when the relay does
	return r, nil
}

// Stop stops the relay and waits for it to exit.
func (r *Relay) Stop() { r.stop() }

// Report is what a load tool measured.
type Report interface {
	// Print writes the report for people.
	Print(w io.Writer)
	// Passed reports whether every target was met.
	Passed() bool
}

// Main runs a load tool named name: it parses the command line (adding
// -json), runs run until it returns or the process is interrupted, prints
// the report (as JSON with -json) and exits 1 if it failed or missed a
// target.
func Main[R Report](name string, run func(ctx context.Context) (R, error)) {
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(rep)
	} else {
		rep.Print(os.Stdout)
	}
	if !rep.Passed() {
		os.Exit(1)
	}
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
