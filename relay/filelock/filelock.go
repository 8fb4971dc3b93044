// Package filelock takes advisory locks on files that every Earshot process
// of a user agrees on: the token registry's lock, the account lock and the
// single-instance lock. The operating system lets go of a lock when the
// process holding it ends, however it ends, so a crash never leaves a lock
// behind.
//
// It owns only the lock: flock on Unix, LockFileEx (golang.org/x/sys/windows)
// on Windows. A lock file is opened through safefile, so a link planted in
// its place is refused, never followed. On Windows the lock covers one byte
// far past the end of the file (lockOffset): Windows locks are mandatory for
// the bytes they cover, and what a lock file holds (the holder's process id)
// must stay readable to others.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"earshot/relay/safefile"
)

// ErrLocked means another process (or another open of the file in this
// process) holds a lock that conflicts.
var ErrLocked = errors.New("the lock is held by another process")

// Mode says whether a lock is shared with other shared holders or held
// alone.
type Mode int

const (
	// Exclusive conflicts with every other lock on the file.
	Exclusive Mode = iota
	// Shared conflicts only with an exclusive lock.
	Shared
)

// Lock is a held lock on an open file. Close releases it.
type Lock struct {
	f *os.File
}

// File is the locked file, open for reading and writing (a holder may note
// who it is in it).
func (l *Lock) File() *os.File { return l.f }

// Close releases the lock and closes the file.
func (l *Lock) Close() error {
	uerr := unlock(l.f)
	cerr := l.f.Close()
	return errors.Join(uerr, cerr)
}

// TryLock opens (creating it 0600) the lock file path and takes the lock
// in mode without waiting: ErrLocked when a conflicting lock is held.
func TryLock(path string, mode Mode) (*Lock, error) {
	f, err := safefile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock file %s: %w", path, err)
	}
	busy, err := tryLock(f, mode)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if busy {
		f.Close()
		return nil, ErrLocked
	}
	return &Lock{f: f}, nil
}

// pollEvery is how often Acquire tries again: locks here are held for
// milliseconds (an edit) or for a process's life (then the caller gives up
// at its deadline), so polling costs nothing and works the same everywhere.
const pollEvery = 10 * time.Millisecond

// Acquire takes the lock, waiting until it is free or ctx ends (then the
// error wraps ErrLocked and ctx's error).
func Acquire(ctx context.Context, path string, mode Mode) (*Lock, error) {
	for {
		l, err := TryLock(path, mode)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrLocked, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}
