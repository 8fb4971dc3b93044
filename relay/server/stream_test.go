package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hajimehoshi/go-mp3"

	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
	"earshot/relay/stream"
)

func needFFmpeg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("the stream tests need ffmpeg with libmp3lame; install it with build/deps.sh")
	}
}

// tone is a test call: a sine of its own pitch on its own talkgroup.
type tone struct {
	call event.Call
	freq float64
}

func tones(n int) []tone {
	var out []tone
	for i := range n {
		id := int64(i + 1)
		out = append(out, tone{
			call: event.Call{ID: id, SystemID: 1, SystemLabel: "Harness County", TalkgroupID: 100 + id,
				TalkgroupLabel: "Fire " + strconv.FormatInt(100+id, 10), Source: 4000 + id},
			freq: 330 * float64(i+1),
		})
	}
	return out
}

// playCalls publishes the calls a second apart from now on, each 0.5 s of
// its tone, until done; it returns when all are out or ctx ends.
func playCalls(ctx context.Context, t *testing.T, src *fakeSource, calls []tone) {
	for _, c := range calls {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		src.publish(t, c.call, audiotest.ToneWAV(0.5, c.freq))
	}
}

// checkTones checks that pcm (mono, stream rate) holds the calls' tones in
// order, with silence between.
func checkTones(t *testing.T, pcm []int16, calls []tone) []audiotest.Segment {
	t.Helper()
	got := audiotest.Sounds(audiotest.Segments(pcm, stream.SampleRate, 1152))
	if len(got) != len(calls) {
		t.Fatalf("heard %d calls, want %d: %+v", len(got), len(calls), got)
	}
	for i, g := range got {
		if math.Abs(g.Freq-calls[i].freq) > calls[i].freq*0.05 {
			t.Errorf("call %d at %.0f Hz, want %.0f", i+1, g.Freq, calls[i].freq)
		}
	}
	return got
}

func streamURL(ts string, query string) string {
	u := ts + "/v1/stream.mp3?token=" + goodToken
	if query != "" {
		u += "&" + query
	}
	return u
}

