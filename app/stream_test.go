package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay/filter"
	"earshot/relay/stream"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("the stream tests need ffmpeg with libmp3lame; install it with build/deps.sh")
	}
}

var printedStreamURL = regexp.MustCompile(`(http://127\.0\.0\.1:\d+/v1/stream\.mp3\?token=\S+)`)

// nextTitle reads an ICY stream until a title arrives.
func nextTitle(t *testing.T, r *stream.ICYReader) string {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(60 * time.Second) // the demo calls every 2-6 s; a hang guard only
	for time.Now().Before(deadline) {
		if _, err := r.Read(buf); err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
		if c := r.Changes(); len(c) > 0 {
			return c[len(c)-1].Title
		}
	}
	t.Fatal("no call's title arrived on the stream")
	return ""
}

func openICY(t *testing.T, u string) (*http.Response, *stream.ICYReader) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Icy-MetaData", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s answered %d: %s", req.URL.Path, resp.StatusCode, b)
	}
	metaInt, _ := strconv.Atoi(resp.Header.Get("icy-metaint"))
	return resp, stream.NewICYReader(resp.Body, metaInt)
}

// The first start prints the stream URL and the web player's login link
// with the new token; the stream URL plays the demo's calls in ffmpeg.
func TestRelay_FirstStartPrintsAPlayableStreamURL(t *testing.T) {
	needFFmpeg(t)
	env, out, _ := testEnv(t, "")
	token, base := runRelay(t, env, out, "--demo")
	text := out.String()
	m := printedStreamURL.FindStringSubmatch(text)
	if token == "" || m == nil || !strings.Contains(text, base+"/login?token="+token) {
		t.Fatalf("the first start did not print the stream URL and login link with its token:\n%s", text)
	}
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-icy", "1", "-i", m[1], "-t", "2", "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg playing the printed URL: %v %s", err, stderr.String())
	}
	_, r := openICY(t, m[1])
	if title := nextTitle(t, r); !strings.HasPrefix(title, "Harness County") || !strings.Contains(title, " — ") {
		t.Fatalf("stream title %q, want System — Talkgroup", title)
	}
}

// In `earshot relay` (no window), follow=player follows the selection the
// player saved in config.json, and says so when there is none.
func TestRelay_FollowPlayerFollowsTheSavedSelection(t *testing.T) {
	needFFmpeg(t)
	env, out, _ := testEnv(t, "")
	token, base := runRelay(t, env, out, "--demo")
	u := base + "/v1/stream.mp3?follow=player&token=" + token
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || e.Error.Code != "no_player_selection" || !strings.Contains(e.Error.Message, "saved") {
		t.Fatalf("follow=player with nothing saved = %d %+v, want 409 saying no selection is saved", resp.StatusCode, e)
	}

	saveSelection := func(system int64) {
		t.Helper()
		var f filter.Filter
		f.SetSelection([]filter.Talkgroup{{SystemID: system}})
		raw, _ := json.Marshal(f)
		cfg, err := LoadConfig(env.ConfigDir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Preferences = map[string]json.RawMessage{playerFilterPref: raw}
		if err := SaveConfig(env.ConfigDir, cfg); err != nil {
			t.Fatal(err)
		}
	}
	saveSelection(2)
	_, r := openICY(t, u)
	if title := nextTitle(t, r); !strings.HasPrefix(title, "Harness County Law & Services") {
		t.Fatalf("following a selection of system 2, the stream played %q", title)
	}
	saveSelection(1) // the player chose another system: the stream follows
	time.Sleep(2 * recheckEvery)
	for {
		title := nextTitle(t, r)
		if strings.HasPrefix(title, "Harness County Fire & EMS") {
			break
		}
		// A call of system 2 queued before the change may still play.
		t.Logf("still %q after the change", title)
	}
}
