//go:build windows

package app

import (
	"errors"
	"os"
)

// userDataDir is %LocalAppData%: an archive of audio is large and belongs
// to this machine, not to a roaming profile (%AppData%).
func userDataDir() (string, error) {
	if d := os.Getenv("LocalAppData"); d != "" {
		return d, nil
	}
	return "", errors.New("%LocalAppData% is not set")
}