// waitStreamListeners waits until the server serves n stream listeners.
// A station hears the calls published once its first listener has
// joined, so a test publishes after this (a player can take a second or
// more to connect on a loaded machine).
func waitStreamListeners(t *testing.T, s *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(audiotest.HangGuard)
	for s.streamListeners.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d stream listeners, want %d", s.streamListeners.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A real player (ffmpeg, as VLC and OBS use it) reads the stream over
// HTTP with ICY metadata on, across several calls and the silence between.
func TestStream_FFmpegReadsAValidStreamAcrossCalls(t *testing.T) {
	needFFmpeg(t)
	s, src, _, ts := newTestServerOpts(t, Options{})
	calls := tones(3)

	// The token is a test one; a player takes the URL as given.
	cmd := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-icy", "1",
		"-i", streamURL(ts.URL, ""), "-f", "s16le", "-ac", "1", "-ar", strconv.Itoa(stream.SampleRate), "pipe:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []byte
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 32<<10)
		for {
			n, err := stdout.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	stopped := false
	stop := func() { // the stream never ends: the listener leaves
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			<-read
			_ = cmd.Wait()
		}
	}
	defer stop()
	pcmSoFar := func() []int16 {
		mu.Lock()
		defer mu.Unlock()
		return audiotest.Samples(out[:len(out)/2*2])
	}

	waitStreamListeners(t, s, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { playCalls(ctx, t, src, calls) })
	// Until ffmpeg has decoded the last call and some silence after it.
	const window, silenceAfter = 1152, 10 // about 0.26 s of silence
	deadline := time.Now().Add(audiotest.HangGuard)
	for {
		segs := audiotest.Segments(pcmSoFar(), stream.SampleRate, window)
		if n := len(segs); len(audiotest.Sounds(segs)) >= len(calls) && !segs[n-1].Sound && segs[n-1].To-segs[n-1].From >= silenceAfter {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("ffmpeg decoded %v of the stream, %d calls in it; ffmpeg said: %s",
				time.Duration(len(pcmSoFar()))*time.Second/stream.SampleRate, len(audiotest.Sounds(segs)), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if stderr.Len() > 0 {
		t.Fatalf("ffmpeg reading the stream: %s", stderr.String())
	}
	checkTones(t, pcmSoFar(), calls)

	probe := exec.Command("ffprobe", "-v", "error", "-icy", "1", "-show_entries", "stream=codec_name,sample_rate,channels",
		"-of", "default=noprint_wrappers=1", streamURL(ts.URL, ""))
	info, err := probe.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	for _, want := range []string{"codec_name=mp3", "sample_rate=44100", "channels=1"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("ffprobe says %q, want %s", info, want)
		}
	}
}

// openStream GETs the stream with hdr and checks it started.
func openStream(t *testing.T, ts string, query string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", streamURL(ts, query), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return resp
}

// readPastTitles reads r until titles title changes have come and then
// past bytes more of audio (the stream never ends by itself), and returns
// the audio and the changes.
func readPastTitles(t *testing.T, r *stream.ICYReader, titles int, past int64) ([]byte, []stream.TitleChange) {
	t.Helper()
	var out []byte
	var changes []stream.TitleChange
	buf := make([]byte, 4096)
	deadline := time.Now().Add(audiotest.HangGuard)
	for len(changes) < titles || int64(len(out)) < changes[titles-1].Offset+past {
		if time.Now().After(deadline) {
			t.Fatalf("read %d bytes of the stream and %d title changes, want %d: %+v", len(out), len(changes), titles, changes)
		}
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		changes = append(changes, r.Changes()...)
		if err != nil {
			t.Fatalf("the stream ended after %d bytes: %v", len(out), err)
		}
	}
	return out, changes
}

// frameOffsets returns the byte offset of each MP3 frame in data.
func frameOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off+4 <= len(data); {
		if data[off] != 0xFF || data[off+1] != 0xFB {
			t.Fatalf("no MPEG-1 Layer III frame at byte %d", off)
		}
		// 64 kbit/s at 44.1 kHz: 208 bytes, 209 with the padding bit.
		offs = append(offs, off)
		off += 208 + int(data[off+2]>>1&1)
	}
	return offs
}

// The metadata blocks come every icy-metaint bytes of audio, and each
// call's title comes at the first block after its first frame.
func TestStream_ICYTitlesArriveAtTheRightByteOffsets(t *testing.T) {
	needFFmpeg(t)
	_, src, _, ts := newTestServerOpts(t, Options{})
	calls := tones(3)
	resp := openStream(t, ts.URL, "", map[string]string{"Icy-MetaData": "1"})
	metaInt, err := strconv.Atoi(resp.Header.Get("icy-metaint"))
	if err != nil || metaInt != stream.MetaInt {
		t.Fatalf("icy-metaint %q, want %d", resp.Header.Get("icy-metaint"), stream.MetaInt)
	}
	if name := resp.Header.Get("icy-name"); name != "Earshot — all calls" {
		t.Errorf("icy-name %q", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { playCalls(ctx, t, src, calls) })
	r := stream.NewICYReader(resp.Body, metaInt)
	// A second of audio past the last title: its call (which starts
	// within a block before the title) and silence after it.
	data, changes := readPastTitles(t, r, len(calls), stream.Bitrate*1000/8)

	offs := frameOffsets(t, data)
	dec, err := mp3.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	stereo := audiotest.Samples(raw)
	pcm := make([]int16, len(stereo)/2)
	for i := range pcm {
		pcm[i] = stereo[2*i]
	}
	const decoderDelay = 529 // go-mp3's output lags its frames
	got := checkTones(t, pcm[decoderDelay:], calls)
	if len(changes) != len(calls) {
		t.Fatalf("%d title changes, want %d: %+v", len(changes), len(calls), changes)
	}
	for i, c := range changes {
		want := stream.Title(calls[i].call)
		if c.Title != want {
			t.Errorf("title %d = %q, want %q", i+1, c.Title, want)
		}
		start := got[i].From // the call's first frame with sound
		if start < 1 || start+1 >= len(offs) {
			t.Fatalf("call %d starts at frame %d of %d", i+1, start, len(offs))
		}
		// The first block after the call's first frame (give or take a
		// frame of codec delay).
		lo, hi := offs[start-1], offs[start+1]+metaInt
		if c.Offset%int64(metaInt) != 0 || c.Offset < int64(lo) || c.Offset > int64(hi) {
			t.Errorf("call %d (from byte %d) is titled after byte %d, want the first block after it (%d…%d)",
				i+1, offs[start], c.Offset, lo, hi)
		}
	}
}

// A browser's plain <audio> element plays the stream (currentTime moves).
func TestStream_PlaysInChromiumAudioElement(t *testing.T) {
	needFFmpeg(t)
	bin := findChromium(t)
	_, src, _, ts := newTestServerOpts(t, Options{})
	page := startChromium(t, bin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { playCalls(ctx, t, src, tones(4)) })
	// The URL travels by the DevTools protocol, never on a command line.
	u, _ := json.Marshal(streamURL(ts.URL, ""))
	page.eval(t, "window.a = new Audio("+string(u)+"); a.play().catch(e => window.playErr = String(e)); 1")
	waitFor(t, page, "[a.currentTime, window.playErr || '', a.error ? a.error.message : '']", func(v any) bool {
		got, _ := v.([]any)
		if len(got) != 3 || got[1] != "" || got[2] != "" {
			t.Fatalf("the audio element failed: %v", v)
		}
		at, _ := got[0].(float64)
		return at > 2.5
	})
}

func TestStream_RequestsAreCheckedLikeEveryRoute(t *testing.T) {
	_, _, _, ts := newTestServerOpts(t, Options{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg")})
	for _, tt := range []struct {
		name, path string
		hdr        map[string]string
		status     int
		code       string
	}{
		{"no token", "/v1/stream.mp3", nil, 401, "unauthorized"},
		{"bad token", "/v1/stream.mp3?token=nope", nil, 401, "unauthorized"},
		{"foreign host", "/v1/stream.mp3?token=" + goodToken, map[string]string{"Host": "evil.example"}, 403, "forbidden_host"},
		{"bad system", "/v1/stream.mp3?token=" + goodToken + "&system=fire", nil, 400, "bad_request"},
		{"bad talkgroup", "/v1/stream.mp3?token=" + goodToken + "&talkgroup=1:", nil, 400, "bad_request"},
		{"unknown follow", "/v1/stream.mp3?token=" + goodToken + "&follow=scanner", nil, 400, "bad_request"},
		{"follow without a player", "/v1/stream.mp3?token=" + goodToken + "&follow=player", nil, 409, "no_player_selection"},
		{"playlist, bad talkgroup", "/v1/stream.m3u?token=" + goodToken + "&talkgroup=x", nil, 400, "bad_request"},
		{"no ffmpeg", "/v1/stream.mp3?token=" + goodToken, nil, 503, "ffmpeg_missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, ts, tt.path, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type %q, want the JSON error", resp.Header.Get("Content-Type"))
			}
			var e apiError
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error.Code != tt.code {
				t.Fatalf("error %+v (%v), want code %s", e, err, tt.code)
			}
			if tt.code == "ffmpeg_missing" && !strings.Contains(e.Error.Message, "ffmpeg") {
				t.Fatalf("the 503 does not name ffmpeg: %q", e.Error.Message)
			}
		})
	}
}

// selection is a PlayerSelection tests change.
type selection struct {
	mu    sync.Mutex
	tg    int64
	ready error
}

func (s *selection) Allows(c event.Call, _ time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.TalkgroupID == s.tg
}

func (s *selection) Ready() error { return s.ready }

func (s *selection) set(tg int64) {
	s.mu.Lock()
	s.tg = tg
	s.mu.Unlock()
}

// titlesUntil reads the stream with metadata until the title last comes,
// and returns the titles (the stream never ends by itself).
func titlesUntil(resp *http.Response, last string) ([]string, error) {
	metaInt, _ := strconv.Atoi(resp.Header.Get("icy-metaint"))
	r := stream.NewICYReader(resp.Body, metaInt)
	var titles []string
	buf := make([]byte, 4096)
	deadline := time.Now().Add(audiotest.HangGuard)
	for len(titles) == 0 || titles[len(titles)-1] != last {
		if time.Now().After(deadline) {
			return titles, fmt.Errorf("the title %q never came; titles %q", last, titles)
		}
		_, err := r.Read(buf)
		for _, c := range r.Changes() {
			titles = append(titles, c.Title)
		}
		if err != nil {
			return titles, fmt.Errorf("the stream ended: %w; titles %q", err, titles)
		}
	}
	return titles, nil
}

func TestStream_FollowsThePlayerSelectionAndTheQuery(t *testing.T) {
	needFFmpeg(t)
	sel := &selection{tg: 102}
	_, src, _, ts := newTestServerOpts(t, Options{Player: sel})
	calls := tones(3) // talkgroups 101, 102, 103
	icy := map[string]string{"Icy-MetaData": "1"}
	player := openStream(t, ts.URL, "follow=player", icy)
	if name := player.Header.Get("icy-name"); name != "Earshot — the player's selection" {
		t.Errorf("icy-name %q", name)
	}
	byQuery := openStream(t, ts.URL, "talkgroup=1:101&talkgroup=103", icy)
	// Each stream's last call is call 3: one it played before that is
	// heard before its title comes.
	type heard struct {
		titles []string
		err    error
	}
	results := make(chan heard, 2)
	for _, r := range []*http.Response{player, byQuery} {
		go func() {
			titles, err := titlesUntil(r, stream.Title(calls[2].call))
			results <- heard{titles, err}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	playCalls(ctx, t, src, calls[:1])
	sel.set(103) // the player's selection changes: the stream follows
	playCalls(ctx, t, src, calls[1:])
	var got [][]string
	for range 2 {
		h := audiotest.Await(t, results, "the streams")
		if h.err != nil {
			t.Fatal(h.err)
		}
		got = append(got, h.titles)
	}
	want := map[string]bool{
		strings.Join([]string{stream.Title(calls[2].call)}, "|"):                              true, // follow=player, after the change
		strings.Join([]string{stream.Title(calls[0].call), stream.Title(calls[2].call)}, "|"): true, // the query
	}
	for _, g := range got {
		if !want[strings.Join(g, "|")] {
			t.Errorf("a stream played %q; want follow=player to play talkgroup 103 alone and the query 101 and 103", g)
		}
	}
}

func TestStream_M3UGivesTheStreamsHTTPURL(t *testing.T) {
	needFFmpeg(t)
	_, _, auth, ts := newTestServerOpts(t, Options{})
	auth.add("with+plus", Identity{TokenID: "tok2", Scope: ScopeListen})
	for _, tt := range []struct {
		name string
		path string
		hdr  map[string]string
		want string
	}{
		{"token in the query", "/v1/stream.m3u?token=" + url.QueryEscape("with+plus") + "&system=1",
			nil, ts.URL + "/v1/stream.mp3?system=1&token=with%2Bplus"},
		{"token in the header", "/v1/stream.m3u?talkgroup=1:101",
			map[string]string{"Authorization": "Bearer " + goodToken}, ts.URL + "/v1/stream.mp3?talkgroup=1%3A101&token=" + goodToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, ts, tt.path, tt.hdr)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/x-mpegurl; charset=utf-8" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if len(lines) != 3 || lines[0] != "#EXTM3U" || !strings.HasPrefix(lines[1], "#EXTINF:-1,Earshot — ") || lines[2] != tt.want {
				t.Fatalf("playlist:\n%s\nwant the URL %s", body, tt.want)
			}
			s, err := http.Get(lines[2])
			if err != nil {
				t.Fatal(err)
			}
			s.Body.Close()
			if s.StatusCode != 200 || s.Header.Get("Content-Type") != "audio/mpeg" {
				t.Fatalf("the playlist's URL answers %d %s", s.StatusCode, s.Header.Get("Content-Type"))
			}
		})
	}
}

