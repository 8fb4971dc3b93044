package tray

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"

	"earshot/ui/notify"
)

// Shell_NotifyIconW reads NOTIFYICONDATAW by offset: a field out of place
// shows garbage or nothing, and nothing here runs Windows, so the layout is
// held to shellapi.h's on 64-bit Windows (Go lays the struct out the same
// way on linux/amd64).
func TestNotifyIconDataLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout checked is 64-bit Windows'")
	}
	var d notifyIconData
	for _, c := range []struct {
		field     string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(d), 976},
		{"hWnd", unsafe.Offsetof(d.Wnd), 8},
		{"uID", unsafe.Offsetof(d.ID), 16},
		{"uFlags", unsafe.Offsetof(d.Flags), 20},
		{"hIcon", unsafe.Offsetof(d.Icon), 32},
		{"szTip", unsafe.Offsetof(d.Tip), 40},
		{"szInfo", unsafe.Offsetof(d.Info), 304},
		{"uTimeout", unsafe.Offsetof(d.TimeoutOrVersion), 816},
		{"szInfoTitle", unsafe.Offsetof(d.InfoTitle), 820},
		{"dwInfoFlags", unsafe.Offsetof(d.InfoFlags), 948},
		{"guidItem", unsafe.Offsetof(d.GUIDItem), 952},
		{"hBalloonIcon", unsafe.Offsetof(d.BalloonIcon), 968},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, shellapi.h has %d", c.field, c.got, c.want)
		}
	}
}

func TestBalloonDataCutsTextsAndMarksUrgentOnes(t *testing.T) {
	long := strings.Repeat("Fire Dispatch 🚒 ", 40)
	d := balloonData(42, "Alert: "+long, "It already played.\x00 "+long, false)
	if d.Size != 976 && unsafe.Sizeof(uintptr(0)) == 8 || d.Wnd != 42 || d.ID != systrayIconID || d.Flags != nifInfo {
		t.Errorf("header %d %d %d %#x", d.Size, d.Wnd, d.ID, d.Flags)
	}
	if d.InfoFlags != niifInfo|niifRespectQuietTime {
		t.Errorf("a plain notice's flags %#x", d.InfoFlags)
	}
	text := func(u []uint16) string {
		for i, c := range u {
			if c == 0 {
				return string(utf16.Decode(u[:i]))
			}
		}
		t.Fatal("no terminating NUL")
		return ""
	}
	title, body := text(d.InfoTitle[:]), text(d.Info[:])
	if !strings.HasPrefix(title, "Alert: Fire Dispatch") || !strings.HasSuffix(title, "…") {
		t.Errorf("title %q", title)
	}
	if !strings.HasPrefix(body, "It already played. Fire") || !strings.HasSuffix(body, "…") {
		t.Errorf("body %q", body)
	}
	if u := balloonData(1, "Mayday", "", true).InfoFlags; u != niifWarning {
		t.Errorf("an urgent notice's flags %#x", u)
	}
}

// Balloons never block the core, wait for the tray icon at start, and stop
// with their context.
func TestBalloonsQueueWaitForTheTrayAndStop(t *testing.T) {
	var mu sync.Mutex
	var shown []string
	missing := 2
	b := newBalloons(func(title, body string, urgent bool) error {
		mu.Lock()
		defer mu.Unlock()
		if missing > 0 {
			missing--
			return errNoTrayIcon
		}
		shown = append(shown, title+"|"+body)
		return nil
	}, nil)
	b.retry = time.Millisecond
	for i := range balloonsQueued + 5 { // the queue's overflow is dropped, not waited for
		b.Show(notify.Notice{Title: "t", Body: strings.Repeat("x", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(shown)
		mu.Unlock()
		if n == balloonsQueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d shown", n, balloonsQueued)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if shown[0] != "t|" || shown[balloonsQueued-1] != "t|"+strings.Repeat("x", balloonsQueued-1) {
		t.Errorf("shown %q", shown)
	}
}
