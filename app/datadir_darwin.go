//go:build darwin

package app

import "os"

// userDataDir is ~/Library/Application Support, where macOS apps keep
// their data (and Go's os.UserConfigDir points).
func userDataDir() (string, error) { return os.UserConfigDir() }
