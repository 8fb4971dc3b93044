package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWebPlayerInChromium logs in to the web player by link in a real
// headless Chromium, receives a call over the live feed and checks that the
// page's <audio> element loads it. It keeps a screenshot for the README in
// build/out/web-player.png.
func TestWebPlayerInChromium(t *testing.T) {
	bin := findChromium(t)
	_, src, _, ts := newTestServerOpts(t, Options{})

	page := startChromium(t, bin)
	// The token travels by the DevTools protocol, never on a command line.
	page.call(t, "Page.enable", nil)
	page.call(t, "Page.navigate", map[string]any{"url": ts.URL + "/login?token=" + goodToken})

	waitFor(t, page, `document.getElementById("state") && document.getElementById("state").textContent`, func(v any) bool { return v == "live" })
	if href := page.eval(t, "location.href"); href != ts.URL+"/" {
		t.Fatalf("after login the page is at %v, want %s/ (the token must leave the address bar)", href, ts.URL)
	}
	if html, _ := page.eval(t, "document.documentElement.outerHTML").(string); strings.Contains(html, goodToken) {
		t.Fatal("the rendered page contains the token")
	}
	src.addCall(t, 1, sineWAV(2, 440, 8000))
	waitFor(t, page, `document.getElementById("player").readyState`, func(v any) bool {
		n, ok := v.(float64)
		return ok && n >= 2
	})
	if got := page.eval(t, `document.getElementById("now-tg").textContent`); got != "Fire Dispatch" {
		t.Errorf("now playing shows %v, want Fire Dispatch", got)
	}

	shot := page.call(t, "Page.captureScreenshot", map[string]any{"format": "png"})
	var img struct{ Data string }
	if err := json.Unmarshal(shot, &img); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(img.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	out := screenshotDir(t)
	if err := os.WriteFile(filepath.Join(out, "web-player.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the web player test needs Chromium; install it with build/deps.sh (Debian package chromium)")
	return ""
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("EARSHOT_SCREENSHOT_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "build", "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cdpPage is a minimal Chrome DevTools Protocol client for one page.
type cdpPage struct {
	mu   sync.Mutex
	conn *websocket.Conn
	next int
}

func startChromium(t *testing.T, bin string) *cdpPage {
	t.Helper()
	profile := t.TempDir()
	args := []string{
		"--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--mute-audio", "--autoplay-policy=no-user-gesture-required",
		"--remote-debugging-port=0", "--user-data-dir=" + profile,
		"--window-size=900,700", "about:blank",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // Chromium refuses to run as root otherwise
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	// Chromium's singleton socket goes under TMPDIR; in the profile, it is
	// removed with it instead of piling up in /tmp.
	cmd.Env = append(os.Environ(), "TMPDIR="+profile)
	// Its own process group, so the cleanup stops Chromium's helpers too.
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		killProcessGroup(cmd)
		_ = cmd.Wait()
		// Helpers may still be exiting; give them a moment before the
		// profile directory is removed.
		for i := 0; i < 50 && processGroupAlive(cmd); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	// Chromium writes its DevTools port into the profile when ready.
	var port int
	deadline := time.Now().Add(30 * time.Second)
	for port == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Chromium did not open its DevTools port within 30 s")
		}
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			port, _ = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var targets []struct{ Type, WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			conn, _, err := websocket.DefaultDialer.Dial(tg.WebSocketDebuggerURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return &cdpPage{conn: conn}
		}
	}
	t.Fatal("Chromium has no page target")
	return nil
}

// call sends one CDP command and returns its result, skipping events.
func (p *cdpPage) call(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id := p.next
	if err := p.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		t.Fatalf("CDP %s: %v", method, err)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if err := p.conn.ReadJSON(&msg); err != nil {
			t.Fatalf("CDP %s: %v", method, err)
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			t.Fatalf("CDP %s: %s", method, msg.Error.Message)
		}
		return msg.Result
	}
}

func (p *cdpPage) eval(t *testing.T, expr string) any {
	t.Helper()
	res := p.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var out struct{ Result struct{ Value any } }
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatal(err)
	}
	return out.Result.Value
}

// waitFor polls expr until ok accepts its value. The deadline only stops a
// broken build from hanging.
func waitFor(t *testing.T, p *cdpPage, expr string, ok func(any) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last any
	for time.Now().Before(deadline) {
		if last = p.eval(t, expr); ok(last) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s stayed %v", expr, last)
}

// sineWAV is a real 16-bit mono PCM WAV tone a browser can decode.
func sineWAV(seconds, freq float64, rate int) []byte {
	n := int(seconds * float64(rate))
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}
