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
	"slices"
	"strings"
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
		return "", fmt.Errorf("the window program %s is neither beside %s nor on PATH (build both with build/build.sh)", name, os.Args[0])
	}
	return p, nil
}

// windowHost starts the window process when a window is to be shown and
// talks to it over its standard input and output (ui/ipc). The process
// exits when its last window closes; killing it never stops playback or
// the relay.
type windowHost struct {
	ctx    context.Context // the resident's run
	res    ipc.Resident    // nil: only the startup-error window
	log    *slog.Logger
	stderr io.Writer
	debug  bool // the window process logs its debug lines too (-v)
	// told hears why a window process could not open a window (a reason
	// worded for the listener), and "" once one opened; nil: no one.
	told func(reason string)

	mu   sync.Mutex
	proc *windowProc
	wg   sync.WaitGroup
}

// windowProc is one running window process.
type windowProc struct {
	cmd  *exec.Cmd
	conn *ipc.Conn
	done chan struct{}
	// pending are the windows asked of it and not yet shown (under
	// windowHost.mu): a process that says it is closing shows none of them,
	// and they are asked of the next one.
	pending []showReq
	// failure is why it could not open a window (under windowHost.mu; ""
	// while it could).
	failure string
}

// showReq is one window asked for.
type showReq struct {
	what, text string
	tries      int
}

// maxShowTries bounds how often one window is asked of new processes (a
// window program that dies at start must not be started for ever).
const maxShowTries = 3

// show brings a window forward (ipc.Show…), starting the window process if
// none runs. text goes with ShowStartup and ShowStreamURL.
func (w *windowHost) show(what, text string) error {
	return w.ask(showReq{what: what, text: text})
}

func (w *windowHost) ask(req showReq) error {
	for {
		req.tries++
		p, err := w.process()
		if err != nil {
			return err
		}
		w.mu.Lock()
		p.pending = append(p.pending, req)
		w.mu.Unlock()
		err = p.conn.Send(ipc.Message{Type: ipc.TypeShow, Show: req.what, Text: req.text})
		if err == nil {
			return nil
		}
		// The process is going (its end of the channel closed). One that
		// could not open a window said why, and the listener is told: it
		// is not started again until a window is asked for again.
		w.detach(p)
		if w.failed(p) {
			return nil
		}
		if req.tries >= maxShowTries {
			return fmt.Errorf("the window program did not take the request: %w", err)
		}
	}
}

// detach stops sending windows to p (it is ending) and returns the windows
// it was asked for and has not shown.
func (w *windowHost) detach(p *windowProc) []showReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == p {
		w.proc = nil
	}
	pending := p.pending
	p.pending = nil
	return pending
}

// refusedRetry is how long after a display refused a window it is asked
// once more.
const refusedRetry = time.Second

// refusedOnce returns the windows of pending to ask once more after
// failure: those asked only once, when the display answered and refused.
func refusedOnce(failure string, pending []showReq) []showReq {
	if !strings.Contains(failure, ipc.DisplayRefused) {
		return nil
	}
	var retry []showReq
	for _, req := range pending {
		if req.tries < 2 {
			retry = append(retry, req)
		}
	}
	return retry
}

// failedWait bounds how long ask waits for a process whose channel closed
// to end (and say whether it could not open a window).
const failedWait = 5 * time.Second

