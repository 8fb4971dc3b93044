// Package clipboard puts text on the desktop's clipboard from a process
// with no window and no GUI toolkit (the resident Earshot process), so
// that what was copied stays there after the copy returns.
//
// On X11 and Wayland the clipboard is not a store: the program that copied
// must answer every paste until another copy replaces it. A window process
// that exits takes its copy with it, so "Copy stream URL" from the tray
// would paste nothing a moment later. The desktop's own clipboard programs
// do this right: wl-copy (Wayland), xclip or xsel (X11) stay behind, tiny,
// until the next copy; pbcopy (macOS) and clip (Windows) hand the text to
// the system. The text goes to them on standard input, never on a command
// line (it can hold a stream token).
//
// It owns only that hand-over; what to copy is its callers'.
package clipboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"earshot/relay/proc"
)

// ErrNoProgram means no clipboard program fits this desktop.
var ErrNoProgram = errors.New("no clipboard program found: install wl-clipboard (Wayland) or xclip (X11)")

// MaxText bounds what may be copied.
const MaxText = 1 << 20

// timeout bounds one copy: the program reads the text and (on X11 and
// Wayland) forks the part that stays behind.
const timeout = 5 * time.Second

// program is one clipboard program and its arguments.
type program struct {
	name string
	args []string
}

// Env is what Copy reads of its environment; the zero value reads the
// process's.
type Env struct {
	// Getenv and LookPath default to os.Getenv and exec.LookPath.
	Getenv   func(string) string
	LookPath func(string) (string, error)
	GOOS     string // runtime.GOOS when ""
}

// choose picks the program for this desktop: Wayland's when a Wayland
// display is set (X11 programs would reach only XWayland's clipboard),
// then X11's.
func (e Env) choose() (string, []string, error) {
	getenv, lookPath, goos := e.Getenv, e.LookPath, e.GOOS
	if getenv == nil {
		getenv = os.Getenv
	}
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if goos == "" {
		goos = runtime.GOOS
	}
	var candidates []program
	switch goos {
	case "darwin":
		candidates = []program{{"pbcopy", nil}}
	case "windows":
		candidates = []program{{"clip", nil}}
	default:
		if getenv("WAYLAND_DISPLAY") != "" {
			candidates = append(candidates, program{"wl-copy", []string{"--type", "text/plain;charset=utf-8"}})
		}
		if getenv("DISPLAY") != "" {
			candidates = append(candidates,
				program{"xclip", []string{"-selection", "clipboard", "-in"}},
				program{"xsel", []string{"--clipboard", "--input"}})
		}
	}
	for _, p := range candidates {
		if path, err := lookPath(p.name); err == nil {
			return path, p.args, nil
		}
	}
	return "", nil, ErrNoProgram
}

// Copy puts text on the clipboard, where it stays until something else is
// copied.
func (e Env) Copy(ctx context.Context, text string) error {
	if len(text) > MaxText {
		return fmt.Errorf("copy to the clipboard: %d bytes is more than %d", len(text), MaxText)
	}
	path, args, err := e.choose()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(text)
	proc.Background(cmd) // clip.exe, from the tray: no console window
	// No pipes for its output: the part that stays behind inherits them,
	// and Wait would wait for it to close them (until the next copy). What
	// it says goes to a file, read when it fails.
	errs, err := os.CreateTemp("", "earshot-clipboard-*")
	if err != nil {
		return fmt.Errorf("copy to the clipboard: %w", err)
	}
	defer os.Remove(errs.Name())
	defer errs.Close()
	cmd.Stderr = errs
	if err := cmd.Run(); err != nil {
		said := make([]byte, 512)
		n, _ := errs.ReadAt(said, 0)
		if msg := strings.TrimSpace(string(said[:n])); msg != "" {
			return fmt.Errorf("copy to the clipboard with %s: %w (%s)", path, err, msg)
		}
		return fmt.Errorf("copy to the clipboard with %s: %w", path, err)
	}
	return nil
}

// Copy puts text on this process's desktop's clipboard (Env{}.Copy).
func Copy(ctx context.Context, text string) error { return Env{}.Copy(ctx, text) }
