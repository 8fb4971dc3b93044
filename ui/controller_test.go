package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/listening"
)

// closeRig is a controller whose tray-host answer and Quit the test sets.
type closeRig struct {
	c     *Controller
	host  bool
	quits int
}

func newCloseRig(t *testing.T, host bool) *closeRig {
	r := &closeRig{host: host}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}}
	r.c = startController(t, test.NewTempApp(t), newCore(t, feed, newFakePlayer(), nil, "https://scanner.example.org"),
		Options{TrayHost: func() bool { return r.host }, QuitEarshot: func() { r.quits++ }})
	return r
}

func TestClosingTheWindowClosesItOnlyWhileATrayShowsEarshot(t *testing.T) {
	r := newCloseRig(t, true)
	closedAll := 0
	r.c.OnAllClosed(func() { closedAll++ })
	r.c.Do(r.c.closeIntercept)
	if r.quits != 0 || closedAll != 1 || r.c.win != nil {
		t.Fatalf("with a tray host: %d quits, all closed %d times, window %v; want the window closed (the window process ends), Earshot on", r.quits, closedAll, r.c.win)
	}
}

func TestCtrlWClosesTheWindowAsItsCloseButtonDoes(t *testing.T) {
	r := newCloseRig(t, true)
	closedAll := 0
	r.c.OnAllClosed(func() { closedAll++ })
	canvas, ok := r.c.win.w.Canvas().(interface{ TypedShortcut(fyne.Shortcut) })
	if !ok {
		t.Fatal("the test canvas takes no shortcuts")
	}
	r.c.Do(func() {
		canvas.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault})
	})
	if r.quits != 0 || closedAll != 1 || r.c.win != nil {
		t.Fatalf("Ctrl+W with a tray host: %d quits, all closed %d times; want the window closed, Earshot on", r.quits, closedAll)
	}
}

func TestClosingTheWindowQuitsEarshotWithoutATrayHost(t *testing.T) {
	r := newCloseRig(t, false)
	r.c.Do(r.c.closeIntercept)
	if r.quits != 1 {
		t.Fatalf("without a tray host: %d quits; want Earshot to quit (it would run unreachable)", r.quits)
	}
}

func TestDemoBannerOffersSignInUntilSignedIn(t *testing.T) {
	a := test.NewTempApp(t)
	acc := &fakeAccounts{public: true}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	core := listening.New(listening.Options{Feed: feed, Player: newFakePlayer(), Account: acc.Account})
	// The resident swaps the account behind the relay after a sign-in.
	acc.signedIn = func() { feed.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetAccount}) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for feed.hub.Subscribers() == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	c := startController(t, a, core, Options{Accounts: acc})
	pw := c.win
	if !pw.banner.Visible() || !strings.Contains(pw.bannerText.Text, "built-in demo server") || !pw.bannerBtn.Visible() {
		t.Fatalf("no account: banner shown=%v %q, button shown=%v", pw.banner.Visible(), pw.bannerText.Text, pw.bannerBtn.Visible())
	}
	test.Tap(pw.bannerBtn)
	if c.signin == nil {
		t.Fatal("the banner's Sign in… did not open the sign-in window")
	}
	for _, o := range test.LaidOutObjects(c.signin.Content()) {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder == "scanner.example.org or https://…" {
			test.Type(e, "https://scanner.example.org")
		}
	}
	test.Tap(button(t, c.signin.Content(), "Sign in"))
	// Follow the core only now that the test taps no more: Fyne's test
	// driver would redraw the window on the follower's goroutine while a
	// tap walks it (see startController).
	c.WaitIdle()
	followController(t, c)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var shown bool
		c.Do(func() { shown = pw.banner.Visible() })
		if !shown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the banner stayed after signing in (signed %v)", acc.signed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackendProblemShowsInTheWindowHeader(t *testing.T) {
	const problem = "the system keyring would not keep the renewed sign-in"
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, problem: problem}
	c := startController(t, test.NewTempApp(t), newCore(t, feed, newFakePlayer(), nil, "https://scanner.example.org"), Options{})
	if !strings.Contains(c.win.state.Text, problem) {
		t.Errorf("window header %q does not show the problem", c.win.state.Text)
	}
}

