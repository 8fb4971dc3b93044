//go:build unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	// EPERM: it exists, but is another user's.
	return err == nil || errors.Is(err, syscall.EPERM)
}

func prepare(*exec.Cmd) {}

func background(*exec.Cmd) {}

func interrupt(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
