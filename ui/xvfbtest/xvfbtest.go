// Package xvfbtest runs a virtual X display (Xvfb) for tests and
// benchmarks: real windows, a real clipboard, screenshots, with no screen.
//
// It owns only that server's lifetime: the display number is Xvfb's own
// choice, so parallel tests never collide, and the server is stopped when
// the test ends.
package xvfbtest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start starts a virtual display and returns its name (for DISPLAY). Xvfb
// picks a free display number itself (-displayfd), so stale sockets and
// lock files left in /tmp by an X server that was killed cannot exhaust a
// range of numbers, and it is stopped with SIGTERM so it removes its own.
func Start(t testing.TB) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w} // fd 3 in the child
	var stderr strings.Builder
	x.Stderr = &stderr
	err = x.Start()
	w.Close()
	if err != nil {
		t.Fatalf("Xvfb (install with build/deps.sh): %v", err)
	}
	exited := make(chan struct{})
	go func() { x.Wait(); close(exited) }()
	t.Cleanup(func() {
		x.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			x.Process.Kill()
			<-exited
		}
	})
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		number <- strings.TrimSpace(line)
	}()
	select {
	case n := <-number:
		if n == "" {
			<-exited
			t.Fatalf("Xvfb did not start:\n%s", stderr.String())
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		x.Process.Kill()
		<-exited // stderr is complete, and no longer written, once Wait returns
		t.Fatalf("Xvfb announced no display within 30 s:\n%s", stderr.String())
	}
	return ""
}

// Dead returns the name of a display no X server serves (for DISPLAY): a
// number with neither a socket file nor an abstract socket, as a desktop
// session that ended leaves behind.
func Dead(t testing.TB) string {
	t.Helper()
	for n := 987; n < 1987; n++ {
		path := "/tmp/.X11-unix/X" + strconv.Itoa(n)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if c, err := net.Dial("unix", "@"+path); err == nil {
			c.Close()
			continue
		}
		return ":" + strconv.Itoa(n)
	}
	t.Fatal("every display from :987 to :1986 is served")
	return ""
}

// Refusing returns the name of a display whose server answers and hangs
// up at once (for DISPLAY): the display is there, the window is refused,
// as when an X server turns a client away. It lasts until the test ends.
func Refusing(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	if port < 6000 {
		t.Fatalf("port %d is below X11's 6000", port)
	}
	return "127.0.0.1:" + strconv.Itoa(port-6000)
}