// The outage fault: the raw dial error in faint grey widened the window
// from 640 to ~790 px and it stayed so. The status line is worded and cut,
// never wider than the window.
func TestServerOutageNeverWidensTheWindow(t *testing.T) {
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	c := startController(t, test.NewTempApp(t), newCore(t, feed, newFakePlayer(), nil, "https://scanner.example.org"), Options{})
	followController(t, c)
	c.Do(func() { c.win.w.Resize(fyne.NewSize(640, 560)) })
	long := "open the live feed: dial tcp 127.0.0.1:18480: connect: connection refused " + strings.Repeat("and more ", 20)
	feed.hub.Publish(event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateDisconnected, Reason: long, Server: "https://scanner.example.org"}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		var text string
		c.Do(func() { text = c.win.state.Text })
		if strings.Contains(text, "Cannot reach") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status line %q", text)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Do(func() {
		if strings.Contains(c.win.state.Text, "dial tcp") {
			t.Errorf("the raw error shows: %q", c.win.state.Text)
		}
		if c.win.tg.Text != "Cannot reach the server" {
			t.Errorf("headline %q", c.win.tg.Text)
		}
		if w := c.win.w.Content().MinSize().Width; w > 640 {
			t.Errorf("the window needs %.0f px for the outage, more than its 640", w)
		}
	})
}

func TestDemoBannerWithDemoFlagHasNoSignIn(t *testing.T) {
	a := test.NewTempApp(t)
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	core := listening.New(listening.Options{Feed: feed, Player: newFakePlayer(), DemoFlag: true,
		Account: func() (string, string) { return "https://scanner.example.org", "" }})
	c := startController(t, a, core, Options{})
	if !c.win.banner.Visible() || !strings.Contains(c.win.bannerText.Text, "--demo") || c.win.bannerBtn.Visible() {
		t.Fatalf("--demo: banner shown=%v %q, button shown=%v", c.win.banner.Visible(), c.win.bannerText.Text, c.win.bannerBtn.Visible())
	}
}

func TestSignedInWindowShowsNoDemoBanner(t *testing.T) {
	r := newCloseRig(t, true)
	if r.c.win.banner.Visible() {
		t.Fatalf("signed in, yet the banner says %q", r.c.win.bannerText.Text)
	}
}

// historyRowText renders history row i as the list does: its day header
// (if any) and its two lines.
func historyRowText(pw *playerWindow, i int) string {
	o := pw.hist.list.CreateItem()
	pw.hist.list.UpdateItem(i, o)
	return callRowText(o.(*callRow))
}

