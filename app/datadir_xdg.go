//go:build !windows && !darwin

package app

import (
	"errors"
	"os"
	"path/filepath"
)

// userDataDir is $XDG_DATA_HOME, or ~/.local/share (the XDG default: an
// unset or relative value is ignored).
func userDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	if home == "" {
		return "", errors.New("neither $XDG_DATA_HOME nor $HOME is set")
	}
	return filepath.Join(home, ".local", "share"), nil
}
