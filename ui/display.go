package ui

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"earshot/ui/ipc"
)

// cannotOpen starts every reason the window process gives for showing no
// window: the listener reads it in a notification and the tray's tooltip.
const cannotOpen = ipc.CannotOpen

// probeTimeout bounds the look for the display's server.
const probeTimeout = 2 * time.Second

// netAddr is where a display's server may listen.
type netAddr struct{ network, address string }

// answers reports whether a server listens at one of addrs.
func answers(ctx context.Context, addrs ...netAddr) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var dialer net.Dialer
	for _, a := range addrs {
		if c, err := dialer.DialContext(ctx, a.network, a.address); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// graphicsFailure words why the graphics library could not start (what the
// panic out of Fyne's run loop said), with the last platform error the
// library logged when there was one.
func graphicsFailure(display string, recovered any, platform string) string {
	detail := platform
	if detail == "" {
		detail = fmt.Sprint(recovered)
	}
	if display != "" {
		return fmt.Sprintf("%sthe display %s %s (%s)", cannotOpen, display, ipc.DisplayRefused, detail)
	}
	return fmt.Sprintf("%sthe graphics library did not start (%s)", cannotOpen, detail)
}

// platformErrors remembers the last platform error the graphics library
// logged (GLFW logs "PlatformError: X11: Failed to open display :9" through
// the standard logger and carries on, to panic a moment later).
type platformErrors struct {
	mu   sync.Mutex
	last string
}

func (p *platformErrors) Write(b []byte) (int, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if i := bytes.Index(line, []byte("PlatformError: ")); i >= 0 {
			text := strings.TrimSpace(string(line[i+len("PlatformError: "):]))
			if len(text) > 200 {
				text = text[:200]
			}
			p.mu.Lock()
			p.last = strings.ToValidUTF8(text, "")
			p.mu.Unlock()
		}
	}
	return len(b), nil
}

func (p *platformErrors) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