// callRowText is what a call row shows, as text.
func callRowText(r *callRow) string {
	var b strings.Builder
	if r.day.Visible() {
		b.WriteString(r.day.Text + "\n")
	}
	for _, seg := range r.text.Segments {
		t := seg.(*widget.TextSegment)
		b.WriteString(t.Text)
		if !t.Style.Inline {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// historyCalls are the calls the history shows, in order.
func historyCalls(pw *playerWindow) []event.Call {
	var out []event.Call
	for _, it := range pw.hist.items {
		out = append(out, it.entry.Call)
	}
	return out
}

func TestCallThatNeedsFFmpegSaysSoInHistoryAndWindow(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	if got := historyRowText(pw, 1); strings.Contains(got, "ffmpeg") {
		t.Fatalf("before any problem row 1 says %q", got)
	}
	// The player tried call 1 (an M4A) and had no ffmpeg.
	fp.mu.Lock()
	fp.problems = map[int64]string{1: "needs ffmpeg"}
	fp.st.FFmpegMissing = true
	fp.st.LastError = "Call 1 (Fire Dispatch) needs ffmpeg, which is not installed: install the ffmpeg package to hear M4A/AAC and Ogg calls."
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	if historyCalls(pw)[1].ID != 1 {
		t.Fatalf("row 1 is call %d", historyCalls(pw)[1].ID)
	}
	if got := historyRowText(pw, 1); !strings.Contains(got, "needs ffmpeg") {
		t.Fatalf("the call that needs ffmpeg shows %q in the history", got)
	}
	if got := historyRowText(pw, 0); strings.Contains(got, "ffmpeg") {
		t.Fatalf("a call that played fine shows %q", got)
	}
	if pw.problem.Hidden || !strings.Contains(pw.problem.Text, "apt install ffmpeg") {
		t.Fatalf("the window's clear message: %q (hidden %v)", pw.problem.Text, pw.problem.Hidden)
	}
}

func TestCallProblemShowsInRenderedHistory(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	pw.w.Resize(fyne.NewSize(640, 440))
	pw.tabs.SelectIndex(tabHistory)
	fp.mu.Lock()
	fp.problems = map[int64]string{2: "needs ffmpeg"}
	fp.st.LastError = "Call 2 (Fire Tac) needs ffmpeg"
	fp.mu.Unlock()
	playerChanged(coreOf(c), fp)
	c.refresh()
	var rows []string
	for _, o := range test.LaidOutObjects(pw.hist.list) {
		if r, ok := o.(*callRow); ok && r.Visible() {
			rows = append(rows, callRowText(r))
		}
	}
	joined := strings.Join(rows, "\n")
	if !strings.Contains(joined, "Fire Tac  ·  Harness County\nneeds ffmpeg") {
		t.Fatalf("the history on screen does not show the problem:\n%s", joined)
	}
}

// failingTokens fails revoke.
type failingTokens struct{ fakeTokens }

func (f *failingTokens) Revoke(context.Context, string) error {
	return errors.New("the token registry is read-only")
}

func TestFailedTokenOperationKeepsItsErrorAfterTheReload(t *testing.T) {
	c, _, _, a := newTestController(t)
	ft := &failingTokens{fakeTokens{list: []tokens.Info{{ID: "abc", Name: "OBS", Scope: "listen", Created: time.Now()}}}}
	c.opts.Tokens = ft
	w := a.NewWindow("tokens")
	tv := c.newTokensView(w)
	w.SetContent(tv.content)
	tv.run("revoke the token", func(ctx context.Context) error { return ft.Revoke(ctx, "abc") })
	tv.pending.Wait()
	waitText(t, tv.status, "1 token")
	if got := tv.status.Text; !strings.Contains(got, "Could not revoke the token: the token registry is read-only") {
		t.Fatalf("after a failed revoke the status says %q", got)
	}
	// A later success says only the count.
	tv.run("rotate the token", func(ctx context.Context) error { return nil })
	tv.pending.Wait()
	waitText(t, tv.status, "1 token")
	if got := tv.status.Text; got != "1 token" {
		t.Fatalf("after a success the status says %q", got)
	}
}

func TestHistoryKeepsTheNewest200Calls(t *testing.T) {
	var calls []event.Call
	for id := int64(250); id >= 51; id-- { // the relay's newest 200, newest first
		calls = append(calls, call(id, 101, "Fire Dispatch"))
	}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: calls}
	core := newCore(t, feed, newFakePlayer(), nil, "")
	c := startController(t, test.NewTempApp(t), core, Options{})
	h := core.Snapshot().History
	if len(h) != 200 || h[0].Call.ID != 250 || h[199].Call.ID != 51 {
		t.Fatalf("history: %d calls, %d…%d; want 200, 250…51", len(h), h[0].Call.ID, h[len(h)-1].Call.ID)
	}
	for id := int64(251); id <= 255; id++ {
		cl := call(id, 101, "Fire Dispatch")
		feed.hub.Publish(event.Event{Type: event.TypeCall, Call: &cl})
	}
	deadline := time.Now().Add(5 * time.Second)
	for core.Snapshot().History[0].Call.ID != 255 {
		if time.Now().After(deadline) {
			t.Fatal("the live calls did not reach the history")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h = core.Snapshot().History
	if len(h) != 200 || h[0].Call.ID != 255 || h[199].Call.ID != 56 {
		t.Fatalf("after 5 live calls: %d calls, %d…%d; want 200, 255…56", len(h), h[0].Call.ID, h[len(h)-1].Call.ID)
	}
	c.refresh()
	if n := c.win.hist.list.Length(); n != 200 {
		t.Fatalf("the history list shows %d rows", n)
	}
}

func TestCopyStreamURLCopiesTheURLAndSaysSo(t *testing.T) {
	c, _, _, a := newTestController(t)
	var asked int
	c.opts.StreamURL = func(ctx context.Context) (string, error) {
		asked++
		return "ws://127.0.0.1:7373/v1/live?token=abc", nil
	}
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot", "Live stream URL copied"), func() {
		c.CopyStreamURL()
		c.ops.Wait()
	})
	if got := a.Clipboard().Content(); got != "ws://127.0.0.1:7373/v1/live?token=abc" || asked != 1 {
		t.Fatalf("clipboard %q after %d requests", got, asked)
	}
	c.opts.StreamURL = func(ctx context.Context) (string, error) { return "", errors.New("the keyring is locked") }
	a.Clipboard().SetContent("before")
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot", "Could not make a stream URL: the keyring is locked"), func() {
		c.CopyStreamURL()
		c.ops.Wait()
	})
	if got := a.Clipboard().Content(); got != "before" {
		t.Fatalf("a failed copy changed the clipboard to %q", got)
	}
}

