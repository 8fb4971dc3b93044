// Package xvfbtest runs a virtual X display (Xvfb) for tests and
// benchmarks: real windows, a real clipboard, screenshots, with no screen.
//
// It owns only that server's lifetime: each display gets a number drawn
// from a wide range, so parallel tests (and packages) never share or
// quickly reuse one, and the server is stopped when the test ends.
package xvfbtest

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start starts a virtual display and returns its name (for DISPLAY).
//
// The number is drawn at random from a wide range, not left to
// -displayfd's first free one: test packages run in parallel, and a
// display number that one package's Xvfb had just given up was taken
// again at once by another's while the first was still ending — a window
// then opened on the dying server ("X11: Failed to open display :0"). A
// number whose lock file or socket is there is skipped, and one Xvfb
// refuses (a server we could not see) is tried again with another, so
// stale files in /tmp cannot exhaust the range. -displayfd still says when
// the server is ready. It is stopped with SIGTERM so it removes its files.
func Start(t testing.TB) string {
	t.Helper()
	var refusals []string
	for range 20 {
		n := 2000 + rand.IntN(30000) // above Dead's numbers
		if inUse(n) {
			continue
		}
		display, stderr, ok := startOn(t, n)
		if ok {
			return display
		}
		refusals = append(refusals, stderr)
	}
	t.Fatalf("Xvfb did not start (install it with build/deps.sh):\n%s", strings.Join(refusals, "\n"))
	return ""
}

// inUse says whether display n has a lock file or a socket.
func inUse(n int) bool {
	for _, path := range []string{"/tmp/.X" + strconv.Itoa(n) + "-lock", "/tmp/.X11-unix/X" + strconv.Itoa(n)} {
		if _, err := os.Lstat(path); err == nil {
			return true
		}
	}
	return false
}

// startOn starts Xvfb on display n and waits until it is ready; ok is
// false (with Xvfb's complaint) when it would not serve n.
func startOn(t testing.TB, n int) (display, stderrText string, ok bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", ":"+strconv.Itoa(n), "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp")
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
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		number <- strings.TrimSpace(line)
	}()
	select {
	case got := <-number:
		if got == "" { // it exited without serving: the number was taken
			<-exited
			return "", stderr.String(), false
		}
		t.Cleanup(func() {
			x.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				x.Process.Kill()
				<-exited
			}
		})
		return ":" + got, "", true
	case <-time.After(30 * time.Second):
		x.Process.Kill()
		<-exited // stderr is complete, and no longer written, once Wait returns
		t.Fatalf("Xvfb announced no display within 30 s:\n%s", stderr.String())
	}
	return "", "", false
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
