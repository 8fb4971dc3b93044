package filelock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"earshot/relay/safefile"
)

func TestExclusiveLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "account.lock")
	first, err := TryLock(path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second exclusive lock: %v, want ErrLocked", err)
	}
	if _, err := TryLock(path, Shared); !errors.Is(err, ErrLocked) {
		t.Fatalf("a shared lock beside an exclusive one: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := TryLock(path, Exclusive)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Close()
}

func TestSharedLocksShare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json.lock")
	a, err := TryLock(path, Shared)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TryLock(path, Shared)
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Fatalf("an exclusive lock beside shared ones: %v", err)
	}
	a.Close()
	b.Close()
}

func TestAcquireWaitsAndGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := TryLock(path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, path, Exclusive); !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held lock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(context.Background(), path, Exclusive)
		if err == nil {
			l.Close()
		}
		got <- err
	}()
	time.Sleep(30 * time.Millisecond)
	held.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not take the lock once it was released")
	}
}

func TestLockFileLinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep me"), 0o600)
	link := filepath.Join(dir, "account.lock")
	os.Symlink(victim, link)
	if _, err := TryLock(link, Exclusive); !errors.Is(err, safefile.ErrLink) {
		t.Fatalf("a linked lock file: %v, want ErrLink", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Fatalf("the target changed: %q", b)
	}
}

// TestLockIsReleasedWhenTheHolderDies: a process that holds the lock and
// is killed leaves it free.
func TestLockIsReleasedWhenTheHolderDies(t *testing.T) {
	if path := os.Getenv("FILELOCK_HOLD"); path != "" {
		l, err := TryLock(path, Exclusive)
		if err != nil {
			os.Exit(3)
		}
		l.File().WriteString("held\n")
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockIsReleasedWhenTheHolderDies$")
	cmd.Env = append(os.Environ(), "FILELOCK_HOLD="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "held") {
		t.Fatalf("the child did not take the lock: %q %v", buf, err)
	}
	if _, err := TryLock(path, Exclusive); !errors.Is(err, ErrLocked) {
		t.Fatalf("another process's lock: %v", err)
	}
	// The holder's note stays readable while it holds the lock.
	if b, err := os.ReadFile(path); err != nil || string(b) != "held\n" {
		t.Fatalf("reading a held lock file: %q %v", b, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := TryLock(path, Exclusive)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Close()
}

// The Windows side's decisions, checked here.

func TestWindowsLockBusyClassification(t *testing.T) {
	for _, c := range []struct {
		err  error
		busy bool
		fail bool
	}{
		{nil, false, false},
		{errorLockViolation, true, false},
		{errorIOPending, true, false},
		{syscall.Errno(5), false, true}, // ERROR_ACCESS_DENIED
		{syscall.Errno(6), false, true}, // ERROR_INVALID_HANDLE
		{&os.SyscallError{Syscall: "LockFileEx", Err: errorLockViolation}, true, false},
	} {
		busy, err := lockBusy(c.err)
		if busy != c.busy || (err != nil) != c.fail {
			t.Errorf("lockBusy(%v) = %v, %v; want busy %v, failure %v", c.err, busy, err, c.busy, c.fail)
		}
	}
}

func TestWindowsLockRegionLeavesTheContentReadable(t *testing.T) {
	r := lockRegion()
	off := uint64(r.offsetHigh)<<32 | uint64(r.offsetLow)
	if off != lockOffset || off < 1<<20 {
		t.Fatalf("the lock's byte is at %d: it must lie past anything a lock file holds", off)
	}
}