func TestStream_HeadDescribesTheStreamWithoutStartingIt(t *testing.T) {
	needFFmpeg(t)
	s, _, _, ts := newTestServerOpts(t, Options{})
	req, _ := http.NewRequest("HEAD", streamURL(ts.URL, "system=1"), nil)
	req.Header.Set("Icy-MetaData", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || resp.Header.Get("icy-metaint") == "" {
		t.Fatalf("HEAD = %d %v", resp.StatusCode, resp.Header)
	}
	if n := s.Counters().StreamEncoders; n != 0 {
		t.Fatalf("HEAD started %d encoders", n)
	}
}

// A listener that stops reading is dropped on its own; another listener
// of the same stream is not held up.
func TestStream_DropsASlowListenerAlone(t *testing.T) {
	needFFmpeg(t)
	r := newRigWithClock(t, Options{}, realClock{}, time.Now)
	tok, _ := r.create(t, "players", 0)
	slow := rawGet(t, addrOf(r.ts), "/v1/stream.mp3?token="+url.QueryEscape(tok), nil)
	if slow.StatusCode != 200 {
		t.Fatalf("stream = %d", slow.StatusCode)
	}
	resp, err := http.Get(r.ts.URL + "/v1/stream.mp3?token=" + url.QueryEscape(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read the good one for as long as it takes the slow one's queue to
	// fill and the relay to cut it off.
	var n int
	buf := make([]byte, 4096)
	deadline := time.Now().Add(audiotest.HangGuard)
	for r.s.Counters().StreamListeners != 1 || n == 0 {
		m, err := resp.Body.Read(buf)
		n += m
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow listener was never dropped")
		}
	}
	_, err = io.Copy(io.Discard, slow.Body) // what was buffered, then the end
	if err == nil {
		t.Log("the slow listener's stream ended cleanly")
	}
	if m, err := resp.Body.Read(buf); err != nil || m == 0 {
		t.Fatalf("the other listener stopped: %v", err)
	}
}

// An http request to /v1/live (a player given the WebSocket's address)
// gets the JSON error every route answers with, not a plain-text 400.
func TestLive_PlainHTTPRequestGetsTheJSONError(t *testing.T) {
	_, _, ts := newTestServer(t)
	resp := get(t, ts, "/v1/live?token="+goodToken, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("plain GET /v1/live = %d %q, want 400 with a JSON error", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var e apiError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error.Code != "websocket_required" || !strings.Contains(e.Error.Message, "/v1/stream.mp3") {
		t.Fatalf("error %+v (%v), want websocket_required pointing at /v1/stream.mp3", e, err)
	}
}

// openStalledStream opens the continuous stream and stops reading after a
// few KiB, like a paused player.
func openStalledStream(t *testing.T, r *realRig, token string) (func(), func()) {
	t.Helper()
	needFFmpeg(t)
	resp := rawGet(t, addrOf(r.ts), "/v1/stream.mp3?token="+url.QueryEscape(token), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("stream = %d, want 200", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	stillOpen := func() {
		t.Helper()
		if r.s.liveCount() != 1 {
			t.Fatal("the stream is no longer registered while its token is valid")
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
			t.Fatalf("the stream stopped while its token is valid: %v", err)
		}
	}
	closed := func() {
		t.Helper()
		waitUntil(t, "the stream to end", func() bool { return r.s.liveCount() == 0 })
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
		audiotest.Await(t, done, "the stream's connection to end")
	}
	return stillOpen, closed
}