// On X11 and Wayland a copy leaves with the process that made it: the
// window process hands the copy to the resident's clipboard program, after
// putting it on its own clipboard (so the program takes it over, not the
// other way round), and says when the copy can last only while a window is
// open.
func TestCopyStreamURLHandsTheCopyToTheDesktop(t *testing.T) {
	c, _, _, a := newTestController(t)
	const u = "ws://127.0.0.1:7373/v1/live?token=abc"
	c.opts.StreamURL = func(context.Context) (string, error) { return u, nil }
	var handed []string
	var ownBefore string
	c.opts.Copy = func(_ context.Context, text string) error {
		ownBefore = a.Clipboard().Content()
		handed = append(handed, text)
		return nil
	}
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot", "Live stream URL copied"), func() {
		c.CopyStreamURL()
		c.ops.Wait()
	})
	if len(handed) != 1 || handed[0] != u || ownBefore != u {
		t.Fatalf("handed %q to the desktop with %q on the window's clipboard", handed, ownBefore)
	}
	c.opts.Copy = func(context.Context, string) error {
		return errors.New("no clipboard program found: install wl-clipboard (Wayland) or xclip (X11)")
	}
	a.Clipboard().SetContent("before")
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot",
		"Copied; it stays on the clipboard while an Earshot window is open (no clipboard program found: install wl-clipboard (Wayland) or xclip (X11))"), func() {
		c.CopyStreamURL()
		c.ops.Wait()
	})
	if got := a.Clipboard().Content(); got != u {
		t.Fatalf("without a clipboard program the window's clipboard has %q", got)
	}
}

// With no clipboard program the tray's Copy stream URL opens a window with
// the URL: copied at once, selectable, not editable, copied again by its
// button, and the window process ends when it closes.
func TestStreamURLWindowShowsAndCopiesTheURL(t *testing.T) {
	a := test.NewTempApp(t)
	core := newCore(t, &fakeFeed{hub: hub.New(nil), state: event.StateConnected}, newFakePlayer(), nil, "https://scanner.example.org")
	c := endsWithTest(t, New(Options{App: a, Core: core}))
	closed := 0
	c.OnAllClosed(func() { closed++ })
	const u = "ws://127.0.0.1:7373/v1/live?token=abc"
	c.Do(func() { c.ShowStreamURL(u) })
	if got := a.Clipboard().Content(); got != u {
		t.Fatalf("opening the window copied %q", got)
	}
	ws := a.Driver().AllWindows()
	w := ws[len(ws)-1]
	var entry *widget.Entry
	for _, o := range test.LaidOutObjects(w.Content()) {
		if e, ok := o.(*widget.Entry); ok {
			entry = e
		}
	}
	if entry == nil || entry.Text != u {
		t.Fatalf("the window shows %v", entry)
	}
	test.Type(entry, "x")
	if entry.Text != u {
		t.Fatalf("the URL could be edited to %q", entry.Text)
	}
	a.Clipboard().SetContent("something else")
	test.Tap(button(t, w.Content(), "Copy"))
	if got := a.Clipboard().Content(); got != u {
		t.Fatalf("Copy copied %q", got)
	}
	test.Tap(button(t, w.Content(), "Close"))
	if closed != 1 {
		t.Fatalf("closing the only window: all closed %d times, want once (the window process ends)", closed)
	}
}

