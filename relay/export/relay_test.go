package export

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/audio/audiotest"
	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
)

// Through a relay core in the process (the window's export), calls older
// than those the relay holds come from the server's history.
func TestFromRelay_ExportsTheServersHistory(t *testing.T) {
	srv := backendtest.NewServer(backendtest.Options{PublicAccess: true})
	defer srv.Close()
	srv.AddSystem(1, "Harness County")
	srv.AddTalkgroup(1, 101, "Fire Dispatch", "", "", "", "")
	base := time.Now().Add(-6 * time.Hour).Truncate(time.Second)
	for i := range 3 {
		srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: base.Add(time.Duration(i) * time.Minute),
			Audio: backendtest.SynthWAV(0.5, 440, 8000)})
	}
	srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: base.Add(-time.Hour), Audio: backendtest.SynthWAV(0.5, 440, 8000)})
	sess, err := backend.New(backend.Options{ServerURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	core, err := relay.New(relay.Options{Backend: sess, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- core.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(audiotest.HangGuard)
	for core.Status().Backend.State != event.StateConnected {
		if time.Now().After(deadline) {
			t.Fatal("the relay never connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := filepath.Join(t.TempDir(), "calls.zip")
	res, err := Run(ctx, Options{From: base, To: base.Add(10 * time.Minute), Remote: FromRelay(core), Out: out, Server: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 3 || res.FromServer != 3 || !res.Complete() {
		t.Fatalf("exported %d calls (%d from the server), failed %v, problem %q; want the 3 in the range", len(res.Calls), res.FromServer, res.Failed, res.Problem)
	}
	files := exported(t, out)
	if len(files) != 5 {
		t.Fatalf("the zip holds %v", keys(files))
	}
}
