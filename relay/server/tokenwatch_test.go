package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"earshot/relay/tokens"
)

func TestClientOfNamesTheProgramNotThePort(t *testing.T) {
	for _, tc := range []struct {
		ua, remote string
		cookie     bool
		want       string
	}{
		{"VLC/3.0.20 LibVLC/3.0.20", "127.0.0.1:45304", false, "VLC"},
		{"Lavf/60.16.100", "127.0.0.1:1", false, "ffmpeg"},
		{"curl/8.5.0", "[::1]:2", false, "curl"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "127.0.0.1:3", true, "Firefox (web player)"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "127.0.0.1:3", false, "Chrome"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "127.0.0.1:3", false, "Edge"},
		{"", "127.0.0.1:45304", false, "this computer"},
		{"", "127.0.0.1:45304", true, "a browser (web player)"},
		{"", "192.0.2.9:5000", false, "192.0.2.9"},
		{"Go-http-client/1.1", "127.0.0.1:1", false, "a Go program"},
		{"my<script>tool/1.0", "127.0.0.1:1", false, "myscripttool"},
		{"\x00\x01/2", "127.0.0.1:1", false, "this computer"},
		{strings.Repeat("x", 100) + "/1", "127.0.0.1:1", false, strings.Repeat("x", maxProgramName)},
	} {
		r := httptest.NewRequest("GET", "/v1/calls", nil)
		r.RemoteAddr = tc.remote
		if tc.ua != "" {
			r.Header.Set("User-Agent", tc.ua)
		}
		if got := clientOf(r, tc.cookie); got != tc.want {
			t.Errorf("clientOf(%q from %s, cookie %v) = %q, want %q", tc.ua, tc.remote, tc.cookie, got, tc.want)
		}
	}
}

func TestTokenUseRecordsTheProgram(t *testing.T) {
	rig := newRealRig(t, Options{})
	tok, info := rig.create(t, "VLC", 0)
	req, _ := http.NewRequest("GET", rig.ts.URL+"/v1/calls", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "VLC/3.0.20 LibVLC/3.0.20")
	resp, err := rig.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := rig.m.Get(info.ID); got.UsedBy() != "VLC" || got.LastAddr != "" {
		t.Fatalf("after a request from VLC: %+v", got)
	}
}

// sseEvents reads server-sent events from a response, one data payload
// per event, until the stream ends.
func sseEvents(resp *http.Response) <-chan string {
	out := make(chan string, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && event != "":
				out <- event + " " + data
				event, data = "", ""
			}
		}
	}()
	return out
}

func TestTokenEventsFollowTheRegistryLive(t *testing.T) {
	rig := newRealRig(t, Options{})
	ctl, ctlInfo, err := rig.m.Create(context.Background(), "window", tokens.ScopeControl, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", rig.ts.URL+"/v1/tokens/events", nil)
	req.Header.Set("Authorization", "Bearer "+ctl)
	resp, err := rig.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := sseEvents(resp)
	next := func(what string) []tokens.Info {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			kind, data, _ := strings.Cut(e, " ")
			var body struct{ Tokens []tokens.Info }
			if kind != "tokens" || json.Unmarshal([]byte(data), &body) != nil {
				t.Fatalf("%s: event %q", what, e)
			}
			return body.Tokens
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no event", what)
			return nil
		}
	}
	if l := next("the first list"); len(l) != 1 || l[0].ID != ctlInfo.ID {
		t.Fatalf("first list: %+v", l)
	}
	// A token made elsewhere (the CLI through the control plane, or the
	// tray) shows up.
	post := do(t, rig.ts, "POST", "/v1/tokens", `{"name":"OBS"}`, map[string]string{"Authorization": "Bearer " + ctl, "Content-Type": "application/json"})
	var issued IssuedResponse
	if err := json.NewDecoder(post.Body).Decode(&issued); err != nil {
		t.Fatal(err)
	}
	var l []tokens.Info
	for l = next("the create"); len(l) != 2; l = next("the create") {
	}
	// A use shows who used it.
	get(t, rig.ts, "/v1/status", map[string]string{"Authorization": "Bearer " + issued.Token, "User-Agent": "obs-studio/30.1"})
	for l = next("the use"); !strings.Contains(usedBy(l, issued.Info.ID), "OBS Studio"); l = next("the use") {
	}
	// Revoking the stream's own control token ends the stream.
	if err := rig.m.Revoke(context.Background(), ctlInfo.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream outlived its control token")
		}
	}
}

func usedBy(list []tokens.Info, id string) string {
	for _, t := range list {
		if t.ID == id {
			return t.UsedBy()
		}
	}
	return ""
}

func TestTokenEventsNeedAControlTokenInTheHeader(t *testing.T) {
	rig := newRealRig(t, Options{})
	listen, _ := rig.create(t, "listen", 0)
	for _, tc := range []struct {
		name string
		path string
		hdr  map[string]string
		want int
	}{
		{"listen token", "/v1/tokens/events", map[string]string{"Authorization": "Bearer " + listen}, 403},
		{"token in the URL", "/v1/tokens/events?token=" + listen, nil, 400},
		{"none", "/v1/tokens/events", nil, 401},
	} {
		if resp := get(t, rig.ts, tc.path, tc.hdr); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}
