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
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

// errAlreadyRunning means another Earshot of this user runs; it was asked
// to bring its window forward.
var errAlreadyRunning = errors.New("earshot is already running")

// singleInstance is the claim on the per-user instance: an exclusive lock
// on a lock file, held for the process's life (the kernel lets go of it
// when the process dies, however it dies), and the socket a second launch
// talks to.
type singleInstance struct {
	lock   *os.File
	ln     net.Listener
	path   string
	mu     sync.Mutex
	onShow func()
	done   chan struct{}
}

// instanceSocket is the per-user socket a running Earshot listens on; its
// lock file is beside it.
func instanceSocket() string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, fmt.Sprintf("earshot-%d.sock", os.Getuid()))
}

// instanceWait is how long a second launch waits for the first to answer
// (it may be busy starting up) before giving up; it never takes over from
// a first that is alive.
const instanceWait = 15 * time.Second

// claimSingleInstance becomes the one Earshot of this user, or, when one
// already runs, asks it to show its window and returns errAlreadyRunning.
func claimSingleInstance(ctx context.Context) (*singleInstance, error) {
	return claimSingleInstanceAt(ctx, instanceSocket())
}

// claimSingleInstanceAt claims the instance whose socket is path, waiting
// up to instanceWait for a running one to answer.
func claimSingleInstanceAt(ctx context.Context, path string) (*singleInstance, error) {
	return claimSingleInstanceWait(ctx, path, instanceWait)
}

// claimSingleInstanceWait claims the instance whose socket is path. Whoever
// holds path+".lock" is the running instance: while it lives, a second
// launch only asks it to show its window (waiting up to wait for it to
// listen and answer) and never starts a second relay, even when it does
// not answer. A socket left by a process that died is stale and replaced.
func claimSingleInstanceWait(ctx context.Context, path string, wait time.Duration) (*singleInstance, error) {
	deadline := time.Now().Add(wait)
	for {
		lock, err := lockInstance(path + ".lock")
		if err != nil {
			return nil, err
		}
		if lock != nil {
			return listenInstance(lock, path)
		}
		connected, err := askToShow(ctx, path, deadline)
		if err == nil {
			return nil, errAlreadyRunning
		}
		if connected || time.Now().After(deadline) || ctx.Err() != nil {
			pid := "?"
			if b, rerr := os.ReadFile(path + ".lock"); rerr == nil {
				pid = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("another Earshot is running (process %s) but did not bring its window forward (%v); no second relay was started: wait for it, or end that process", pid, err)
		}
		// Not listening (yet, or any more): it may be starting up or
		// shutting down. Try again.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockInstance takes the instance lock, or returns nil when another
// process holds it.
func lockInstance(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the instance lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Who holds it, for a second launch's message.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	return f, nil
}

// listenInstance listens on the instance socket; holding the lock, any
// socket file there is a dead process's.
func listenInstance(lock *os.File, path string) (*singleInstance, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("claim the instance socket %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	si := &singleInstance{lock: lock, ln: ln, path: path, done: make(chan struct{})}
	go si.serve()
	return si, nil
}

// askToShow asks the running instance to show its window. connected says
// whether it was reached at all (then a failure means it is alive but did
// not answer by deadline).
func askToShow(ctx context.Context, path string, deadline time.Time) (connected bool, err error) {
	d := net.Dialer{Deadline: deadline}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte("show\n")); err != nil {
		return true, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return true, err
	}
	if strings.TrimSpace(line) != "ok" {
		return true, fmt.Errorf("unexpected answer %q", strings.TrimSpace(line))
	}
	return true, nil
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

// Close gives up the claim: the socket first, then the lock.
func (si *singleInstance) Close() {
	si.ln.Close()
	<-si.done
	_ = os.Remove(si.path)
	si.lock.Close() // releases the lock
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

// sessionBusPresent reports whether a session bus answers: the tray icon
// is set up only then (a tray host that starts later finds it there), and
// never without one (fyne#6403).
func sessionBusPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func nameHasOwner(conn *dbus.Conn, name string) bool {
	var has bool
	err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	return err == nil && has
}