func TestHoldSystemHoldsThePlayingCallsSystemAndReleases(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	if !pw.holdSys.Disabled() {
		t.Fatal("Hold system enabled with nothing playing")
	}
	cl := call(1, 101, "Fire Dispatch")
	cl.SystemID = 7
	fp.Play(cl)
	playerChanged(coreOf(c), fp)
	c.refresh()
	test.Tap(pw.holdSys)
	f := fp.Filter()
	if f.Hold == nil || f.Hold.SystemID != 7 || f.Hold.TalkgroupID != 0 || !f.Hold.Until.IsZero() {
		t.Fatalf("hold %+v, want system 7 until lifted", f.Hold)
	}
	if pw.holdSys.Text != "Release hold" || !strings.Contains(pw.filters.Text, "Holding") {
		t.Fatalf("after holding: button %q, filter line %q", pw.holdSys.Text, pw.filters.Text)
	}
	test.Tap(pw.holdSys)
	if f := fp.Filter(); f.Hold != nil {
		t.Fatalf("still held: %+v", f.Hold)
	}
	if pw.holdSys.Text != "Hold system" {
		t.Fatalf("after releasing: button %q", pw.holdSys.Text)
	}
}

// catalog is a server's catalogue: two systems, talkgroups never heard.
func catalog() event.Catalog {
	return event.Catalog{Systems: []event.System{
		{ID: 1, Label: "Harness County", Talkgroups: []event.Talkgroup{
			{ID: 101, Label: "Fire Dispatch", Group: "Fire", Tag: "Dispatch"},
			{ID: 102, Label: "Fire Tac", Group: "Fire", Tag: "Tactical"},
			{ID: 103, Label: "EMS", Name: "Emergency Medical", Group: "EMS", Tag: "Dispatch"},
		}},
		{ID: 2, Label: "Metro", Talkgroups: []event.Talkgroup{
			{ID: 201, Label: "PD North", Group: "Law", Tag: "Dispatch"},
			{ID: 202, Label: "PD South", Group: "Law", Tag: "Dispatch"},
		}},
	}}
}

// rows lists the checklist as "S1" (system) and "1/101" (talkgroup).
func rows(pw *playerWindow) string {
	var out []string
	for _, r := range pw.tgItems {
		if r.system {
			out = append(out, fmt.Sprintf("S%d", r.key.SystemID))
		} else {
			out = append(out, fmt.Sprintf("%d/%d", r.key.SystemID, r.key.TalkgroupID))
		}
	}
	return strings.Join(out, " ")
}

// rowCheck binds checklist row i and returns its selection box.
func rowCheck(t *testing.T, pw *playerWindow, i int) *fitCheck {
	t.Helper()
	o := pw.tgList.CreateItem()
	pw.tgList.UpdateItem(i, o)
	for _, x := range o.(*fyne.Container).Objects {
		if ch, ok := x.(*fitCheck); ok {
			return ch
		}
	}
	t.Fatal("no selection box in the row")
	return nil
}

