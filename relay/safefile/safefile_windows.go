//go:build windows

package safefile

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return openChecked(path, flag, perm)
}

func idOf(f *os.File) (ID, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &info); err != nil {
		return ID{}, err
	}
	return ID{
		Volume: uint64(info.VolumeSerialNumber),
		Index:  uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow),
	}, nil
}

func ownedByCurrentUser(fs.FileInfo) bool { return true }

// restrictDir leaves the directory's ACL alone: under the user's profile
// (%AppData%, %LocalAppData%) it is private already, and mode bits mean
// nothing there.
func restrictDir(string, fs.FileInfo) error { return nil }

func writableByOthers(fs.FileInfo) bool { return false }
