package ui

import (
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/tokens"
)

// fakeTokenFeed is the registry followed live.
type fakeTokenFeed struct {
	mu       sync.Mutex
	watching bool
	send     func([]tokens.Info)
}

func (f *fakeTokenFeed) WatchTokens(on bool) { f.mu.Lock(); f.watching = on; f.mu.Unlock() }
func (f *fakeTokenFeed) OnTokens(g func([]tokens.Info)) {
	f.mu.Lock()
	f.send = g
	f.mu.Unlock()
}

func (f *fakeTokenFeed) push(list []tokens.Info) {
	f.mu.Lock()
	send, on := f.send, f.watching
	f.mu.Unlock()
	if send != nil && on {
		send(list)
	}
}

// tokensWindow is the token window at its default size (820 px).
func tokensWindow(t *testing.T, c *Controller) fyne.Window {
	t.Helper()
	c.Do(c.ShowTokens)
	c.WaitIdle()
	for _, w := range c.app.Driver().AllWindows() {
		if w.Title() == "Earshot — stream tokens" {
			return w
		}
	}
	t.Fatal("no token window")
	return nil
}

// The fault: tokens made by Copy stream URL or the CLI never appeared,
// even after reopening (4 revoked shown, 2 active in `earshot token list`).
func TestTokenWindowFollowsTheRegistryLive(t *testing.T) {
	c, _, _, _ := newTestController(t)
	now := time.Now()
	ft := &fakeTokens{list: []tokens.Info{{ID: "a", Name: "default", Scope: "listen", Created: now}}}
	feed := &fakeTokenFeed{}
	c.opts.Tokens, c.opts.TokenFeed = ft, feed
	w := tokensWindow(t, c)
	tv := func() []tokens.Info {
		var l []tokens.Info
		c.Do(func() { l = c.tokensView.list })
		return l
	}
	if l := tv(); len(l) != 1 {
		t.Fatalf("on opening: %d tokens", len(l))
	}
	// The CLI makes one, and revokes the first: the window follows.
	revokedAt := now
	feed.push([]tokens.Info{{ID: "a", Name: "default", Scope: "listen", Created: now, Revoked: true, RevokedAt: &revokedAt},
		{ID: "b", Name: "Copy stream URL (tray)", Scope: "listen", Created: now}})
	if l := tv(); len(l) != 2 || !l[0].Revoked || l[1].ID != "b" {
		t.Fatalf("after the registry changed the window shows %+v", l)
	}
	w.Close()
	if feed.watching {
		t.Fatal("the registry is still followed after the window closed")
	}
}

// The faults at 820 px: row text ran under Rotate/Revoke and the status
// was hidden; "used … by 127.0.0.1:45304" showed a throwaway port.
func TestTokenRowsAreReadableAt820Pixels(t *testing.T) {
	c, _, _, _ := newTestController(t)
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.Local)
	c.opts.Now = func() time.Time { return now }
	used := now.Add(-time.Hour)
	retires := now.Add(10 * time.Minute)
	ft := &fakeTokens{list: []tokens.Info{
		{ID: "a", Name: "Copy stream URL (tray)", Scope: "listen", Created: now, LastUsed: &used, LastAddr: "127.0.0.1:45304"},
		{ID: "b", Name: "OBS on the studio computer", Scope: "control", Created: now, LastUsed: &used, LastClient: "Firefox (web player)", RetiresAt: &retires},
	}}
	c.opts.Tokens = ft
	w := tokensWindow(t, c)
	if w.Canvas().Size().Width > 820 {
		t.Fatalf("the token window is %v wide", w.Canvas().Size())
	}
	w.Content().Refresh()
	var texts []*widget.RichText
	var statuses []*widget.Label
	for _, o := range test.LaidOutObjects(c.tokensView.table) {
		row, ok := o.(*fyne.Container)
		if !ok || len(row.Objects) != 2 {
			continue
		}
		rt, ok1 := row.Objects[0].(*widget.RichText)
		side, ok2 := row.Objects[1].(*fyne.Container)
		if !ok1 || !ok2 || !row.Visible() || len(rt.Segments) != 3 {
			continue
		}
		buttons := side.Objects[0].(*fyne.Container)
		status := buttons.Objects[0].(*widget.Label)
		texts, statuses = append(texts, rt), append(statuses, status)
		i := len(texts) - 1
		right := rt.Position().X + rt.Size().Width
		if left := side.Position().X + buttons.Position().X; right > left {
			t.Errorf("row %d's text reaches %.0f, under its status and buttons (from %.0f)", i, right, left)
		}
		// Every line fits: nothing is cut.
		line := ""
		for _, seg := range rt.Segments {
			line += seg.(*widget.TextSegment).Text
			if seg.Inline() {
				continue
			}
			width := fyne.MeasureText(line, theme.TextSize(), fyne.TextStyle{}).Width + 2*theme.InnerPadding()
			if width > rt.Size().Width {
				t.Errorf("row %d: %q (%.0f px) does not fit its %.0f px", i, line, width, rt.Size().Width)
			}
			line = ""
		}
	}
	if len(texts) != 2 {
		t.Fatalf("%d token rows laid out, want 2", len(texts))
	}
	if statuses[0].Text != "active" || !strings.HasPrefix(statuses[1].Text, "stops today ") {
		t.Errorf("statuses %q, %q", statuses[0].Text, statuses[1].Text)
	}
	line := c.tokensView.tokenLine(ft.list[0])
	if !strings.Contains(line, "by this computer") || strings.Contains(line, "45304") {
		t.Errorf("the tray token's line %q; want \"by this computer\", never a port", line)
	}
	if line := c.tokensView.tokenLine(ft.list[1]); !strings.Contains(line, "by Firefox (web player)") {
		t.Errorf("the web player's line %q", line)
	}
}