func TestChecklistOffersTheServersCatalogueWithSystemBoxes(t *testing.T) {
	fp := newFakePlayer()
	seen := call(9, 150, "Heard Only") // in a call, not (yet) in the catalogue
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{seen}, catalog: catalog()}
	c := startController(t, test.NewTempApp(t), newCore(t, feed, fp, nil, ""), Options{})
	pw := c.win
	if got, want := rows(pw), "S1 1/101 1/102 1/103 1/150 S2 2/201 2/202"; got != want {
		t.Fatalf("checklist %q, want %q (server order, then talkgroups only heard)", got, want)
	}
	if got := rowCheck(t, pw, 0).Text; !strings.Contains(got, "Harness County") || !strings.Contains(got, "4 talkgroups") {
		t.Fatalf("system row says %q", got)
	}
	if got := rowCheck(t, pw, 3).Text; !strings.Contains(got, "EMS") || !strings.Contains(got, "Emergency Medical") {
		t.Fatalf("talkgroup row says %q", got)
	}
	// Unchecking a system stops hearing all of it.
	test.Tap(rowCheck(t, pw, 5)) // Metro
	if sel := fp.Filter().Selection; fmt.Sprint(sel) != "[{1 0}]" {
		t.Fatalf("after unchecking Metro the selection is %v, want Harness County whole", sel)
	}
	if ch := rowCheck(t, pw, 6); ch.Checked {
		t.Fatal("PD North still checked after unchecking its system")
	}
	// Unchecking one talkgroup of a whole system keeps the others; the
	// system's box shows it is partly heard.
	test.Tap(rowCheck(t, pw, 2)) // Fire Tac
	if sel := fp.Filter().Selection; fmt.Sprint(sel) != "[{1 101} {1 103} {1 150}]" {
		t.Fatalf("after unchecking Fire Tac the selection is %v", sel)
	}
	if sys := rowCheck(t, pw, 0); sys.Checked || !sys.Partial {
		t.Fatalf("Harness County box: checked=%v partial=%v, want partial", sys.Checked, sys.Partial)
	}
	// Checking the system hears it whole again, later talkgroups included.
	test.Tap(rowCheck(t, pw, 0))
	if sel := fp.Filter().Selection; fmt.Sprint(sel) != "[{1 0}]" {
		t.Fatalf("after checking Harness County the selection is %v", sel)
	}
	// Unchecking the last system hears nothing, not everything.
	test.Tap(rowCheck(t, pw, 0))
	if f := fp.Filter(); f.Allows(call(10, 101, "Fire Dispatch"), time.Now()) || len(f.Selection) == 0 {
		t.Fatalf("with every box unchecked the filter %+v still lets calls through", f)
	}
	// Searching shows the matching talkgroups under their system.
	test.Type(pw.search, "pd s")
	if got := rows(pw); got != "S2 2/202" {
		t.Fatalf("search \"pd s\" shows %q", got)
	}
	pw.search.SetText("")
	pw.group.SetSelected("Tag: Dispatch")
	if got := rows(pw); got != "S1 1/101 1/103 S2 2/201 2/202" {
		t.Fatalf("tag Dispatch shows %q", got)
	}
}

func TestChecklistFollowsCatalogueChanges(t *testing.T) {
	c, _, feed, _ := newTestController(t)
	pw := c.win
	if got := rows(pw); got != "S1 1/101 1/102" {
		t.Fatalf("before a catalogue the checklist is %q (talkgroups heard)", got)
	}
	followController(t, c)
	cat := catalog()
	feed.hub.Publish(event.Event{Type: event.TypeCatalog, Catalog: &cat})
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got string
		c.Do(func() { got = rows(pw) })
		if got == "S1 1/101 1/102 1/103 S2 2/201 2/202" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the catalogue event the checklist is %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var groups string
	c.Do(func() { groups = strings.Join(pw.group.Options, "|") })
	if got := groups; got != "All|Group: EMS|Group: Fire|Group: Law|Tag: Dispatch|Tag: Tactical" {
		t.Fatalf("group choices %q", got)
	}
}

// Signing in to another server swaps the account behind the one relay: a
// reset event, after which the window shows the new server's calls and
// talkgroups only.
func TestAccountResetReloadsHistoryAndTalkgroups(t *testing.T) {
	c, fp, feed, _ := newTestController(t)
	followController(t, c)
	other := event.Call{ID: 1, SystemID: 5, SystemLabel: "Other City", TalkgroupID: 501, TalkgroupLabel: "Other Fire", DateTime: time.Now().Unix()}
	feed.mu.Lock()
	feed.calls = []event.Call{other}
	feed.catalog = event.Catalog{Systems: []event.System{{ID: 5, Label: "Other City", Talkgroups: []event.Talkgroup{{ID: 501, Label: "Other Fire"}, {ID: 502, Label: "Other EMS"}}}}}
	feed.mu.Unlock()
	feed.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		var hist []event.Call
		c.Do(func() { got, hist = rows(c.win), historyCalls(c.win) })
		if got == "S5 5/501 5/502" && len(hist) == 1 && hist[0].SystemID == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reset: checklist %q, history %d calls", got, len(hist))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(fp.actions(), "reset") {
		t.Fatalf("the player was not reset: %s", fp.actions())
	}
}