// failed waits for p to end (bounded) and reports whether it could not
// open a window.
func (w *windowHost) failed(p *windowProc) bool {
	select {
	case <-p.done:
	case <-time.After(failedWait):
	case <-w.ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.failure != ""
}

// tell passes reason on to told.
func (w *windowHost) tell(reason string) {
	if w.told != nil {
		w.told(reason)
	}
}

// reask asks a new process for the windows an ending one did not show.
func (w *windowHost) reask(pending []showReq) {
	for _, req := range pending {
		if w.ctx.Err() != nil || req.tries >= maxShowTries {
			return
		}
		if err := w.ask(req); err != nil {
			w.log.Error("could not open the window", "err", err)
		}
	}
}

// procEvents is what one window process says about itself (ipc.Serve).
type procEvents struct {
	w *windowHost
	p *windowProc
}

// Shown: the window asked for is on screen.
func (e procEvents) Shown(what string) {
	e.w.mu.Lock()
	for i, req := range e.p.pending {
		if req.what == what {
			e.p.pending = append(e.p.pending[:i:i], e.p.pending[i+1:]...)
			break
		}
	}
	e.w.mu.Unlock()
	e.w.tell("")
}

// CannotShow: it cannot open a window (no display) and is ending; what it
// was asked for is not asked of another process (it would fail the same
// way) until the listener asks again.
func (e procEvents) CannotShow(reason string) {
	e.w.mu.Lock()
	e.p.failure = reason
	if !strings.Contains(reason, ipc.DisplayRefused) {
		e.p.pending = nil // kept for the one more try a refusal gets
	}
	if e.w.proc == e.p {
		e.w.proc = nil
	}
	e.w.mu.Unlock()
}

// Closing: its last window closed and it is ending; a window asked for
// from now on starts a new process, and one asked for in the meantime is
// asked of that one.
func (e procEvents) Closing() {
	e.w.log.Debug("window process closing", "pid", e.p.cmd.Process.Pid)
	e.w.reask(e.w.detach(e.p))
}

// running reports whether a window process runs.
func (w *windowHost) running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc != nil
}

func (w *windowHost) process() (*windowProc, error) {
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
	cmd.Env = windowEnv(os.Environ(), w.debug)
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
			if err := ipc.Serve(w.ctx, p.conn, w.res, procEvents{w, p}); err != nil && !errors.Is(err, context.Canceled) {
				w.log.Warn("the window process's channel broke", "err", err)
			}
		} else {
			// The startup-error window: nothing to serve, nothing to ask
			// again; it ends when the process does.
			_, _ = io.Copy(io.Discard, out)
		}
		in.Close()
		_ = cmd.Process.Kill() // gone already, unless the channel broke or Earshot quits
		err := cmd.Wait()
		w.mu.Lock()
		if p.failure == "" && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == ipc.ExitCannotShow {
			// It said so on its standard error only (its channel broke).
			p.failure = ipc.CannotOpen + "the window program stopped at its start (its reason is in Earshot's log)"
		}
		failure := p.failure
		w.mu.Unlock()
		pending := w.detach(p)
		w.log.Debug("window process ended", "exit", err)
		if retry := refusedOnce(failure, pending); len(retry) > 0 {
			// The display answered and refused: ask once more, a moment
			// later, before telling the listener.
			w.log.Warn("the display refused the window; trying once more", "reason", failure)
			select {
			case <-w.ctx.Done():
			case <-time.After(refusedRetry):
				w.reask(retry)
			}
			return
		}
		if failure != "" {
			w.log.Warn("no window could open", "reason", failure)
			w.tell(failure)
			return
		}
		// One that ended without saying it was closing was killed or
		// crashed: what it did not show is not asked again (no window
		// the user did not ask for now, no crash loop).
		for _, req := range pending {
			w.log.Warn("the window process ended before it showed a window", "window", req.what, "exit", err)
		}
	})
	return p, nil
}

// windowEnv is the window process's environment: this one's, with its
// debug switch when debug, and LANGUAGE=en under a "C.UTF-8" locale:
// Fyne reads its language from the locale at start and, given "C.UTF-8",
// logs "Error parsing user locale C: language: tag is not well-formed"
// with a source path (LANGUAGE, which gettext reads first, names the
// English that the C locale means; times still follow LC_TIME and LANG).
func windowEnv(environ []string, debug bool) []string {
	env := slices.Clone(environ)
	if debug {
		env = append(env, ipc.DebugEnv+"=1")
	}
	get := func(name string) string {
		v := ""
		for _, kv := range environ {
			if k, val, ok := strings.Cut(kv, "="); ok && k == name {
				v = val
			}
		}
		return v
	}
	messages := ""
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if messages = get(name); messages != "" {
			break
		}
	}
	if get("LANGUAGE") == "" && (strings.HasPrefix(messages, "C.") || strings.HasPrefix(messages, "POSIX.")) {
		env = append(env, "LANGUAGE=en")
	}
	return env
}

// wait waits for the window process (if any) to end after the resident's
// run ended.
func (w *windowHost) wait() { w.wg.Wait() }

// waitExit waits until no window process runs (or d passed).
func (w *windowHost) waitExit(d time.Duration) {
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
