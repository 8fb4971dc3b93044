package app

// displayPresent reports whether windows can be shown on goos with this
// environment: on Linux and the BSDs an X11 or Wayland display must be
// named; Windows and macOS always have their desktop (a process started
// there sees neither variable, and must not take that for a server with
// no screen).
func displayPresent(goos string, getenv func(string) string) bool {
	switch goos {
	case "windows", "darwin":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}
