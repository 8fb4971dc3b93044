//go:build (linux || freebsd) && wayland

package ui

import (
	"context"
	"fmt"
	"path/filepath"
)

// displayEnv is the environment variable naming the display the window
// process draws on (GLFW's Wayland back end).
const displayEnv = "WAYLAND_DISPLAY"

// displayProblem says why no window can open on the Wayland display getenv
// names ("" when its compositor answers).
func displayProblem(ctx context.Context, getenv func(string) string) string {
	d := getenv(displayEnv)
	if d == "" {
		return cannotOpen + "no display (WAYLAND_DISPLAY is not set)"
	}
	path := d
	if !filepath.IsAbs(path) {
		path = filepath.Join(getenv("XDG_RUNTIME_DIR"), d)
	}
	if !answers(ctx, netAddr{"unix", path}) {
		return fmt.Sprintf("%sno display (WAYLAND_DISPLAY=%s cannot be reached)", cannotOpen, d)
	}
	return ""
}