// "Start Earshot when I log in" in the ⋮ menu: read from the log-in entry
// when the window opens, turned over by the item, a failure said.
func TestWindowAutostartItemFollowsTheLogInEntry(t *testing.T) {
	a := test.NewTempApp(t)
	core := newCore(t, &fakeFeed{hub: hub.New(nil), state: event.StateConnected}, newFakePlayer(), nil, "https://scanner.example.org")
	var mu sync.Mutex
	on, fail := true, false
	c := startController(t, a, core, Options{
		Autostart: func(context.Context) (bool, error) { mu.Lock(); defer mu.Unlock(); return on, nil },
		SetAutostart: func(_ context.Context, v bool) error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return errors.New("read-only")
			}
			on = v
			return nil
		},
	})
	c.WaitIdle()
	shown := func() bool { var v bool; c.Do(func() { v = c.autostart }); return v }
	if !shown() {
		t.Fatal("the window does not show the entry as on")
	}
	c.ToggleAutostart()
	c.WaitIdle()
	if shown() || on {
		t.Fatalf("after the item: shown %v, entry %v; want both off", shown(), on)
	}
	fail = true
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot", "Could not change “Start Earshot when I log in”: read-only"), func() {
		c.ToggleAutostart()
		c.WaitIdle()
	})
	if shown() {
		t.Fatal("after a failed change the window shows the entry on")
	}
}

// A panel that starts after Earshot (or goes away) is seen when the window
// closes: closing only closes it while a tray shows Earshot, else quits.
func TestTheTrayHostIsAskedWhenTheWindowCloses(t *testing.T) {
	r := newCloseRig(t, false)
	r.host = true // a panel started since
	r.c.Do(r.c.closeIntercept)
	if r.quits != 0 || r.c.win != nil {
		t.Fatalf("a tray host that appeared later: %d quits, window %v; want the window closed, Earshot on", r.quits, r.c.win)
	}
	r.c.Do(r.c.ShowPlayer)
	r.host = false // and went away again
	r.c.Do(r.c.closeIntercept)
	if r.quits != 1 {
		t.Fatalf("the tray host gone: %d quits; want Earshot to quit (it would run unreachable)", r.quits)
	}
}

// Without a tray the window's ⋮ menu reaches what the tray menu offers
// besides playback.
func TestTheMoreMenuReachesWhatTheTrayOffers(t *testing.T) {
	a := test.NewTempApp(t)
	core := newCore(t, &fakeFeed{hub: hub.New(nil), state: event.StateConnected}, newFakePlayer(), nil, "https://scanner.example.org")
	c := startController(t, a, core, Options{
		StreamURL:    func(context.Context) (string, error) { return "http://127.0.0.1:7373/v1/stream.mp3?token=t", nil },
		Autostart:    func(context.Context) (bool, error) { return false, nil },
		SetAutostart: func(context.Context, bool) error { return nil },
		QuitEarshot:  func() {},
	})
	c.WaitIdle()
	test.Tap(c.win.more)
	top := c.win.w.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("the ⋮ button opened nothing")
	}
	var labels []string
	for _, o := range test.LaidOutObjects(top) {
		if txt, ok := o.(*canvas.Text); ok && txt.Text != "" {
			labels = append(labels, txt.Text)
		}
	}
	got := strings.Join(labels, "|")
	for _, want := range []string{"Copy stream URL", "Manage tokens…", "Sign", "Start Earshot when I log in", "Quit Earshot"} {
		if !strings.Contains(got, want) {
			t.Errorf("the ⋮ menu lacks %q (has %s)", want, got)
		}
	}
}
