package filelock

import (
	"errors"
	"syscall"
)

// The Windows side's logic, kept free of Windows-only types so that its
// tests run on every platform (Go's Windows binaries do not run under the
// Wine these tests have).

// lockOffset is where the Windows lock's byte lies: 1 GiB, as SQLite's
// lock bytes do, far past anything a lock file holds, so the holder's
// process id stays readable (a Windows lock blocks reads of its bytes).
const (
	lockOffset = 1 << 30
	lockLength = 1
)

type region struct{ offsetLow, offsetHigh uint32 }

func lockRegion() region {
	return region{offsetLow: uint32(lockOffset & 0xFFFFFFFF), offsetHigh: uint32(lockOffset >> 32)}
}

// Windows error codes LockFileEx answers when another handle holds the
// region (ERROR_LOCK_VIOLATION; ERROR_IO_PENDING only for overlapped
// handles, which os.OpenFile does not make, but harmless to treat alike).
const (
	errorLockViolation syscall.Errno = 33
	errorIOPending     syscall.Errno = 997
)

// lockBusy sorts LockFileEx's answer: held by another, or a real failure.
func lockBusy(err error) (busy bool, _ error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errorLockViolation), errors.Is(err, errorIOPending):
		return true, nil
	default:
		return false, err
	}
}
