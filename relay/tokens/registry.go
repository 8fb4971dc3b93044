package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"earshot/relay/filelock"
	"earshot/relay/safefile"
)

// registry is tokens.json.
type registry struct {
	Version    int       `json:"version"`
	CurrentKey string    `json:"currentKey,omitempty"`
	Keys       []keyInfo `json:"keys"`
	Tokens     []Info    `json:"tokens"`
}

// keyInfo names a signing key; the key itself is in the keyring.
type keyInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (r *registry) find(id string) *Info {
	for i := range r.Tokens {
		if r.Tokens[i].ID == id {
			return &r.Tokens[i]
		}
	}
	return nil
}

// maxRegistryBytes caps tokens.json (thousands of tokens fit).
const maxRegistryBytes = 4 << 20

// registryFile is tokens.json on disk with its lock file beside it.
type registryFile struct {
	path string

	mu sync.Mutex // serializes this process's lockers (a file lock is per open file)

	seenMu sync.Mutex
	seen   fileStamp // what this process last read or wrote
}

// markSeen records st as what this process has installed: the file is not
// "changed" for it until the file's stamp differs from st.
func (f *registryFile) markSeen(st fileStamp) {
	f.seenMu.Lock()
	f.seen = st
	f.seenMu.Unlock()
}

// fileStamp tells one version of the file from another: a rename over it
// gives a new identity even when size and time match.
type fileStamp struct {
	size  int64
	mtime time.Time
	id    safefile.ID
}

// stampOf stamps the open file f.
func stampOf(f *os.File) (fileStamp, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileStamp{}, err
	}
	id, err := safefile.IDOf(f)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime(), id: id}, nil
}

func openRegistryFile(path string) (*registryFile, error) {
	if err := safefile.PrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return &registryFile{path: path}, nil
}

// maxLockWait bounds the wait for another process's lock when the caller's
// context has no deadline: edits take milliseconds, so a longer hold means
// a stuck process.
const maxLockWait = 15 * time.Second

// lock takes the advisory lock (on tokens.json.lock) shared by every
// Earshot process.
func (f *registryFile) lock(ctx context.Context) (func(), error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxLockWait)
		defer cancel()
	}
	f.mu.Lock()
	l, err := filelock.Acquire(ctx, f.path+".lock", filelock.Exclusive)
	if errors.Is(err, filelock.ErrLocked) {
		f.mu.Unlock()
		return nil, fmt.Errorf("lock the token registry: another earshot process still holds %s.lock (is one stuck?): %w", f.path, err)
	}
	if err != nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("lock the token registry: %w", err)
	}
	return func() {
		_ = l.Close()
		f.mu.Unlock()
	}, nil
}

// read loads the registry; a missing file is an empty registry. A file
// others can write is refused: whoever can edit it can mint access.
func (f *registryFile) read() (registry, fileStamp, error) {
	fh, err := safefile.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return registry{Version: 1}, fileStamp{}, nil
	}
	if err != nil {
		return registry{}, fileStamp{}, fmt.Errorf("read the token registry: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return registry{}, fileStamp{}, fmt.Errorf("read the token registry: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return registry{}, fileStamp{}, fmt.Errorf("%s is not a regular file; move it away to start afresh", f.path)
	}
	if safefile.WritableByOthers(fi) {
		return registry{}, fileStamp{}, fmt.Errorf("%s can be changed by other users (mode %v); fix it with `chmod 600 %s`", f.path, fi.Mode().Perm(), f.path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxRegistryBytes+1))
	if err != nil {
		return registry{}, fileStamp{}, fmt.Errorf("read the token registry: %w", err)
	}
	if len(data) > maxRegistryBytes {
		return registry{}, fileStamp{}, fmt.Errorf("%s is larger than %d bytes; it is not a token registry Earshot wrote", f.path, maxRegistryBytes)
	}
	var reg registry
	if err := json.Unmarshal(data, &reg); err != nil {
		return registry{}, fileStamp{}, fmt.Errorf("%s is not a valid token registry (%v); move it away to start afresh", f.path, err)
	}
	if reg.Version != 1 {
		return registry{}, fileStamp{}, fmt.Errorf("%s has registry version %d; this Earshot reads version 1", f.path, reg.Version)
	}
	st, err := stampOf(fh)
	if err != nil {
		return registry{}, fileStamp{}, fmt.Errorf("read the token registry: %w", err)
	}
	// The caller marks it seen once it is installed (markSeen): a reader
	// that looks at the file meanwhile must still find it new.
	return reg, st, nil
}

// write replaces the registry atomically (temp file, fsync, rename) and
// returns the new file's stamp, taken from the temp file itself (a stat of
// the path after the rename could see a later writer's file).
func (f *registryFile) write(reg registry) (fileStamp, error) {
	fail := func(err error) (fileStamp, error) {
		return fileStamp{}, fmt.Errorf("write the token registry: %w", err)
	}
	reg.Version = 1
	data, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		return fileStamp{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".tokens-*.tmp")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fail(err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(err)
	}
	st, err := stampOf(tmp)
	if err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fail(err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return st, nil
}

// changedOnDisk reports whether the file differs from what this process
// last read or wrote.
func (f *registryFile) changedOnDisk() bool {
	fh, err := safefile.Open(f.path)
	if err != nil {
		return false
	}
	st, err := stampOf(fh)
	fh.Close()
	if err != nil {
		return false
	}
	f.seenMu.Lock()
	defer f.seenMu.Unlock()
	return st != f.seen
}
