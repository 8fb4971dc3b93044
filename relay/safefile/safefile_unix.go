//go:build unix

package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil && errors.Is(err, unix.ELOOP) {
		return nil, linkError(path)
	}
	return f, err
}

func idOf(f *os.File) (ID, error) {
	fi, err := f.Stat()
	if err != nil {
		return ID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}, errors.New("no device and inode")
	}
	return ID{Volume: uint64(st.Dev), Index: uint64(st.Ino)}, nil
}

func ownedByCurrentUser(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

func restrictDir(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	d, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return linkError(path)
		}
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Chmod(0o700); err != nil {
		return fmt.Errorf("restrict %s to you alone (mode 0700): %w", path, err)
	}
	return nil
}

func writableByOthers(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o022 != 0 }
