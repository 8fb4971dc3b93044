package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"earshot/relay/filelock"
	"earshot/relay/safefile"
)

// configLockFile, in the configuration directory, is held (filelock) by
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
	if err := safefile.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("the configuration directory: %w", err)
	}
	path := filepath.Join(dir, configLockFile)
	ctx, cancel := context.WithTimeout(ctx, configLockWait)
	defer cancel()
	l, err := filelock.Acquire(ctx, path, filelock.Exclusive)
	if errors.Is(err, filelock.ErrLocked) && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("another Earshot process has held %s for %v; try again", path, configLockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = l.Close() }, nil
}
