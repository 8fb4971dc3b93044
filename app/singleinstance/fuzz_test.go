package singleinstance

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzInstanceAnswer: whatever a stranger sends the instance's channel, it
// never shows the window (only a launch that proves the key does), never
// panics, and is done within its deadline.
func FuzzInstanceAnswer(f *testing.F) {
	f.Add([]byte("show\n"))
	f.Add([]byte(hello + " 0123456789abcdef0123456789abcdef\n" + "00\n"))
	f.Add([]byte(hello + " short\n"))
	f.Add(make([]byte, 600))
	key := make([]byte, 32)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var shown atomic.Bool
		in := &Instance{key: key, wait: 50 * time.Millisecond, onShow: func() { shown.Store(true) }}
		a, b := net.Pipe()
		defer a.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			in.answer(b)
			b.Close()
		}()
		go io.Copy(io.Discard, a) // its challenge, if any
		go func() {
			a.SetDeadline(time.Now().Add(time.Second))
			a.Write(msg) // returns once answer has read it all
			a.Close()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a hang guard
			t.Fatal("answer did not give up on a stranger")
		}
		if shown.Load() {
			t.Fatalf("%q showed the window without the key", msg)
		}
	})
}

// FuzzReadInfo: instance.json as anything; read capped, never a panic.
func FuzzReadInfo(f *testing.F) {
	f.Add([]byte(`{"network":"unix","addr":"/run/x","key":"` + string(make([]byte, 0)) + `"}`))
	f.Add([]byte(`{"network":"tcp","addr":"127.0.0.1:1","key":"0000000000000000000000000000000000000000000000000000000000000000","pid":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, infoFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := readInfo(dir)
		if err == nil && (in.Addr == "" || len(in.Key) != 64 || (in.Network != "unix" && in.Network != "tcp")) {
			t.Fatalf("accepted %+v", in)
		}
	})
}
