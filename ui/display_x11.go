//go:build (linux || freebsd || netbsd || openbsd) && !wayland

package ui

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
)

// displayEnv is the environment variable naming the display the window
// process draws on (GLFW's X11 back end).
const displayEnv = "DISPLAY"

// displayProblem says why no window can open on the display getenv names
// ("" when its X server answers): GLFW would otherwise log the failure and
// panic a moment later.
func displayProblem(ctx context.Context, getenv func(string) string) string {
	d := getenv(displayEnv)
	if d == "" {
		return cannotOpen + "no display (DISPLAY is not set)"
	}
	addrs, err := x11Addresses(d)
	if err != nil {
		return fmt.Sprintf("%sno display (DISPLAY=%q: %v)", cannotOpen, clip(d), err)
	}
	if answers(ctx, addrs...) {
		return ""
	}
	return fmt.Sprintf("%sno display (DISPLAY=%s cannot be reached)", cannotOpen, clip(d))
}

// clip keeps a display name short enough to word.
func clip(d string) string {
	if len(d) > 64 {
		d = d[:64] + "…"
	}
	return strings.ToValidUTF8(d, "?")
}

// x11Addresses are where the X server of display d ([host]:number[.screen])
// listens, in the order Xlib tries them.
func x11Addresses(d string) ([]netAddr, error) {
	colon := strings.LastIndexByte(d, ':')
	if colon < 0 {
		return nil, fmt.Errorf("not a display name (want [host]:number)")
	}
	host, num := d[:colon], d[colon+1:]
	if dot := strings.IndexByte(num, '.'); dot >= 0 {
		num = num[:dot]
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 65535-6000 {
		return nil, fmt.Errorf("not a display number %q", num)
	}
	switch {
	case strings.HasPrefix(host, "/"): // a socket's path (XQuartz's launchd socket)
		return []netAddr{{"unix", d}}, nil
	case host == "" || host == "unix":
		path := "/tmp/.X11-unix/X" + strconv.Itoa(n)
		addrs := []netAddr{{"unix", path}}
		if runtime.GOOS == "linux" {
			addrs = append([]netAddr{{"unix", "@" + path}}, addrs...)
		}
		return addrs, nil
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" || strings.ContainsAny(host, "[]/ \t\n") {
		return nil, fmt.Errorf("not a host name %q", host)
	}
	return []netAddr{{"tcp", net.JoinHostPort(host, strconv.Itoa(6000+n))}}, nil
}
