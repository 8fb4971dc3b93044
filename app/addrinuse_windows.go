//go:build windows

package app

import (
	"errors"

	"golang.org/x/sys/windows"
)

// addrInUse reports whether a listen failed because the address is taken
// (Winsock's own code: syscall.EADDRINUSE is an invented number there).
func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
