package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/event"
	"earshot/relay/led"
)

// TestWebPlayerInChromium logs in to the web player by link in a real
// headless Chromium, receives a call over the live feed and checks that the
// page's <audio> element loads it. It keeps a screenshot for the README in
// build/out/web-player.png.
func TestWebPlayerInChromium(t *testing.T) {
	bin := findChromium(t)
	_, src, _, ts := newTestServerOpts(t, Options{})
	// Two calls the relay held before the page opened: the list of recent
	// calls starts with them.
	now := time.Now()
	src.publish(t, event.Call{ID: 1, DateTime: now.Add(-2 * time.Minute).Unix(), SystemLabel: "Harness County", TalkgroupLabel: "PD North", LEDColor: "red"}, sineWAV(0.5, 300, 8000))
	src.publish(t, event.Call{ID: 2, DateTime: now.Add(-time.Minute).Unix(), SystemLabel: "Harness County", TalkgroupLabel: "Public Works",
		Alerts: []event.Alert{{CallID: 2, Rule: "roads"}}}, sineWAV(0.5, 350, 8000))

	page := startChromium(t, bin)
	// Times follow the browser's language: British English writes 24-hour.
	page.call(t, "Emulation.setLocaleOverride", map[string]any{"locale": "en-GB"})
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
	if got := page.eval(t, `[...document.querySelectorAll("#history li .what")].map(e => e.textContent).join(" | ")`); got != "Public Works (Harness County)roads | PD North (Harness County)" {
		t.Errorf("recent calls on load: %q, want the two held calls, newest first, with the alert", got)
	}
	if got := page.eval(t, `getComputedStyle(document.querySelector("#history li:last-child .dot")).backgroundColor`); got != "rgb(255, 59, 48)" {
		t.Errorf("the red talkgroup's LED is %v, want the app's red rgb(255, 59, 48)", got)
	}
	at := time.Unix(now.Add(-time.Minute).Unix(), 0)
	if got := page.eval(t, `document.querySelector("#history li .when").textContent`); got != at.Format("15:04:05") {
		t.Errorf("en-GB time %q, want 24-hour %q", got, at.Format("15:04:05"))
	}

	src.publish(t, event.Call{ID: 3, DateTime: now.Unix(), SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch"}, sineWAV(2, 440, 8000))
	waitFor(t, page, `document.getElementById("player").readyState`, func(v any) bool {
		n, ok := v.(float64)
		return ok && n >= 2
	})
	if got := page.eval(t, `document.getElementById("now-tg").textContent`); got != "Fire Dispatch" {
		t.Errorf("now playing shows %v, want Fire Dispatch", got)
	}
	// No LED colour on the call: the app's blue, not grey.
	if got := page.eval(t, `getComputedStyle(document.getElementById("led")).backgroundColor`); got != "rgb(0, 122, 255)" {
		t.Errorf("the playing call's LED is %v, want the app's blue rgb(0, 122, 255)", got)
	}
	// An alert arriving later marks the call in the list.
	src.hub.Publish(event.Event{Type: event.TypeAlert, Alert: &event.Alert{CallID: 3, Rule: "fire"}})
	waitFor(t, page, `document.querySelector("#history li[data-id='3']").className`, func(v any) bool { return strings.Contains(fmt.Sprint(v), "alerted") })
	if got := page.eval(t, `document.querySelector("#history li[data-id='3'] a.save").getAttribute("href")`); got != "/v1/calls/3/audio?download=1" {
		t.Errorf("the save link is %v", got)
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

	// American English writes 12-hour times.
	page.call(t, "Emulation.setLocaleOverride", map[string]any{"locale": "en-US"})
	page.call(t, "Page.reload", nil)
	waitFor(t, page, `document.querySelector("#history li .when") && document.querySelector("#history li .when").textContent`, func(v any) bool {
		s, _ := v.(string)
		return s != ""
	})
	if got, _ := page.eval(t, `document.querySelector("#history li .when").textContent`).(string); !strings.HasSuffix(got, "AM") && !strings.HasSuffix(got, "PM") {
		t.Errorf("en-US time %q, want 12-hour with AM or PM", got)
	}
}

// TestWebPlayerLEDPaletteIsTheApps holds app.js's copy of the LED palette
// equal to relay/led's, which the window and tray use.
func TestWebPlayerLEDPaletteIsTheApps(t *testing.T) {
	js, err := webFiles.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const LED = (\{[^}]*\});\s*const LED_DEFAULT = "(#[0-9a-f]{6})";`).FindSubmatch(js)
	if m == nil {
		t.Fatal("app.js has no LED palette")
	}
	var palette map[string]string
	if err := json.Unmarshal(m[1], &palette); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(palette, led.Palette()) || string(m[2]) != led.Default {
		t.Fatalf("app.js palette %v default %s\nrelay/led %v default %s", palette, m[2], led.Palette(), led.Default)
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
	// A bound on a hang, not a timing target: a cold Chromium start on a
	// busy 2-core machine has taken over 30 s.
	deadline := time.Now().Add(90 * time.Second)
	for port == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Chromium did not open its DevTools port within 90 s")
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
