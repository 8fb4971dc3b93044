//go:build darwin

package autostart

import "os"

// NewEntry is the user's LaunchAgent.
func NewEntry() (Entry, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	return launchAgent(home), nil
}
