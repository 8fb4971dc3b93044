package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"earshot/ui/ipc"
)

// WindowBinary is the window process's program name (ui/cmd/earshot-window).
const WindowBinary = "earshot-window"

// findWindowBinary finds the window program: next to this program first
// (an install, build/out), then on PATH.
func findWindowBinary() (string, error) {
	name := WindowBinary
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("the window program %s is neither beside %s nor on PATH (build it with `go build ./ui/cmd/earshot-window`)", name, os.Args[0])
	}
	return p, nil
}

// windows starts the window process when a window is to be shown and
// talks to it over its standard input and output (ui/ipc). The process
// exits when its last window closes; killing it never stops playback or
// the relay.
type windows struct {
	ctx    context.Context // the resident's run
	res    ipc.Resident    // nil: only the startup-error window
	log    *slog.Logger
	stderr io.Writer

	mu   sync.Mutex
	proc *windowProc
	wg   sync.WaitGroup
}

// windowProc is one running window process.
type windowProc struct {
	cmd  *exec.Cmd
	conn *ipc.Conn
	done chan struct{}
}

// show brings a window forward (ipc.Show…), starting the window process if
// none runs. text goes with ShowStartup.
func (w *windows) show(what, text string) error {
	p, err := w.process()
	if err != nil {
		return err
	}
	return p.conn.Send(ipc.Message{Type: ipc.TypeShow, Show: what, Text: text})
}

// running reports whether a window process runs.
func (w *windows) running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc != nil
}

func (w *windows) process() (*windowProc, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc != nil {
		return w.proc, nil
	}
	bin, err := findWindowBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Stderr = w.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the window program: %w", err)
	}
	p := &windowProc{cmd: cmd, conn: ipc.NewConn(out, in), done: make(chan struct{})}
	w.proc = p
	w.log.Debug("window process started", "pid", cmd.Process.Pid)
	// Earshot quitting ends the window process: its channel's read
	// returns once the process is gone.
	w.wg.Go(func() {
		select {
		case <-w.ctx.Done():
			in.Close()
			_ = cmd.Process.Kill()
		case <-p.done:
		}
	})
	w.wg.Go(func() {
		defer close(p.done)
		if w.res != nil {
			if err := ipc.Serve(w.ctx, p.conn, w.res); err != nil && !errors.Is(err, context.Canceled) {
				w.log.Warn("the window process's channel broke", "err", err)
			}
		} else {
			exited := make(chan struct{})
			go func() { defer close(exited); _, _ = io.Copy(io.Discard, out) }()
			select {
			case <-w.ctx.Done():
			case <-exited:
			}
		}
		in.Close()
		_ = cmd.Process.Kill() // gone already, unless the channel broke or Earshot quits
		_ = cmd.Wait()
		w.mu.Lock()
		if w.proc == p {
			w.proc = nil
		}
		w.mu.Unlock()
		w.log.Debug("window process ended")
	})
	return p, nil
}

// wait waits for the window process (if any) to end after the resident's
// run ended.
func (w *windows) wait() { w.wg.Wait() }

// waitExit waits until no window process runs (or d passed).
func (w *windows) waitExit(d time.Duration) {
	w.mu.Lock()
	p := w.proc
	w.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
	case <-time.After(d):
	}
}
