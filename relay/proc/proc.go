// Package proc asks about and ends processes the same way on every
// platform Earshot runs on: whether a process id is alive, and "ask it to
// stop, wait, then kill it" for the processes Earshot starts.
//
// Unix asks with SIGTERM. Windows has no signal one process can send
// another: there a console program started in a process group of its own
// (Prepare) is sent CTRL_BREAK_EVENT, which Go delivers to it as
// os.Interrupt; a program without a console (a GUI window process) must be
// asked over a channel of the caller's (Options.Ask), and is killed when it
// does not end within the grace period.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"time"
)

// Alive reports whether a process with this id exists (it may belong to
// another user).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	return alive(pid)
}

// Prepare sets cmd up so that Stop can ask it politely on this platform (on
// Windows, a process group of its own, so a CTRL_BREAK reaches it alone).
// Call it before cmd.Start.
func Prepare(cmd *exec.Cmd) { prepare(cmd) }

// Background sets cmd up as a helper that shows nothing of its own
// (ffmpeg, a clipboard program). On Windows a console program started by
// a program without a console (Earshot.exe, the tray) otherwise gets a
// console window of its own, open as long as it runs: a black window for
// every call ffmpeg decodes and for every live stream's encoder. Call it
// before cmd.Start.
func Background(cmd *exec.Cmd) { background(cmd) }

// Options say how Stop asks.
type Options struct {
	// Grace is how long the process has to end after it is asked.
	Grace time.Duration
	// Ask, when set, asks the process to end instead of the platform's
	// own way (for a process with no console on Windows, or one that
	// ends on a request of its own protocol).
	Ask func() error
}

// target is what Stop needs of a process; tests give it a fake.
type target interface {
	interrupt() error
	kill() error
}

type osProcess struct{ p *os.Process }

func (o osProcess) interrupt() error { return interrupt(o.p) }
func (o osProcess) kill() error      { return o.p.Kill() }

// Stop ends p: it asks (Options.Ask, or the platform's own request), waits
// up to Options.Grace for exited to close, then kills it and waits for
// exited until ctx ends. exited must close when the process has ended (the
// caller's cmd.Wait returned). It reports whether the process had to be
// killed, and an error only when it could not be ended at all.
func Stop(ctx context.Context, p *os.Process, exited <-chan struct{}, opts Options) (killed bool, err error) {
	return stop(ctx, osProcess{p}, exited, opts)
}

func stop(ctx context.Context, t target, exited <-chan struct{}, opts Options) (killed bool, err error) {
	ask := opts.Ask
	if ask == nil {
		ask = t.interrupt
	}
	if err := ask(); err == nil {
		timer := time.NewTimer(opts.Grace)
		defer timer.Stop()
		select {
		case <-exited:
			return false, nil
		case <-timer.C:
		case <-ctx.Done():
		}
	} else if isDone(err) {
		return false, nil
	}
	// It could not be asked, or did not listen: end it.
	if err := t.kill(); err != nil && !isDone(err) {
		return true, err
	}
	select {
	case <-exited:
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func isDone(err error) bool { return errors.Is(err, os.ErrProcessDone) }
