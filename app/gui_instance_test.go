//go:build !headless

package app

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A first instance that is alive but slow to answer (busy, or stuck) is
// never taken over: a second launch must not start a second relay.
func TestSingleInstance_SlowFirstIsNeverTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earshot.sock")
	first, err := claimSingleInstanceWait(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	release := make(chan struct{})
	shown := make(chan struct{}, 4)
	first.OnShow(func() { shown <- struct{}{}; <-release }) // the first show wedges it
	defer close(release)
	if _, err := claimSingleInstanceWait(context.Background(), path, 5*time.Second); !errors.Is(err, errAlreadyRunning) {
		t.Fatalf("second launch = %v, want errAlreadyRunning", err)
	}
	<-shown
	// The first is now busy: a third launch connects but gets no answer.
	third, err := claimSingleInstanceWait(context.Background(), path, 300*time.Millisecond)
	if third != nil {
		third.Close()
		t.Fatal("a launch took over from a live first instance that was slow to answer")
	}
	if err == nil || errors.Is(err, errAlreadyRunning) || !strings.Contains(err.Error(), "no second relay") ||
		!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("third launch = %v, want a did-not-answer error naming the first's process", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the first instance's socket is gone: %v", err)
	}
}

// A first instance that holds the claim but does not listen yet (starting
// up) is waited for, and still not taken over when the wait ends.
func TestSingleInstance_StartingFirstIsWaitedForNotTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earshot.sock")
	// Another process's lock: flock locks conflict between open files,
	// even in one process.
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	si, err := claimSingleInstanceWait(context.Background(), path, 300*time.Millisecond)
	if si != nil {
		si.Close()
		t.Fatal("a launch took over while another process holds the instance lock")
	}
	if err == nil || errors.Is(err, errAlreadyRunning) {
		t.Fatalf("claim = %v, want a did-not-answer error", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the waiting launch created the socket: %v", err)
	}
	// The first one comes up within the wait: the second is told it runs.
	done := make(chan error, 1)
	go func() {
		_, err := claimSingleInstanceWait(context.Background(), path, 10*time.Second)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		c.Read(buf)
		c.Write([]byte("ok\n"))
	}()
	if err := <-done; !errors.Is(err, errAlreadyRunning) {
		t.Fatalf("claim while the first comes up = %v, want errAlreadyRunning", err)
	}
}

// A socket left by a process that died is replaced.
func TestSingleInstance_StaleSocketOfADeadProcessIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earshot.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the socket file stays; nobody listens: a crash
	si, err := claimSingleInstanceWait(context.Background(), path, time.Second)
	if err != nil {
		t.Fatalf("claim over a stale socket: %v", err)
	}
	defer si.Close()
	if _, err := claimSingleInstanceWait(context.Background(), path, 5*time.Second); !errors.Is(err, errAlreadyRunning) {
		t.Fatalf("after the takeover a second claim = %v, want errAlreadyRunning", err)
	}
}
