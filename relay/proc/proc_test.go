package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Alive(cmd.Process.Pid) {
		t.Fatalf("process %d ended but is alive", cmd.Process.Pid)
	}
	if Alive(0) || Alive(-1) {
		t.Fatal("no process has id 0 or -1")
	}
}

var sigterm = syscall.SIGTERM

// helper modes for the child process of the Stop tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_CHILD") {
	case "polite":
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, sigterm)
		os.Stdout.WriteString("ready\n")
		<-c
		os.Stdout.WriteString("asked\n")
		os.Exit(0)
	case "deaf":
		signal.Ignore(os.Interrupt, sigterm)
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startChild(t *testing.T, mode string) (*exec.Cmd, <-chan struct{}, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROC_CHILD="+mode)
	Prepare(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("the child did not start: %q %v", buf, err)
	}
	var rest strings.Builder
	exited := make(chan struct{})
	var mu sync.Mutex
	go func() {
		b := make([]byte, 64)
		for {
			n, err := out.Read(b)
			mu.Lock()
			rest.Write(b[:n])
			mu.Unlock()
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(exited)
	}()
	return cmd, exited, &rest
}

func TestStopAsksFirst(t *testing.T) {
	cmd, exited, out := startChild(t, "polite")
	killed, err := Stop(context.Background(), cmd.Process, exited, Options{Grace: 30 * time.Second})
	if err != nil || killed {
		t.Fatalf("a process that listens was killed=%v (%v)", killed, err)
	}
	if !strings.Contains(out.String(), "asked") {
		t.Fatalf("the child was not asked: %q", out.String())
	}
}

func TestStopKillsOneThatDoesNotListen(t *testing.T) {
	cmd, exited, _ := startChild(t, "deaf")
	killed, err := Stop(context.Background(), cmd.Process, exited, Options{Grace: 100 * time.Millisecond})
	if err != nil || !killed {
		t.Fatalf("a deaf process: killed=%v (%v)", killed, err)
	}
}

// fakeProcess records what Stop did, for the paths a real process on this
// platform does not take (Windows: a GUI process that cannot be sent a
// console event).
type fakeProcess struct {
	mu           sync.Mutex
	calls        []string
	interruptErr error
	endOnAsk     bool
	exited       chan struct{}
}

func (f *fakeProcess) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeProcess) interrupt() error {
	f.record("interrupt")
	if f.interruptErr == nil && f.endOnAsk {
		close(f.exited)
	}
	return f.interruptErr
}

func (f *fakeProcess) kill() error {
	f.record("kill")
	select {
	case <-f.exited:
		return os.ErrProcessDone
	default:
		close(f.exited)
		return nil
	}
}

func TestStopSequence(t *testing.T) {
	noConsole := errors.New("GenerateConsoleCtrlEvent: the handle is invalid")
	for _, c := range []struct {
		name       string
		p          *fakeProcess
		ask        func(*fakeProcess) func() error
		want       string
		wantKilled bool
	}{
		{"listens", &fakeProcess{endOnAsk: true}, nil, "interrupt", false},
		{"deaf", &fakeProcess{}, nil, "interrupt kill", true},
		{"no console: killed at once", &fakeProcess{interruptErr: noConsole}, nil, "interrupt kill", true},
		{"asked over its own channel", &fakeProcess{}, func(f *fakeProcess) func() error {
			return func() error { f.record("ask"); close(f.exited); return nil }
		}, "ask", false},
		{"its channel is gone", &fakeProcess{}, func(f *fakeProcess) func() error {
			return func() error { f.record("ask"); return errors.New("broken pipe") }
		}, "ask kill", true},
		{"already ended", &fakeProcess{interruptErr: os.ErrProcessDone}, nil, "interrupt", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.p.exited = make(chan struct{})
			opts := Options{Grace: 20 * time.Millisecond}
			if c.ask != nil {
				opts.Ask = c.ask(c.p)
			}
			killed, err := stop(context.Background(), c.p, c.p.exited, opts)
			if err != nil || killed != c.wantKilled {
				t.Fatalf("killed=%v err=%v, want killed=%v", killed, err, c.wantKilled)
			}
			if got := strings.Join(c.p.calls, " "); got != c.want {
				t.Fatalf("calls %q, want %q", got, c.want)
			}
		})
	}
}

// Background changes nothing a helper's caller relies on: its input,
// output and exit status pass as before (on Windows it only hides the
// console window; proc_windows_test.go).
func TestBackgroundKeepsTheHelpersPipes(t *testing.T) {
	cmd := exec.Command("sh", "-c", "tr a-z A-Z; exit 3")
	Background(cmd)
	cmd.Stdin = strings.NewReader("earshot")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if string(out) != "EARSHOT" || !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("output %q, err %v", out, err)
	}
}
