//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"earshot/ui/ipc"
	"earshot/ui/xvfbtest"
)

// asProgram, set in the environment, makes the test binary run as the
// window program (TestMain): the test starts it as the resident does.
const asProgram = "EARSHOT_WINDOW_TEST_AS_PROGRAM"

func TestMain(m *testing.M) {
	if os.Getenv(asProgram) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// ended is how the window program ended.
type ended struct {
	code   int
	stderr string
	said   []ipc.Message // on its channel
}

// runWindowProgram starts the window program with display as DISPLAY
// ("": unset), asks it for the playback window as the resident does, and
// waits for it to end.
func runWindowProgram(t *testing.T, display string) ended {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			env = append(env, kv)
		}
	}
	env = append(env, asProgram+"=1", "LANG=en_US.UTF-8")
	if display != "" {
		env = append(env, "DISPLAY="+display)
	}
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The resident's end stays open while the program runs: it must end
	// by itself, not because its channel closed.
	defer in.Close()
	conn := ipc.NewConn(out, in)
	if err := conn.Send(ipc.Message{Type: ipc.TypeShow, Show: ipc.ShowPlayer}); err != nil {
		t.Fatal(err)
	}
	var said []ipc.Message
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, ipc.MaxMessage)
	for lines.Scan() {
		m, err := ipc.Decode(lines.Bytes())
		if err != nil {
			t.Fatalf("the window program said %q: %v", lines.Text(), err)
		}
		said = append(said, m)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-time.After(60 * time.Second): // a hang guard
		cmd.Process.Kill()
		<-waited
		t.Fatalf("the window program did not end without a display\n%s", stderr.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return ended{code: code, stderr: stderr.String(), said: said}
}

// Started with no display it could open, the window program died with a
// raw panic from GLFW (NotInitialized, and every goroutine's stack). It
// must say why in words, on its channel and its standard error, and exit
// with ipc.ExitCannotShow.
func TestNoDisplayIsSaidInWords(t *testing.T) {
	dead := xvfbtest.Dead(t)
	refusing := xvfbtest.Refusing(t)
	for _, c := range []struct {
		name, display, want string
	}{
		{"a display nothing serves", dead, "Earshot cannot open a window: no display (DISPLAY=" + dead + " cannot be reached)"},
		{"DISPLAY unset", "", "Earshot cannot open a window: no display (DISPLAY is not set)"},
		// The display answers, then refuses the window: GLFW's own failure,
		// caught around the run loop.
		{"a display that refuses", refusing, "Earshot cannot open a window: the display " + refusing +
			" did not let it (X11: Failed to open display " + refusing + ")"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := runWindowProgram(t, c.display)
			if e.code != ipc.ExitCannotShow {
				t.Errorf("exit status %d, want %d", e.code, ipc.ExitCannotShow)
			}
			for _, raw := range []string{"panic:", "goroutine ", "NotInitialized"} {
				if strings.Contains(e.stderr, raw) {
					t.Errorf("standard error has %q:\n%s", raw, e.stderr)
				}
			}
			if !strings.Contains(e.stderr, c.want) {
				t.Errorf("standard error does not say %q:\n%s", c.want, e.stderr)
			}
			if len(e.said) != 1 || e.said[0].Command != ipc.CmdCannotShow || e.said[0].Text != c.want {
				t.Errorf("on its channel it said %+v, want one %s: %q", e.said, ipc.CmdCannotShow, c.want)
			}
		})
	}
}
