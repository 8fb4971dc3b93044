package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
)

// TestRelayDeliversEveryCallThroughServerRestarts runs the relay core on a
// real backend session against the fake server, restarts the server five
// times while it broadcasts 200 calls with some broadcasts dropped, and
// checks a consumer receives all 200 in order, once each, and that every
// call's audio is in the relay's cache.
func TestRelayDeliversEveryCallThroughServerRestarts(t *testing.T) {
	srv := backendtest.NewServer(backendtest.Options{})
	defer srv.Close()
	srv.AddSystem(1, "Harness County")
	srv.AddTalkgroup(1, 101, "Fire Dispatch", "", "", "", "")
	sess, err := backend.New(backend.Options{ServerURL: srv.URL(), Username: "listener", BackfillEvery: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Login(context.Background(), "listener", "listener-pass"); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := New(Options{Backend: sess, Cache: c, IsUnavailable: func(err error) bool { return errors.Is(err, backend.ErrCallUnavailable) }})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Wait for the live feed before broadcasting.
	for st := r.Status().Backend.State; st != event.StateConnected; st = r.Status().Backend.State {
		select {
		case <-sub.Events():
		case <-time.After(10 * time.Second):
			t.Fatalf("backend never connected (state %q)", st)
		}
	}
	audio := map[int64][]byte{}
	for i := 1; i <= 200; i++ {
		if i%40 == 0 {
			if err := srv.Restart(); err != nil {
				t.Error(err)
			}
		}
		if i%30 == 0 {
			srv.DropBroadcasts(3)
		}
		a := backendtest.SynthWAV(0.1, float64(300+i), 8000)
		audio[srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: a})] = a
	}
	var want int64 = 1
	deadline := time.After(60 * time.Second)
	for want <= 200 {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription closed: %v", sub.Err())
			}
			if e.Type != event.TypeCall {
				continue
			}
			if e.Call.ID != want {
				t.Fatalf("got call %d, want %d (order, gaps or repeats)", e.Call.ID, want)
			}
			if e.Call.AudioURL != AudioPath(want) || e.Call.TalkgroupLabel != "Fire Dispatch" {
				t.Fatalf("call %d: %+v", want, e.Call)
			}
			want++
		case <-deadline:
			t.Fatalf("only %d of 200 calls arrived", want-1)
		}
	}
	for id, a := range audio {
		e, err := r.Audio(context.Background(), id)
		if err != nil {
			t.Fatalf("audio %d: %v", id, err)
		}
		f, _ := e.Open()
		got, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(got, a) || e.ContentType != "audio/wav" {
			t.Fatalf("audio %d: %d bytes, type %q", id, len(got), e.ContentType)
		}
	}
}
