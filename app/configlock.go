package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"earshot/relay/filelock"
)

// configLockFile, in the configuration directory, is held (flock) by
// whoever reads, changes and writes config.json, so that two writers —
// the CLI and a running relay, or the tray's settings and an alert edit
// in the same process — never lose each other's change.
const configLockFile = "config.lock"

// configLockWait bounds how long a writer waits for another.
const configLockWait = 5 * time.Second

// UpdateConfig changes config.json under its lock: it reads the file
// afresh, lets change edit it, and writes it back (atomically) unless
// change fails.
func UpdateConfig(ctx context.Context, dir string, change func(*Config) error) error {
	unlock, err := lockConfig(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := LoadConfig(dir)
	if err != nil {
		return err
	}
	if err := change(cfg); err != nil {
		return err
	}
	return SaveConfig(dir, cfg)
}

// lockConfig takes the configuration lock, waiting for another holder
// up to configLockWait.
func lockConfig(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, configLockFile)
	waitCtx, cancel := context.WithTimeout(ctx, configLockWait)
	defer cancel()
	lock, err := filelock.Acquire(waitCtx, path, filelock.Exclusive)
	switch {
	case err == nil:
		return func() { lock.Close() }, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, filelock.ErrLocked):
		return nil, fmt.Errorf("another Earshot process has held %s for %v; try again", path, configLockWait)
	}
	return nil, err
}
