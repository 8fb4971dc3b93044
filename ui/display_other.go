//go:build !((linux || freebsd || netbsd || openbsd) && !wayland) && !((linux || freebsd) && wayland)

package ui

import "context"

// displayEnv names no variable: Windows and macOS always have their one
// display.
const displayEnv = ""

// displayProblem: Windows and macOS have their display (a failure of the
// graphics library is still caught, and worded, around the run loop).
func displayProblem(context.Context, func(string) string) string { return "" }
