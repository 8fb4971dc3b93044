package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// errAlreadyRunning means another Earshot of this user runs; it was asked
// to bring its window forward.
var errAlreadyRunning = errors.New("earshot is already running")

// singleInstance is the claim on the per-user instance socket.
type singleInstance struct {
	ln     net.Listener
	path   string
	mu     sync.Mutex
	onShow func()
	done   chan struct{}
}

// instanceSocket is the per-user socket a running Earshot listens on.
func instanceSocket() string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, fmt.Sprintf("earshot-%d.sock", os.Getuid()))
}

// claimSingleInstance becomes the one Earshot of this user, or, when one
// already runs, asks it to show its window and returns errAlreadyRunning.
func claimSingleInstance(ctx context.Context) (*singleInstance, error) {
	return claimSingleInstanceAt(ctx, instanceSocket())
}

func claimSingleInstanceAt(ctx context.Context, path string) (*singleInstance, error) {
	d := net.Dialer{Timeout: time.Second}
	if c, err := d.DialContext(ctx, "unix", path); err == nil {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("show\n")); err == nil {
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.TrimSpace(line) == "ok" {
				return nil, errAlreadyRunning
			}
		}
	}
	// Nobody answered: a stale socket from a crash.
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("claim the instance socket %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	si := &singleInstance{ln: ln, path: path, done: make(chan struct{})}
	go si.serve()
	return si, nil
}

func (si *singleInstance) serve() {
	defer close(si.done)
	for {
		c, err := si.ln.Accept()
		if err != nil {
			return
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && strings.TrimSpace(line) == "show" {
			_, _ = c.Write([]byte("ok\n"))
			si.mu.Lock()
			show := si.onShow
			si.mu.Unlock()
			if show != nil {
				show()
			}
		}
		c.Close()
	}
}

// OnShow sets what a second launch triggers.
func (si *singleInstance) OnShow(f func()) {
	si.mu.Lock()
	si.onShow = f
	si.mu.Unlock()
}

// Close gives up the claim.
func (si *singleInstance) Close() {
	si.ln.Close()
	<-si.done
	_ = os.Remove(si.path)
}

// trayHostPresent reports whether a StatusNotifier host (a tray) is on the
// session bus: without one, a hidden window could never be found again.
func trayHostPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	return nameHasOwner(conn, "org.kde.StatusNotifierWatcher")
}

func nameHasOwner(conn *dbus.Conn, name string) bool {
	var has bool
	err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}
