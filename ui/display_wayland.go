//go:build (linux || freebsd) && wayland

package ui

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"
)

// displayEnv is the environment variable naming the display the window
// process draws on (GLFW's Wayland back end).
const displayEnv = "WAYLAND_DISPLAY"

// probeTimeout bounds the look for the compositor.
const probeTimeout = 2 * time.Second

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
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Sprintf("%sno display (WAYLAND_DISPLAY=%s cannot be reached)", cannotOpen, d)
	}
	c.Close()
	return ""
}