func TestCreateTokenNameFieldFitsItsHint(t *testing.T) {
	c, _, _, _ := newTestController(t)
	c.opts.Tokens = &fakeTokens{}
	w := tokensWindow(t, c)
	test.Tap(button(t, w.Content(), "Create token…"))
	var name *widget.Entry
	for _, o := range test.LaidOutObjects(w.Canvas().Overlays().Top()) {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder != "" {
			name = e
		}
	}
	if name == nil {
		t.Fatal("no name field")
	}
	hint := fyne.MeasureText(name.PlaceHolder, theme.TextSize(), fyne.TextStyle{}).Width + 4*theme.InnerPadding()
	if name.Size().Width < hint {
		t.Fatalf("the name field is %.0f px wide; its hint needs %.0f", name.Size().Width, hint)
	}
}

// "Old tokens work for: now" read as "they keep working for now".
func TestRotateSaysWhenTheOldTokenStops(t *testing.T) {
	c, _, _, _ := newTestController(t)
	c.opts.Tokens = &fakeTokens{list: []tokens.Info{{ID: "a", Name: "OBS", Scope: "listen", Created: time.Now()}}}
	w := tokensWindow(t, c)
	test.Tap(button(t, w.Content(), "Rotate"))
	var labels []string
	for _, o := range test.LaidOutObjects(w.Canvas().Overlays().Top()) {
		switch x := o.(type) {
		case *widget.Label:
			labels = append(labels, x.Text)
		case *canvas.Text:
			labels = append(labels, x.Text)
		case *widget.Select:
			labels = append(labels, strings.Join(x.Options, "|"))
		}
	}
	got := strings.Join(labels, "\n")
	if !strings.Contains(got, "Old token stops") || !strings.Contains(got, "at once|after 10 minutes|after 1 hour|after 1 day") {
		t.Fatalf("the rotate dialog says:\n%s", got)
	}
}

func TestCopySaysCopied(t *testing.T) {
	c, _, _, a := newTestController(t)
	b := c.copyButton("tok-value")
	test.Tap(b)
	if a.Clipboard().Content() != "tok-value" || b.Text != "Copied" {
		t.Fatalf("after Copy: clipboard %q, button %q", a.Clipboard().Content(), b.Text)
	}
	// It says Copy again a moment later (and leaves no timer behind to
	// draw into the next test's window).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var text string
		c.Do(func() { text = b.Text })
		if text == "Copy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the button still says %q", text)
		}
	}
}

func TestTokensWindowRendersAsTheGolden(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.Local)
	c.opts.Now = func() time.Time { return now }
	used, retires, expires := now.Add(-42*time.Minute), now.Add(10*time.Minute), now.AddDate(0, 1, 0)
	revokedAt := now.Add(-time.Hour)
	c.opts.Tokens = &fakeTokens{list: []tokens.Info{
		{ID: "a", Name: "default", Scope: "listen", Created: now.AddDate(0, 0, -3)},
		{ID: "b", Name: "Copy stream URL (tray)", Scope: "listen", Created: now.AddDate(0, 0, -1), LastUsed: &used, LastAddr: "127.0.0.1:45304"},
		{ID: "c", Name: "OBS on the studio computer", Scope: "listen", Created: now.AddDate(0, 0, -1), LastUsed: &used, LastClient: "VLC", RetiresAt: &retires},
		{ID: "d", Name: "Home automation", Scope: "control", Created: now.AddDate(0, 0, -20), Expires: &expires, LastUsed: &used, LastClient: "Firefox (web player)"},
		{ID: "e", Name: "old laptop", Scope: "listen", Created: now.AddDate(0, -2, 0), Revoked: true, RevokedAt: &revokedAt},
	}}
	w := tokensWindow(t, c)
	w.Content().Refresh()
	test.AssertRendersToImage(t, "tokens_window.png", w.Canvas())
}
