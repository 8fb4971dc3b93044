// Package singleinstance keeps one Earshot desktop process per user: the first
// launch claims the instance and listens for later launches; a later launch
// asks the running one to bring its window forward, and goes away.
//
// It owns the claim (an exclusive lock, filelock, on instance.lock in a
// private per-user directory, held for the process's life: the operating
// system lets go of it however the process ends), the channel a later
// launch talks over, and the proof each end gives the other. The channel is
// a Unix socket on Unix and a loopback TCP port on Windows, named in
// instance.json beside the lock; whichever it is, the two ends prove to
// each other that they know the key in instance.json (a private file)
// before anything happens, so another program that took the port, or a
// stranger that dials it, can neither be mistaken for Earshot nor make its
// window jump. It knows nothing of windows or Fyne: the caller says what
// "show" does (OnShow).
package singleinstance

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"earshot/relay/filelock"
	"earshot/relay/safefile"
)

// ErrAlreadyRunning means another Earshot of this user runs; it was asked
// to bring its window forward.
var ErrAlreadyRunning = errors.New("earshot is already running")

// File names in the instance directory.
const (
	lockFile = "instance.lock" // held by the running instance; holds its process id
	infoFile = "instance.json" // where it listens, and the key both ends prove
	sockFile = "instance.sock" // the Unix socket, on Unix
)

// Wait is how long a later launch waits for the running one to answer (it
// may be busy starting up) before giving up; it never takes over from one
// that is alive.
const Wait = 15 * time.Second

// info is instance.json.
type info struct {
	Network string `json:"network"` // "unix" or "tcp"
	Addr    string `json:"addr"`
	Key     string `json:"key"` // hex; proves each end to the other
	PID     int    `json:"pid"`
}

const maxInfoBytes = 4 << 10

// Instance is the claim on the per-user instance.
type Instance struct {
	dir  string
	lock *filelock.Lock
	ln   net.Listener
	key  []byte
	tr   transport
	wait time.Duration // how long a launch has to finish the exchange (answerWait)

	mu     sync.Mutex
	onShow func()
	done   chan struct{}
}

// Claim becomes the one Earshot of this user whose instance directory is
// dir (Dir gives the user's), or, when one already runs, asks it to show
// its window and returns ErrAlreadyRunning. It waits up to Wait for a
// running one that does not answer yet, and never takes over from it.
func Claim(ctx context.Context, dir string) (*Instance, error) {
	return claim(ctx, dir, Wait, platformTransport())
}

// ShowRunning asks the running instance in dir to show its window (nil),
// or says why it could not.
func ShowRunning(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, Wait)
	defer cancel()
	_, err := askToShow(ctx, dir)
	return err
}

