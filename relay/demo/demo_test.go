package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestDemoTrafficOverTheAPI listens to the demo like a client would: the
// public live feed brings config, calls and transcripts, each call's audio
// is a real WAV, and the seeded history is there.
func TestDemoTrafficOverTheAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := StartWith(ctx, nil, Options{MinGap: 5 * time.Millisecond, MaxGap: 20 * time.Millisecond,
		History: 4, TranscriptEvery: 1, TranscriptDelay: time.Millisecond, Seed: 1, KeepCalls: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ PublicAccess bool }
	getJSON(t, srv.URL()+"/api/v1/setup/status", &st)
	if !st.PublicAccess {
		t.Fatal("the demo server is not public")
	}
	var hist struct {
		Calls []struct {
			ID             int64
			TalkgroupLabel string
			TalkgroupGroup string
		}
		Total int
	}
	getJSON(t, srv.URL()+"/api/v1/calls?date_from=0&sort=asc&limit=4", &hist)
	if hist.Total < 4 || len(hist.Calls) != 4 || hist.Calls[0].ID != 1 || hist.Calls[0].TalkgroupLabel == "" || hist.Calls[0].TalkgroupGroup == "" {
		t.Fatalf("seeded history: %+v", hist)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL(), "http")+"/api/v1/ws/listener", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var calls []int64
	var transcripts, systems, talkgroups int
	for len(calls) < 3 || transcripts == 0 {
		ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d calls, %d transcripts: %v", len(calls), transcripts, err)
		}
		var f struct {
			Type   string
			Call   struct{ ID int64 }
			Text   string
			Config struct {
				Systems []struct {
					LedColor   string
					Talkgroups []struct{ Label, Name, Group, Tag, LedColor string }
				}
			}
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		switch f.Type {
		case "scanner.config":
			systems = len(f.Config.Systems)
			talkgroups = 0
			for _, s := range f.Config.Systems {
				if s.LedColor == "" {
					t.Errorf("system without a LED colour: %s", b)
				}
				for _, tg := range s.Talkgroups {
					if tg.Label == "" || tg.Name == "" || tg.Group == "" || tg.Tag == "" || tg.LedColor == "" {
						t.Errorf("talkgroup not fully described: %+v", tg)
					}
					talkgroups++
				}
			}
		case "call.new":
			calls = append(calls, f.Call.ID)
		case "call.transcript":
			if f.Text == "" {
				t.Errorf("empty transcript %s", b)
			}
			transcripts++
		}
	}
	if systems != 2 || talkgroups < 5 {
		t.Errorf("config: %d systems, %d talkgroups", systems, talkgroups)
	}
	for _, id := range calls {
		resp, err := http.Get(srv.URL() + "/api/v1/calls/" + itoa(id) + "/audio")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) < 44 || !bytes.HasPrefix(b, []byte("RIFF")) || string(b[8:12]) != "WAVE" {
			t.Fatalf("call %d audio: %d, %d bytes", id, resp.StatusCode, len(b))
		}
		// 1 to 4 s of 16-bit mono at 16 kHz.
		if secs := float64(len(b)-44) / 32000; secs < 0.99 || secs > 4.01 {
			t.Errorf("call %d: %.2f s of audio", id, secs)
		}
	}
	if n := srv.Counters().Unhandled; n != 0 {
		t.Errorf("%d unhandled requests", n)
	}

	cancel()
	// The server goes away with the context.
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	for i := 0; ; i++ {
		if _, err := http.Get(srv.URL() + "/api/v1/health"); err != nil {
			break
		}
		if i == 200 {
			t.Fatal("demo server still up long after its context ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDemoKeepsABoundedHistory: the demo server lives in the relay's
// process, so a demo left running must not keep every call (and its audio).
func TestDemoKeepsABoundedHistory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := StartWith(ctx, nil, Options{MinGap: time.Millisecond, MaxGap: 2 * time.Millisecond, History: 4, Seed: 2, KeepCalls: 5})
	if err != nil {
		t.Fatal(err)
	}
	var hist struct {
		Calls []struct{ ID int64 }
		Total int
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		getJSON(t, srv.URL()+"/api/v1/calls?date_from=0&sort=asc&limit=100", &hist)
		if len(hist.Calls) > 0 && hist.Calls[0].ID > 10 {
			break // well past the bound
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call past id 10 a minute into fast demo traffic: %+v", hist)
		}
	}
	if hist.Total > 5 || srv.Calls() > 5 {
		t.Fatalf("the demo server keeps %d calls (history total %d), want at most 5", srv.Calls(), hist.Total)
	}
}

func TestStartWithDoneContextFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, nil); err == nil {
		t.Fatal("started with a done context")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
