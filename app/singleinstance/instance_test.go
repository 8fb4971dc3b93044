package singleinstance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay/filelock"
	"earshot/relay/safefile"
)

// transports are every channel the instance can use; each runs here (the
// loopback port is Windows', proved on Linux).
var transports = []struct {
	name string
	tr   transport
}{
	{"unix socket", unixSocket{}},
	{"loopback port (Windows)", loopbackPort{}},
}

func eachTransport(t *testing.T, f func(t *testing.T, tr transport)) {
	for _, c := range transports {
		t.Run(c.name, func(t *testing.T) { f(t, c.tr) })
	}
}

func TestSecondLaunchShowsTheFirst(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		dir := filepath.Join(t.TempDir(), "run")
		first, err := claim(context.Background(), dir, 10*time.Second, tr)
		if err != nil {
			t.Fatal(err)
		}
		shown := make(chan struct{}, 1)
		first.OnShow(func() { shown <- struct{}{} })
		if _, err := claim(context.Background(), dir, 10*time.Second, tr); !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("second claim = %v, want ErrAlreadyRunning", err)
		}
		select {
		case <-shown:
		case <-time.After(10 * time.Second):
			t.Fatal("the first instance was not asked to show its window")
		}
		if err := ShowRunning(context.Background(), dir); err != nil {
			t.Fatalf("ShowRunning: %v", err)
		}
		<-shown
		for _, name := range []string{infoFile, lockFile} {
			if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: mode %v, %v", name, st.Mode().Perm(), err)
			}
		}
		if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
			t.Fatalf("the instance directory is %v", st.Mode().Perm())
		}
		first.Close()
		// After the first exits, a new one takes over.
		again, err := claim(context.Background(), dir, 10*time.Second, tr)
		if err != nil {
			t.Fatalf("claim after close: %v", err)
		}
		again.Close()
	})
}

// A first instance that is alive but slow to answer (busy, or stuck) is
// never taken over: a later launch must not start a second relay.
func TestSlowFirstIsNeverTakenOver(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		dir := t.TempDir()
		first, err := claim(context.Background(), dir, time.Second, tr)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		release := make(chan struct{})
		shown := make(chan struct{}, 4)
		first.OnShow(func() { shown <- struct{}{}; <-release }) // the first show wedges it
		defer close(release)
		if _, err := claim(context.Background(), dir, 5*time.Second, tr); !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("second launch = %v, want ErrAlreadyRunning", err)
		}
		<-shown
		// The first is now busy: a third launch connects but gets no answer.
		third, err := claim(context.Background(), dir, 300*time.Millisecond, tr)
		if third != nil {
			third.Close()
			t.Fatal("a launch took over from a live first instance that was slow to answer")
		}
		if err == nil || errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "no second relay") ||
			!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
			t.Fatalf("third launch = %v, want a did-not-answer error naming the first's process", err)
		}
	})
}

// A first instance that holds the claim but does not listen yet (starting
// up) is waited for, and still not taken over when the wait ends.
func TestStartingFirstIsWaitedForNotTakenOver(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		dir := t.TempDir()
		// Another holder of the lock (locks conflict between open files,
		// even in one process).
		held, err := filelock.TryLock(filepath.Join(dir, lockFile), filelock.Exclusive)
		if err != nil {
			t.Fatal(err)
		}
		si, err := claim(context.Background(), dir, 300*time.Millisecond, tr)
		if si != nil {
			si.Close()
			t.Fatal("a launch took over while another process holds the instance lock")
		}
		if err == nil || errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("claim = %v, want a did-not-answer error", err)
		}
		// The first one comes up within the wait: the later one is told it runs.
		done := make(chan error, 1)
		go func() {
			_, err := claim(context.Background(), dir, 10*time.Second, tr)
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		// The holder starts listening, keeping its lock (letting go of it
		// first would let the waiting launch take it: a flake seen here).
		first, err := listen(dir, held, tr)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		if err := <-done; !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("claim while the first comes up = %v, want ErrAlreadyRunning", err)
		}
	})
}

