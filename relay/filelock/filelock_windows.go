//go:build windows

package filelock

import (
	"os"

	"golang.org/x/sys/windows"
)

func tryLock(f *os.File, mode Mode) (busy bool, err error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if mode == Exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ol := lockRegion()
	err = windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, lockLength, 0, &windows.Overlapped{Offset: ol.offsetLow, OffsetHigh: ol.offsetHigh})
	return lockBusy(err)
}

func unlock(f *os.File) error {
	ol := lockRegion()
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, lockLength, 0, &windows.Overlapped{Offset: ol.offsetLow, OffsetHigh: ol.offsetHigh})
}
