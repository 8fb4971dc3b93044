// Package autostart turns "start Earshot when I log in" on and off, the way
// each desktop expects it: an XDG autostart entry on Linux and other Unix
// desktops ($XDG_CONFIG_HOME/autostart/app.earshot.earshot.desktop), a value
// under the per-user Run key on Windows
// (HKCU\Software\Microsoft\Windows\CurrentVersion\Run), a LaunchAgent on
// macOS (~/Library/LaunchAgents/app.earshot.earshot.plist).
//
// It owns only that entry. Turning it off removes exactly what turning it on
// added, and never an entry it did not write: a file must carry Earshot's
// mark, and be a regular file (not a link); the Run value must be the one
// named for Earshot's app id. It is off until the listener turns it on. The
// entry names the binary by its resolved path (os.Executable, links
// followed), so moving or reinstalling Earshot calls for turning it on again
// (Status says when the entry names another binary).
package autostart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AppID names the entry (the desktop file, the LaunchAgent's label, the
// Run value).
const AppID = "app.earshot.earshot"

// State is what Status found.
type State struct {
	// On: an entry Earshot wrote is there.
	On bool
	// Where the entry is (a file path, or the registry value's path).
	Where string
	// Command is the command line the entry starts, as written.
	Command []string
	// Stale: the entry starts a binary other than this one (Earshot was
	// moved or reinstalled elsewhere): turning it on again fixes it.
	Stale bool
	// Foreign: something not written by Earshot is where its entry goes;
	// Earshot neither replaces nor removes it.
	Foreign bool
}

// ErrForeign means an entry Earshot did not write is in the way.
var ErrForeign = errors.New("an autostart entry Earshot did not write is already there")

// Entry is where the platform keeps autostart entries, with what Earshot
// writes there. NewEntry gives the user's.
type Entry interface {
	// Enable writes the entry starting command (the binary, then its
	// arguments).
	Enable(command []string) error
	// Disable removes the entry if Earshot wrote it (no error when there is
	// none; ErrForeign when another is there).
	Disable() error
	// Status says what is there.
	Status() (State, error)
}

// Command is what an entry starts: this binary, by its resolved path, with
// args (the resident process with no window).
func Command(args ...string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program's path: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	abs, err := filepath.Abs(exe)
	if err != nil {
		return nil, err
	}
	return append([]string{abs}, args...), nil
}

// argList collects the arguments of a command line as a splitter reads it.
type argList struct {
	args    []string
	cur     strings.Builder
	started bool // an argument is open (it may be empty: "")
}

// open marks an argument as begun without adding to it (a quote).
func (a *argList) open() { a.started = true }

func (a *argList) add(s string) { a.cur.WriteString(s); a.started = true }

// end closes the open argument, if any.
func (a *argList) end() {
	if a.started {
		a.args = append(a.args, a.cur.String())
		a.cur.Reset()
		a.started = false
	}
}

// done closes the last argument and returns them all.
func (a *argList) done() []string { a.end(); return a.args }
