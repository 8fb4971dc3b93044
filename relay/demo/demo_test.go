package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestDemoMakesPublicCallsWithAudio(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := StartWith(ctx, nil, Options{MinGap: 10 * time.Millisecond, MaxGap: 20 * time.Millisecond, History: 3})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Calls() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d calls", srv.Calls())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(srv.URL() + "/api/v1/setup/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ PublicAccess bool }
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if !st.PublicAccess {
		t.Fatal("the demo server is not public")
	}
	resp, err = http.Get(srv.URL() + "/api/v1/calls/4/audio")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 12)
	resp.Body.Read(head)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(head[:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		t.Fatalf("demo audio: %d % x", resp.StatusCode, head)
	}
	cancel()
	// The server stops with the context.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get(srv.URL() + "/api/v1/health"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("demo server still up after cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