func claim(ctx context.Context, dir string, wait time.Duration, tr transport) (*Instance, error) {
	if err := safefile.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("the instance directory: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		lock, err := filelock.TryLock(filepath.Join(dir, lockFile), filelock.Exclusive)
		if err == nil {
			return listen(dir, lock, tr)
		}
		if !errors.Is(err, filelock.ErrLocked) {
			return nil, err
		}
		connected, err := askToShow(ctx, dir)
		if err == nil {
			return nil, ErrAlreadyRunning
		}
		if connected || ctx.Err() != nil {
			pid := "?"
			if b, rerr := os.ReadFile(filepath.Join(dir, lockFile)); rerr == nil && len(b) < 32 {
				pid = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("another Earshot is running (process %s) but did not bring its window forward (%v); "+
				"no second relay was started: wait for it, or end that process", pid, err)
		}
		// Not listening (yet, or any more): it may be starting up or
		// shutting down. Try again.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listen sets up the channel of a fresh claim. Holding the lock, anything
// left in dir is a dead process's.
func listen(dir string, lock *filelock.Lock, tr transport) (*Instance, error) {
	fail := func(err error) (*Instance, error) {
		lock.Close()
		return nil, err
	}
	f := lock.File()
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(fmt.Appendf(nil, "%d\n", os.Getpid()), 0)
	}
	_ = os.Remove(filepath.Join(dir, infoFile))
	ln, err := tr.listen(dir)
	if err != nil {
		return fail(fmt.Errorf("listen for later launches: %w", err))
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		ln.Close()
		return fail(err)
	}
	data, _ := json.Marshal(info{Network: ln.Addr().Network(), Addr: ln.Addr().String(), Key: hex.EncodeToString(key), PID: os.Getpid()})
	if err := safefile.WriteAtomic(filepath.Join(dir, infoFile), data, 0o600); err != nil {
		ln.Close()
		return fail(err)
	}
	in := &Instance{dir: dir, lock: lock, ln: ln, key: key, tr: tr, wait: answerWait, done: make(chan struct{})}
	go in.serve()
	return in, nil
}

func readInfo(dir string) (info, error) {
	f, err := safefile.Open(filepath.Join(dir, infoFile))
	if err != nil {
		return info{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInfoBytes))
	if err != nil {
		return info{}, err
	}
	var in info
	if err := json.Unmarshal(data, &in); err != nil {
		return info{}, fmt.Errorf("%s is not what a running Earshot writes: %w", infoFile, err)
	}
	if in.Network != "unix" && in.Network != "tcp" || in.Addr == "" || len(in.Key) != 64 {
		return info{}, fmt.Errorf("%s is not what a running Earshot writes", infoFile)
	}
	return in, nil
}

// The exchange, one line each way at a time (every line is capped):
//
//	launch → instance: "earshot-show 1 <launch nonce>"
//	instance → launch: "<instance nonce> <HMAC(key, "instance", launch nonce)>"
//	launch → instance: "<HMAC(key, "launch", instance nonce)>"
//	instance → launch: "ok" (after it asked the window to show)
const (
	hello      = "earshot-show 1"
	maxLine    = 256
	answerWait = 2 * time.Second
)

func proof(key []byte, role, nonce string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(role + "\x00" + nonce))
	return hex.EncodeToString(m.Sum(nil))
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for b.Len() <= maxLine {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", errors.New("a line too long")
}

// askToShow asks the running instance to show its window. connected says
// whether it was reached at all (a failure after that means it is alive
// but did not answer in time, or is not Earshot).
func askToShow(ctx context.Context, dir string) (connected bool, err error) {
	in, err := readInfo(dir)
	if err != nil {
		return false, err
	}
	key, _ := hex.DecodeString(in.Key)
	var d net.Dialer
	c, err := d.DialContext(ctx, in.Network, in.Addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReader(c)
	mine := nonce()
	if _, err := fmt.Fprintf(c, "%s %s\n", hello, mine); err != nil {
		return true, err
	}
	line, err := readLine(r)
	if err != nil {
		return true, err
	}
	theirs, mac, ok := strings.Cut(line, " ")
	if !ok || len(theirs) != 32 || !hmac.Equal([]byte(mac), []byte(proof(key, "instance", mine))) {
		return true, fmt.Errorf("what answers at %s is not the running Earshot", in.Addr)
	}
	if _, err := fmt.Fprintf(c, "%s\n", proof(key, "launch", theirs)); err != nil {
		return true, err
	}
	line, err = readLine(r)
	if err != nil {
		return true, err
	}
	if line != "ok" {
		return true, fmt.Errorf("unexpected answer %q", line)
	}
	return true, nil
}

func (in *Instance) serve() {
	defer close(in.done)
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return
		}
		in.answer(c)
		c.Close()
	}
}

// answer takes one launch's request: it shows the window only for one
// that proves it knows the key. Launches are answered one at a time.
func (in *Instance) answer(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(in.wait))
	r := bufio.NewReader(c)
	line, err := readLine(r)
	if err != nil {
		return
	}
	theirs, ok := strings.CutPrefix(line, hello+" ")
	if !ok || len(theirs) != 32 {
		return
	}
	mine := nonce()
	if _, err := fmt.Fprintf(c, "%s %s\n", mine, proof(in.key, "instance", theirs)); err != nil {
		return
	}
	line, err = readLine(r)
	if err != nil || !hmac.Equal([]byte(line), []byte(proof(in.key, "launch", mine))) {
		return
	}
	if _, err := c.Write([]byte("ok\n")); err != nil {
		return
	}
	in.mu.Lock()
	show := in.onShow
	in.mu.Unlock()
	if show != nil {
		show()
	}
}

// OnShow sets what a later launch triggers (it runs on the instance's own
// goroutine: hand UI work to the UI's thread).
func (in *Instance) OnShow(f func()) {
	in.mu.Lock()
	in.onShow = f
	in.mu.Unlock()
}

// Close gives up the claim: the channel first, then the lock.
func (in *Instance) Close() {
	in.ln.Close()
	<-in.done
	_ = os.Remove(filepath.Join(in.dir, infoFile))
	in.tr.cleanup(in.dir)
	_ = in.lock.Close()
}

// transport is the channel a later launch reaches the instance over.
type transport interface {
	listen(dir string) (net.Listener, error)
	cleanup(dir string)
}

// unixSocket is a Unix socket in the (private) instance directory.
type unixSocket struct{}

func (unixSocket) listen(dir string) (net.Listener, error) {
	path := filepath.Join(dir, sockFile)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	_ = os.Chmod(path, 0o600)
	return ln, nil
}

func (unixSocket) cleanup(dir string) { _ = os.Remove(filepath.Join(dir, sockFile)) }

// loopbackPort is a TCP port on 127.0.0.1 (Windows: no Unix sockets there
// that every supported version has). Any local program can dial it; the
// proof keeps them out.
type loopbackPort struct{}

func (loopbackPort) listen(string) (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
func (loopbackPort) cleanup(string)                      {}
