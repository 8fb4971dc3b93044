package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// openers are the two ways a path is opened: the one this OS uses, and the
// Windows one (Lstat, then compare), which runs here too.
var openers = []struct {
	name string
	open func(string, int, os.FileMode) (*os.File, error)
}{
	{"OpenFile", OpenFile},
	{"openChecked (Windows)", openChecked},
}

func TestOpenRefusesALinkAndNeverTouchesItsTarget(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "account.lock")
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			for _, flag := range []int{os.O_RDONLY, os.O_RDWR | os.O_CREATE, os.O_RDWR | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_TRUNC} {
				f, err := o.open(link, flag, 0o600)
				if err == nil {
					f.Close()
					t.Fatalf("flag %#x: a link was opened", flag)
				}
				if !errors.Is(err, ErrLink) {
					t.Fatalf("flag %#x: err = %v, want ErrLink", flag, err)
				}
				var le *LinkError
				if !errors.As(err, &le) || le.Target != victim {
					t.Fatalf("flag %#x: the error does not say where the link points: %v", flag, err)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Fatalf("the link's target was changed: %q", b)
			}
		})
	}
}

func TestOpenCreateNeverCreatesADanglingLinksTarget(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "elsewhere", "planted")
			if err := os.Mkdir(filepath.Dir(target), 0o700); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "tokens.json.lock")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			f, err := o.open(link, os.O_RDWR|os.O_CREATE, 0o600)
			if err == nil {
				f.Close()
				t.Fatal("a dangling link was opened")
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the link's target was created (%v)", err)
			}
		})
	}
}

func TestOpenPlainFiles(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			f, err := o.open(path, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("hello")
			f.Close()
			f, err = o.open(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if b, _ := os.ReadFile(path); len(b) != 0 {
				t.Fatalf("O_TRUNC left %q", b)
			}
			if _, err := o.open(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("O_EXCL on an existing file: %v", err)
			}
			if _, err := o.open(filepath.Join(t.TempDir(), "missing"), os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a missing file: %v", err)
			}
		})
	}
}

func TestPrivateDir(t *testing.T) {
	base := t.TempDir()

	made := filepath.Join(base, "a", "b", "earshot")
	if err := PrivateDir(made); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(made); err != nil || !fi.IsDir() || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Fatalf("made %v (%v)", fi.Mode(), err)
	}

	wide := filepath.Join(base, "wide")
	os.Mkdir(wide, 0o755)
	os.Chmod(wide, 0o755)
	if err := PrivateDir(wide); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(wide); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Fatalf("an open directory was left %v", fi.Mode().Perm())
	}

	// A link to a directory elsewhere: refused, and the target untouched.
	other := filepath.Join(base, "someone-elses")
	os.Mkdir(other, 0o755)
	os.Chmod(other, 0o755)
	link := filepath.Join(base, "cache-link")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(link); !errors.Is(err, ErrLink) {
		t.Fatalf("a linked directory: %v, want ErrLink", err)
	}
	if fi, _ := os.Lstat(other); fi.Mode().Perm() != 0o755 {
		t.Fatalf("the link's target was changed to %v", fi.Mode().Perm())
	}

	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := PrivateDir(file); err == nil {
		t.Fatal("a file was taken for a directory")
	}
}

func TestIDSeesAReplacedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	os.WriteFile(path, []byte("one"), 0o600)
	id := func() ID {
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, err := IDOf(f)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := id()
	if again := id(); again != first {
		t.Fatalf("the same file has two identities: %v, %v", first, again)
	}
	// Same size, same content, same time: only the identity tells.
	fi, _ := os.Stat(path)
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte("one"), 0o600)
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	keep, _ := os.Open(path) // keeps the old inode from being reused
	defer keep.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if id() == first {
		t.Fatal("a replaced file kept its identity")
	}
}

func TestWriteAtomicReplacesALinkNeverWritesThroughIt(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	path := filepath.Join(dir, "running.json")
	os.Symlink(victim, path)
	if err := WriteAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("written through the link: %q", b)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("a temporary file was left: %v", entries)
	}
}
