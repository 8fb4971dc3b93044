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
// real backend session against the fake server of each generation (1.3,
// 1.2, 1.1), restarts the server five times while it broadcasts 200 calls
// with some broadcasts dropped, and checks a consumer receives all 200 in
// order, once each, and that every call's audio reaches the relay's cache
// by itself (prefetched, or inline on 1.1) — looked up in the cache, never
// downloaded on demand.
func TestRelayDeliversEveryCallThroughServerRestarts(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run([]string{"1.3", "1.2", "1.1"}[gen], func(t *testing.T) { deliverThroughRestarts(t, gen) })
	}
}

func deliverThroughRestarts(t *testing.T, gen backendtest.Generation) {
	srv := backendtest.NewServer(backendtest.Options{Generation: gen})
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
	r.prefetchPauses = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 2 * time.Second}
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
	// And for the history read that follows the welcome: calls added
	// before the server answered it would come from history (their
	// inline 1.1 audio then unused, the live frames being repeats).
	for hang := time.Now().Add(10 * time.Second); srv.Counters().HistoryRequests == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(hang) {
			t.Fatal("no history read after the welcome")
		}
	}
	audio := map[int64][]byte{}
	for i := 1; i <= 200; i++ {
		if i%40 == 0 {
			// Restart once the calls so far have reached the relay: a
			// restart kills frames still in the server's send queue, and
			// if every restart came before any live frame was read, all
			// 200 calls would come from history and 1.1's inline audio
			// would never be tried (a flake seen 6 times in 20 runs).
			for hang := time.Now().Add(10 * time.Second); r.Status().CallsReceived < int64(i-1); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(hang) {
					t.Fatalf("only %d of the first %d calls reached the relay before the restart", r.Status().CallsReceived, i-1)
				}
			}
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
	deadline := time.After(60 * time.Second) // a hang guard
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
			if e.Call.AudioURL != AudioPath(want) || e.Call.TalkgroupLabel != "Fire Dispatch" || len(e.Call.InlineAudio) != 0 {
				t.Fatalf("call %d: %+v", want, e.Call)
			}
			want++
		case <-deadline:
			t.Fatalf("only %d of 200 calls arrived", want-1)
		}
	}
	// Prefetch runs beside the feed: wait until it is done, looking in the
	// cache only (Relay.Audio would download what is missing).
	hang := time.Now().Add(60 * time.Second)
	for id, a := range audio {
		for {
			held, _ := r.Call(id)
			e, ok := c.Lookup(cacheKey(held))
			if ok {
				f, err := e.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(got, a) || e.ContentType != "audio/wav" {
					t.Fatalf("cached audio of call %d: %d bytes, type %q", id, len(got), e.ContentType)
				}
				break
			}
			if time.Now().After(hang) {
				t.Fatalf("call %d's audio never reached the cache (prefetch failures: %d)", id, r.Status().PrefetchFailures)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	st := srv.Counters()
	if gen == backendtest.Gen112 {
		// Live 1.1 calls bring their audio; only those that came from
		// history (dropped or missed broadcasts) are downloaded.
		if st.AudioRequests == 0 || st.AudioRequests >= 200 || st.AudioByCookie != 0 {
			t.Fatalf("1.1 counters %+v: want the history calls' audio fetched by Bearer, the rest inline", st)
		}
	} else if st.AudioByCookie < 200 || st.AudioByBearer != 0 {
		t.Fatalf("counters %+v: want every call's audio fetched by cookie", st)
	}
	if tg, sys, ok := r.Catalog().Talkgroup(1, 101); !ok || tg.Label != "Fire Dispatch" || sys.Label != "Harness County" {
		t.Fatalf("Catalog() = %+v", r.Catalog())
	}
}