// What a process that died left behind (its socket, its instance.json) is
// replaced by the next launch.
func TestLeftoversOfADeadProcessAreReplaced(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		dir := t.TempDir()
		first, err := claim(context.Background(), dir, time.Second, tr)
		if err != nil {
			t.Fatal(err)
		}
		// A crash: the channel and the lock go, the files stay.
		first.ln.Close()
		<-first.done
		first.lock.Close()
		si, err := claim(context.Background(), dir, time.Second, tr)
		if err != nil {
			t.Fatalf("claim over a dead process's files: %v", err)
		}
		defer si.Close()
		if _, err := claim(context.Background(), dir, 5*time.Second, tr); !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("after the takeover a second claim = %v, want ErrAlreadyRunning", err)
		}
	})
}

// TestOnlyAProvenLaunchShowsTheWindow: a program that dials the channel
// without the key gets nothing shown, and a launch that reaches something
// other than Earshot (another program on the port) is told so.
func TestOnlyAProvenLaunchShowsTheWindow(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr transport) {
		dir := t.TempDir()
		first, err := claim(context.Background(), dir, time.Second, tr)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		shown := make(chan struct{}, 4)
		first.OnShow(func() { shown <- struct{}{} })
		in, err := readInfo(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, script := range [][]string{
			{"show"}, // the old protocol
			{hello + " " + strings.Repeat("a", 32), strings.Repeat("0", 64)}, // a wrong proof
			{strings.Repeat("x", 4096)},                                      // an over-long line
		} {
			c, err := net.Dial(in.Network, in.Addr)
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			for i, line := range script {
				fmt.Fprintf(c, "%s\n", line)
				if i == 0 && len(script) > 1 {
					r.ReadString('\n')
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if rest, _ := r.ReadString('\n'); rest == "ok\n" {
				t.Fatalf("%q was answered ok", script)
			}
			c.Close()
		}
		select {
		case <-shown:
			t.Fatal("the window was shown for a launch that proved nothing")
		default:
		}

		// An impostor on the channel's address: instance.json says where it
		// is, but it cannot prove the key.
		imp, err := tr.listen(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer imp.Close()
		go func() {
			for {
				c, err := imp.Accept()
				if err != nil {
					return
				}
				r := bufio.NewReader(c)
				r.ReadString('\n')
				fmt.Fprintf(c, "%s %s\n", strings.Repeat("b", 32), strings.Repeat("c", 64))
				c.Close()
			}
		}()
		fake := in
		fake.Addr = imp.Addr().String()
		other := t.TempDir()
		if err := writeInfoForTest(other, fake); err != nil {
			t.Fatal(err)
		}
		connected, err := askToShow(context.Background(), other)
		if !connected || err == nil || !strings.Contains(err.Error(), "not the running Earshot") {
			t.Fatalf("asking an impostor: connected=%v err=%v", connected, err)
		}
	})
}

func TestALinkedInstanceDirIsRefused(t *testing.T) {
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	os.Mkdir(elsewhere, 0o755)
	link := filepath.Join(base, "run")
	os.Symlink(elsewhere, link)
	if _, err := claim(context.Background(), link, time.Second, unixSocket{}); !errors.Is(err, safefile.ErrLink) {
		t.Fatalf("claim in a linked directory: %v, want ErrLink", err)
	}
	entries, _ := os.ReadDir(elsewhere)
	if len(entries) != 0 {
		t.Fatalf("files were made through the link: %v", entries)
	}
}

// TestDirIsNeverShared: without a usable XDG_RUNTIME_DIR the instance
// lives in the user's cache directory, never in /tmp (where another user
// could plant a link in its place).
func TestDirIsNeverShared(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("HOME", home)
	private := filepath.Join(home, "runtime")
	os.Mkdir(private, 0o700)
	open := filepath.Join(home, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	for _, c := range []struct{ rt, want string }{
		{private, filepath.Join(private, "earshot")},
		{"", filepath.Join(home, "cache", "earshot", "run")},
		{open, filepath.Join(home, "cache", "earshot", "run")},           // others may enter it
		{"relative/dir", filepath.Join(home, "cache", "earshot", "run")}, // not absolute
	} {
		t.Setenv("XDG_RUNTIME_DIR", c.rt)
		got, err := Dir()
		if err != nil || got != c.want {
			t.Errorf("XDG_RUNTIME_DIR=%q: Dir() = %q, %v; want %q", c.rt, got, err, c.want)
		}
		if strings.HasPrefix(got, os.TempDir()+string(filepath.Separator)) && !strings.HasPrefix(got, home) {
			t.Errorf("Dir() = %q is in the shared temporary directory", got)
		}
	}
}
