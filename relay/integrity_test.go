package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
)

// liveRelay runs a relay core on a real backend session against srv, with
// its audio cache in dir, until the test ends or stop is called.
type liveRelay struct {
	r    *Relay
	sub  interface{ Events() <-chan event.Event }
	stop func()
}

func startLiveRelay(t *testing.T, srv *backendtest.Server, dir string) *liveRelay {
	t.Helper()
	sess, err := backend.New(backend.Options{ServerURL: srv.URL(), Username: "listener", Password: "listener-pass",
		BackfillEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(dir, 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Backend: sess, Cache: c, IsUnavailable: func(err error) bool { return errors.Is(err, backend.ErrCallUnavailable) }})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			c.Close()
		}
	}
	t.Cleanup(stop)
	lr := &liveRelay{r: r, sub: sub, stop: stop}
	lr.waitFor(t, "the live feed", func(e event.Event) bool {
		return e.Type == event.TypeStatus && e.Status.State == event.StateConnected
	})
	// And the history read after the welcome, so what is added next
	// arrives live.
	for hang := time.Now().Add(20 * time.Second); srv.Counters().HistoryRequests == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(hang) {
			t.Fatal("no history read after the welcome")
		}
	}
	return lr
}

// waitFor reads events until ok accepts one.
func (lr *liveRelay) waitFor(t *testing.T, what string, ok func(event.Event) bool) {
	t.Helper()
	hang := time.After(30 * time.Second)
	for {
		select {
		case e, open := <-lr.sub.Events():
			if !open {
				t.Fatalf("subscription closed waiting for %s", what)
			}
			if ok(e) {
				return
			}
		case <-hang:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (lr *liveRelay) audio(t *testing.T, id int64) []byte {
	t.Helper()
	e, err := lr.r.Audio(context.Background(), id)
	if err != nil {
		t.Fatalf("Audio(%d): %v", id, err)
	}
	f, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return b
}

func isCall(id int64) func(event.Event) bool {
	return func(e event.Event) bool { return e.Type == event.TypeCall && e.Call.ID == id }
}

// TestCachedAudioIsTheCallsOwnAfterAServerReset: a server reinstalled at
// the same address numbers its calls from 1 again. The relay had call 1's
// audio (8 KB) cached; the new call 1 (4 KB, another talkgroup, later) must
// be served with its own bytes — live, and after a restart of the relay on
// the same cache. Before, the cache was keyed by id alone and served the
// old call's bytes for the new call without asking the server.
func TestCachedAudioIsTheCallsOwnAfterAServerReset(t *testing.T) {
	srv := backendtest.NewServer(backendtest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	old := backendtest.SynthWAV(0.5, 440, 8000) // 8 KB
	lr := startLiveRelay(t, srv, dir)
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: old, DateTime: time.Now().Add(-time.Hour)})
	lr.waitFor(t, "the old call 1", isCall(1))
	if got := lr.audio(t, 1); !bytes.Equal(got, old) {
		t.Fatalf("old call 1: %d bytes, want its %d", len(got), len(old))
	}

	srv.RestoreCalls(0)                            // reinstalled
	fresh := backendtest.SynthWAV(0.25, 880, 8000) // 4 KB
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 202, Audio: fresh})
	lr.waitFor(t, "the reset", func(e event.Event) bool { return e.Type == event.TypeReset })
	lr.waitFor(t, "the new call 1", isCall(1))
	if got := lr.audio(t, 1); !bytes.Equal(got, fresh) {
		t.Fatalf("new call 1 served %d bytes, want its own %d (the old call's are %d)", len(got), len(fresh), len(old))
	}

	// A restart on the same cache, the server reset once more.
	lr.stop()
	srv.RestoreCalls(0)
	third := backendtest.SynthWAV(0.1, 660, 8000)
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 303, Audio: third, DateTime: time.Now().Add(time.Minute)})
	lr2 := startLiveRelay(t, srv, dir)
	if _, ok := lr2.r.Call(1); !ok {
		lr2.waitFor(t, "call 1 from history", isCall(1))
	}
	if got := lr2.audio(t, 1); !bytes.Equal(got, third) {
		t.Fatalf("after a restart call 1 served %d bytes, want its own %d", len(got), len(third))
	}
}

// TestCacheEntriesOfTheOldFormatAreNotServed: an entry written before
// entries were bound to their call (named by the bare id) is not trusted:
// the call's audio is fetched from the server, and so is the audio of a
// call the relay holds no record of, at every request.
func TestCacheEntriesOfTheOldFormatAreNotServed(t *testing.T) {
	srv := backendtest.NewServer(backendtest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	stale := []byte("RIFF\x00\x00\x00\x00WAVEstale bytes of another server's call 1")
	if err := os.WriteFile(filepath.Join(dir, "1.audio"), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	lr := startLiveRelay(t, srv, dir)
	audio := backendtest.SynthWAV(0.2, 440, 8000)
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio})
	lr.waitFor(t, "call 1", isCall(1))
	if got := lr.audio(t, 1); !bytes.Equal(got, audio) {
		t.Fatalf("call 1 served %q, want the server's bytes", got[:min(len(got), 48)])
	}

	// Call 2 is on the server but not held by the relay (its broadcast
	// was lost and nothing has read history since): no record, no trust.
	srv.DropBroadcasts(1)
	other := backendtest.SynthWAV(0.3, 550, 8000)
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: other})
	before := srv.Counters().AudioRequests
	for range 2 {
		if got := lr.audio(t, 2); !bytes.Equal(got, other) {
			t.Fatalf("unheld call 2: %d bytes, want %d", len(got), len(other))
		}
	}
	if n := srv.Counters().AudioRequests - before; n != 2 {
		t.Errorf("unheld call 2 was downloaded %d times for 2 requests, want 2 (nothing to check a cached copy against)", n)
	}
}
