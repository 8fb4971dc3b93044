// Package safefile opens Earshot's private files and directories — the
// configuration and cache directories, config.json, tokens.json,
// account.lock, cache entries, the instance lock — without following a
// symbolic link planted in their place, and names a file by its identity
// (device and inode on Unix, volume and file index on Windows) so that a
// change check notices a file replaced by another of the same size and time.
//
// It owns only how such paths are opened and checked; what the files hold
// belongs to their packages. On Unix the kernel refuses the link
// (O_NOFOLLOW); Windows has no such flag for os.OpenFile, so there a path is
// checked with Lstat before it is opened and the opened file is compared
// with what Lstat saw (openChecked), which the tests also run on Linux.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrLink is what errors.Is finds in an error about a path that is a
// symbolic link (or, on Windows, another kind of reparse point) where
// Earshot expects a file or directory of its own.
var ErrLink = errors.New("is a symbolic link")

// LinkError says which path is a link and, when it can be read, to where.
type LinkError struct {
	Path   string
	Target string
}

func (e *LinkError) Error() string {
	to := ""
	if e.Target != "" {
		to = " (to " + e.Target + ")"
	}
	return fmt.Sprintf("%s is a symbolic link%s; Earshot keeps its files only in real files and directories: "+
		"remove the link (and move the real directory there, or point EARSHOT_CONFIG_DIR / EARSHOT_CACHE_DIR at it)", e.Path, to)
}

// Is makes errors.Is(err, ErrLink) true.
func (e *LinkError) Is(target error) bool { return target == ErrLink }

func linkError(path string) error {
	target, _ := os.Readlink(path)
	return &LinkError{Path: path, Target: target}
}

// isLink reports whether fi, from Lstat, is a link or another reparse point
// (Go reports Windows junctions and other reparse points as irregular).
func isLink(fi fs.FileInfo) bool {
	return fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0
}

// Open opens path for reading, refusing a link.
func Open(path string) (*os.File, error) { return OpenFile(path, os.O_RDONLY, 0) }

// OpenFile is os.OpenFile that refuses a symbolic link as the last element
// of path (an error matching ErrLink) and never truncates or creates a
// link's target. Links in the directories above are the user's own
// arrangement and are followed.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return openFile(path, flag, perm)
}

// openChecked opens path without trusting the OS to refuse a link: it
// looks at the path with Lstat, creates a missing file with O_EXCL (which
// fails on anything already there, a dangling link included), truncates
// only after checking, and refuses the file unless the opened file is the
// one Lstat saw (a link swapped in between is caught). Windows uses it;
// Unix has O_NOFOLLOW.
func openChecked(path string, flag int, perm os.FileMode) (*os.File, error) {
	trunc := flag&os.O_TRUNC != 0
	flag &^= os.O_TRUNC
	for attempt := 0; ; attempt++ {
		before, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0 {
			f, err := os.OpenFile(path, flag|os.O_EXCL, perm)
			if errors.Is(err, fs.ErrExist) && flag&os.O_EXCL == 0 && attempt < 3 {
				continue // someone made it meanwhile: look again
			}
			return f, err
		}
		if err != nil {
			return nil, err
		}
		if isLink(before) {
			return nil, linkError(path)
		}
		if flag&os.O_EXCL != 0 {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrExist}
		}
		f, err := os.OpenFile(path, flag, perm)
		if err != nil {
			return nil, err
		}
		after, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !os.SameFile(before, after) {
			f.Close()
			if attempt < 3 {
				continue
			}
			return nil, fmt.Errorf("%s keeps changing while Earshot opens it: %w", path, linkError(path))
		}
		if trunc {
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, err
			}
		}
		return f, nil
	}
}

// PrivateDir makes sure path is a directory only this user can use: it
// creates it (and missing parents) with mode 0700, and refuses one that is
// a link (ErrLink), not a directory, or owned by another user. An existing
// directory that others may enter is narrowed to 0700 (on the opened
// directory, so a link swapped in is never changed).
func PrivateDir(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", path, err)
		}
		fi, err = os.Lstat(path)
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if isLink(fi) {
		return linkError(path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory; Earshot needs a directory there (move the file away)", path)
	}
	if !ownedByCurrentUser(fi) {
		return fmt.Errorf("%s belongs to another user; Earshot keeps its files only in a directory of your own "+
			"(remove it, or point EARSHOT_CONFIG_DIR / EARSHOT_CACHE_DIR elsewhere)", path)
	}
	return restrictDir(path, fi)
}

// ID is a file's identity: two IDs are equal when they name the same file
// on the same volume, whatever its name, size or time.
type ID struct {
	Volume uint64
	Index  uint64
}

// IDOf returns the identity of the open file f.
func IDOf(f *os.File) (ID, error) {
	id, err := idOf(f)
	if err != nil {
		return ID{}, fmt.Errorf("identify %s: %w", f.Name(), err)
	}
	return id, nil
}

// OwnedByCurrentUser reports whether fi (from Stat or Lstat) belongs to
// the user this process runs as. On Windows, where a file's owner is an
// ACL matter, it is always true: Earshot keeps its files under the user's
// profile, which Windows keeps private to the user.
func OwnedByCurrentUser(fi fs.FileInfo) bool { return ownedByCurrentUser(fi) }

// WritableByOthers reports whether users other than the owner may change
// the file fi describes. On Windows, where mode bits only say read-only or
// not and access is an ACL matter, it is false: the files are under the
// user's profile, private to the user.
func WritableByOthers(fi fs.FileInfo) bool { return writableByOthers(fi) }

// WriteAtomic replaces path with data, with mode perm, through a temporary
// file in the same directory that is synced and renamed over it: a crash
// leaves the old file or the new one, never half of one, and a link at
// path is replaced, never written through.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	fail := func(err error) error { return fmt.Errorf("write %s: %w", path, err) }
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name()) // nothing left after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}
