//go:build windows

package server

import (
	"os/exec"
	"syscall"
)

func setRecvBuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func processGroupAlive(*exec.Cmd) bool { return false }
