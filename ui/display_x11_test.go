//go:build (linux || freebsd || netbsd || openbsd) && !wayland

package ui

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestX11AddressesAreWhereXlibLooks(t *testing.T) {
	for d, want := range map[string]string{
		":0":              "unix @/tmp/.X11-unix/X0 unix /tmp/.X11-unix/X0",
		":12.1":           "unix @/tmp/.X11-unix/X12 unix /tmp/.X11-unix/X12",
		"unix:3":          "unix @/tmp/.X11-unix/X3 unix /tmp/.X11-unix/X3",
		"127.0.0.1:10":    "tcp 127.0.0.1:6010",
		"[::1]:2.0":       "tcp [::1]:6002",
		"scanner-pc:0":    "tcp scanner-pc:6000",
		"/tmp/launch/x:0": "unix /tmp/launch/x:0",
	} {
		addrs, err := x11Addresses(d)
		if err != nil {
			t.Errorf("%q: %v", d, err)
			continue
		}
		var got []string
		for _, a := range addrs {
			got = append(got, a.network+" "+a.address)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", d, got, want)
		}
	}
	for _, bad := range []string{"bogus", ":", ":x", ":-1", ":99999"} {
		if _, err := x11Addresses(bad); err == nil {
			t.Errorf("%q was taken for a display", bad)
		}
	}
}

// DISPLAY comes from the environment: whatever it holds, the look for the
// display is at X11's own places (a socket of /tmp/.X11-unix, the path the
// name gives, or a TCP port from 6000), and never panics.
func FuzzX11Addresses(f *testing.F) {
	for _, d := range []string{":0", ":987", "unix:1.0", "127.0.0.1:10", "[::1]:2", "/tmp/launch/x:0", "bogus", ":", ""} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		addrs, err := x11Addresses(d)
		if err != nil {
			return
		}
		for _, a := range addrs {
			switch a.network {
			case "unix":
				if !strings.HasPrefix(a.address, "/tmp/.X11-unix/X") && !strings.HasPrefix(a.address, "@/tmp/.X11-unix/X") && a.address != d {
					t.Fatalf("%q: socket %q", d, a.address)
				}
			case "tcp":
				_, port, err := net.SplitHostPort(a.address)
				if n, _ := strconv.Atoi(port); err != nil || n < 6000 || n > 65535 {
					t.Fatalf("%q: address %q", d, a.address)
				}
			default:
				t.Fatalf("%q: network %q", d, a.network)
			}
		}
	})
}
