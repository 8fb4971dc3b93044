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
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/player"
)

// trayApp is the test app with a tray, recording what the controller does
// to it.
type trayApp struct {
	fyne.App
	mu    sync.Mutex
	menus []*fyne.Menu // every SetSystemTrayMenu
	icons []fyne.Resource
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.menus = append(a.menus, m)
}
func (a *trayApp) SetSystemTrayIcon(r fyne.Resource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.icons = append(a.icons, r)
}
func (a *trayApp) SetSystemTrayWindow(fyne.Window) {}

func (a *trayApp) counts() (menus, icons int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.menus), len(a.icons)
}

// trayRig is a controller on a trayApp with a tray host whose presence the
// test sets.
type trayRig struct {
	c        *Controller
	fp       *fakePlayer
	feed     *fakeFeed
	app      *trayApp
	acc      *fakeAccounts
	host     bool
	quits    int
	tooltips []string
}

func newTrayRig(t *testing.T, host bool) *trayRig {
	r := &trayRig{fp: newFakePlayer(), host: host, acc: &fakeAccounts{server: "https://scanner.example.org"},
		feed: &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}}}
	r.app = &trayApp{App: test.NewTempApp(t)}
	r.c = New(Options{App: r.app, Feed: r.feed, Player: r.fp, Prefs: &memPrefs{}, Accounts: r.acc,
		TrayHost: func() bool { return r.host }, Quit: func() { r.quits++ },
		SetTooltip: func(s string) { r.tooltips = append(r.tooltips, s) }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); r.c.Wait() })
	r.c.Start(ctx)
	return r
}

func TestPositionTicksNeverTouchTheTrayMenu(t *testing.T) {
	r := newTrayRig(t, true)
	playing := call(1, 101, "Fire Dispatch")
	r.fp.Play(playing)
	r.fp.mu.Lock()
	r.fp.st.Duration = 10 * time.Second
	r.fp.mu.Unlock()
	r.c.OnPlayerChange(r.fp.State())
	menus, icons := r.app.counts()
	tips, reads := len(r.tooltips), r.acc.reads()
	if menus == 0 || icons == 0 || tips == 0 {
		t.Fatalf("the tray was not set up: %d menus, %d icons, %d tooltips", menus, icons, tips)
	}
	// A playing call's position ticks four times a second.
	for i := 1; i <= 40; i++ {
		r.fp.mu.Lock()
		r.fp.st.Position = time.Duration(i) * 250 * time.Millisecond
		r.fp.mu.Unlock()
		r.c.OnPlayerChange(r.fp.State())
	}
	if m, ic := r.app.counts(); m != menus || ic != icons {
		t.Fatalf("40 position ticks set the tray menu %d and the icon %d times, want 0", m-menus, ic-icons)
	}
	if n := len(r.tooltips) - tips; n != 0 {
		t.Fatalf("40 position ticks set the tooltip %d times, want 0", n)
	}
	if n := r.acc.reads() - reads; n != 0 {
		t.Fatalf("40 position ticks read the account (config.json) %d times, want 0", n)
	}
	if r.c.win.times.Text != "0:10 / 0:10" {
		t.Fatalf("the window did not follow the position: %q", r.c.win.times.Text)
	}

	// A change the menu shows updates the same menu's item in place.
	r.c.Actions().ToggleMute()
	r.app.mu.Lock()
	defer r.app.mu.Unlock()
	if len(r.app.menus) != menus+1 {
		t.Fatalf("muting set the tray menu %d times, want once", len(r.app.menus)-menus)
	}
	m := r.app.menus[len(r.app.menus)-1]
	if m != r.app.menus[0] {
		t.Fatal("muting built a new menu instead of updating the one shown")
	}
	for _, it := range m.Items {
		if it.Label == "Mute" && !it.Checked {
			t.Fatal("the Mute item is not checked after muting")
		}
	}
}

func TestTrayMenuFollowsSignInAndHold(t *testing.T) {
	r := newTrayRig(t, true)
	labels := func() string {
		r.app.mu.Lock()
		defer r.app.mu.Unlock()
		var l []string
		for _, it := range r.app.menus[len(r.app.menus)-1].Items {
			if !it.IsSeparator {
				l = append(l, it.Label)
			}
		}
		return strings.Join(l, "|")
	}
	if got := labels(); !strings.Contains(got, "Sign out") || !strings.Contains(got, "Hold this talkgroup") {
		t.Fatalf("signed-in idle menu: %s", got)
	}
	r.fp.Play(call(1, 101, "Fire Dispatch"))
	r.c.Actions().HoldTalkgroup()
	if got := labels(); !strings.Contains(got, "Release hold") {
		t.Fatalf("holding menu: %s", got)
	}
	r.c.signOut()
	r.c.ops.Wait()
	if got := labels(); !strings.Contains(got, "Sign in…") {
		t.Fatalf("signed-out menu: %s", got)
	}
}

// recWindow records whether the window was hidden or shown.
type recWindow struct {
	fyne.Window
	hides, shows int
}

func (w *recWindow) Hide() { w.hides++; w.Window.Hide() }
func (w *recWindow) Show() { w.shows++; w.Window.Show() }

func TestClosingTheWindowHidesItOnlyWhileATrayHostShowsTheIcon(t *testing.T) {
	r := newTrayRig(t, true)
	w := &recWindow{Window: r.c.win.w}
	r.c.win.w = w
	r.c.closeIntercept()
	if w.hides != 1 || r.quits != 0 {
		t.Fatalf("with a tray host: %d hides, %d quits; want hidden, not quit", w.hides, r.quits)
	}
	// The panel went away since: closing must quit, or Earshot would run
	// with no way back to it.
	r.host = false
	r.c.closeIntercept()
	if w.hides != 1 || r.quits != 1 {
		t.Fatalf("after the tray host left: %d hides, %d quits; want a quit", w.hides, r.quits)
	}
}

func TestClosingTheWindowQuitsWithoutATrayHost(t *testing.T) {
	r := newTrayRig(t, false)
	if menus, _ := r.app.counts(); menus != 0 {
		t.Fatalf("no tray host and no TrayIcon, yet the tray menu was set %d times", menus)
	}
	w := &recWindow{Window: r.c.win.w}
	r.c.win.w = w
	r.c.closeIntercept()
	if w.hides != 0 || r.quits != 1 {
		t.Fatalf("without a tray host: %d hides, %d quits; want a quit", w.hides, r.quits)
	}
	// A host that appeared later does not help: no tray icon was set up.
	r.host = true
	r.c.closeIntercept()
	if w.hides != 0 || r.quits != 2 {
		t.Fatalf("host appeared, icon never set up: %d hides, %d quits; want a quit", w.hides, r.quits)
	}
}

func TestTrayIconSetUpWithoutAHostHidesOnceAHostAppears(t *testing.T) {
	a := &trayApp{App: test.NewTempApp(t)}
	host, quits := false, 0
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	c := New(Options{App: a, Feed: feed, Player: newFakePlayer(), TrayIcon: true,
		TrayHost: func() bool { return host }, Quit: func() { quits++ }, SetTooltip: func(string) {}})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
	if menus, _ := a.counts(); menus == 0 {
		t.Fatal("TrayIcon did not set the tray up")
	}
	w := &recWindow{Window: c.win.w}
	c.win.w = w
	c.closeIntercept()
	if quits != 1 || w.hides != 0 {
		t.Fatalf("no host yet: %d quits, %d hides; want a quit", quits, w.hides)
	}
	host = true // a panel started after Earshot
	c.closeIntercept()
	if quits != 1 || w.hides != 1 {
		t.Fatalf("host now present: %d quits, %d hides; want hidden", quits, w.hides)
	}
}

func TestDemoBannerOffersSignInUntilSignedIn(t *testing.T) {
	a := test.NewTempApp(t)
	acc := &fakeAccounts{public: true}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	c := New(Options{App: a, Feed: feed, Player: newFakePlayer(), Accounts: acc})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
	pw := c.win
	if !pw.banner.Visible() || !strings.Contains(pw.bannerText.Text, "built-in demo server") || !pw.bannerBtn.Visible() {
		t.Fatalf("no account: banner shown=%v %q, button shown=%v", pw.banner.Visible(), pw.bannerText.Text, pw.bannerBtn.Visible())
	}
	test.Tap(pw.bannerBtn)
	if c.signin == nil {
		t.Fatal("the banner's Sign in… did not open the sign-in window")
	}
	var f *signInForm
	// Sign in through the form the banner opened.
	for _, o := range test.LaidOutObjects(c.signin.Content()) {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder == "https://scanner.example.org" {
			test.Type(e, "https://scanner.example.org")
		}
	}
	submit := button(t, c.signin.Content(), "Sign in")
	test.Tap(submit)
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
	_ = f
}

func TestBackendProblemShowsInTheWindowHeader(t *testing.T) {
	a := test.NewTempApp(t)
	const problem = "the system keyring would not keep the renewed sign-in"
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, problem: problem}
	c := New(Options{App: a, Feed: feed, Player: newFakePlayer(), Accounts: &fakeAccounts{server: "https://scanner.example.org"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
	if !strings.Contains(c.win.state.Text, problem) {
		t.Errorf("window header %q does not show the problem", c.win.state.Text)
	}
	// The tray's tooltip (View.Tooltip) is checked in TestTrayStateAndTooltip:
	// the test driver has no system tray.
}

func TestDemoBannerWithDemoFlagHasNoSignIn(t *testing.T) {
	a := test.NewTempApp(t)
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected}
	c := New(Options{App: a, Feed: feed, Player: newFakePlayer(), Accounts: &fakeAccounts{server: "https://scanner.example.org"}, Demo: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
	if !c.win.banner.Visible() || !strings.Contains(c.win.bannerText.Text, "--demo") || c.win.bannerBtn.Visible() {
		t.Fatalf("--demo: banner shown=%v %q, button shown=%v", c.win.banner.Visible(), c.win.bannerText.Text, c.win.bannerBtn.Visible())
	}
}

func TestSignedInWindowShowsNoDemoBanner(t *testing.T) {
	r := newTrayRig(t, true)
	if r.c.win.banner.Visible() {
		t.Fatalf("signed in, yet the banner says %q", r.c.win.bannerText.Text)
	}
}

// historyRowText renders history row i as the list does.
func historyRowText(pw *playerWindow, i int) string {
	o := pw.history.CreateItem()
	pw.history.UpdateItem(i, o)
	return o.(*widget.Label).Text
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
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot: some calls need ffmpeg", ffmpegAdvice), func() {
		c.OnPlayerChange(fp.State())
	})
	if pw.histItems[1].ID != 1 {
		t.Fatalf("row 1 is call %d", pw.histItems[1].ID)
	}
	if got := historyRowText(pw, 1); !strings.HasSuffix(got, "— needs ffmpeg") {
		t.Fatalf("the call that needs ffmpeg shows %q in the history", got)
	}
	if got := historyRowText(pw, 0); strings.Contains(got, "ffmpeg") {
		t.Fatalf("a call that played fine shows %q", got)
	}
	if pw.problem.Hidden || !strings.Contains(pw.problem.Text, "apt install ffmpeg") {
		t.Fatalf("the window's clear message: %q (hidden %v)", pw.problem.Text, pw.problem.Hidden)
	}
	// The notification is one-time; the window keeps saying it.
	test.AssertNotificationSent(t, nil, func() { c.OnPlayerChange(fp.State()) })
	if pw.problem.Hidden {
		t.Fatal("the window's message went away while ffmpeg is still missing")
	}
}

func TestCallProblemShowsInRenderedHistory(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	pw.w.Resize(fyne.NewSize(640, 440))
	pw.tabs.SelectIndex(1)
	fp.mu.Lock()
	fp.problems = map[int64]string{2: "needs ffmpeg"}
	fp.st.LastError = "Call 2 (Fire Tac) needs ffmpeg"
	fp.mu.Unlock()
	c.OnPlayerChange(fp.State())
	var rows []string
	for _, o := range test.LaidOutObjects(pw.history) {
		if l, ok := o.(*widget.Label); ok && l.Visible() {
			rows = append(rows, l.Text)
		}
	}
	joined := strings.Join(rows, "\n")
	if !strings.Contains(joined, "Fire Tac (Harness County) — needs ffmpeg") {
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
	a := test.NewTempApp(t)
	var calls []event.Call
	for id := int64(250); id >= 1; id-- { // the relay holds 250, newest first
		calls = append(calls, call(id, 101, "Fire Dispatch"))
	}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: calls}
	c := New(Options{App: a, Feed: feed, Player: newFakePlayer()})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
	h := c.History()
	if len(h) != 200 || h[0].ID != 250 || h[199].ID != 51 {
		t.Fatalf("history: %d calls, %d…%d; want 200, 250…51", len(h), h[0].ID, h[len(h)-1].ID)
	}
	for id := int64(251); id <= 255; id++ {
		cl := call(id, 101, "Fire Dispatch")
		c.onEvent(event.Event{Type: event.TypeCall, Call: &cl})
	}
	h = c.History()
	if len(h) != 200 || h[0].ID != 255 || h[199].ID != 56 {
		t.Fatalf("after 5 live calls: %d calls, %d…%d; want 200, 255…56", len(h), h[0].ID, h[len(h)-1].ID)
	}
	if n := c.win.history.Length(); n != 200 {
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
		c.Actions().CopyStreamURL()
		c.ops.Wait()
	})
	if got := a.Clipboard().Content(); got != "ws://127.0.0.1:7373/v1/live?token=abc" || asked != 1 {
		t.Fatalf("clipboard %q after %d requests", got, asked)
	}
	c.opts.StreamURL = func(ctx context.Context) (string, error) { return "", errors.New("the keyring is locked") }
	a.Clipboard().SetContent("before")
	test.AssertNotificationSent(t, fyne.NewNotification("Earshot", "Could not make a stream URL: the keyring is locked"), func() {
		c.Actions().CopyStreamURL()
		c.ops.Wait()
	})
	if got := a.Clipboard().Content(); got != "before" {
		t.Fatalf("a failed copy changed the clipboard to %q", got)
	}
}

func TestHoldSystemHoldsThePlayingCallsSystemAndReleases(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	fyne.DoAndWait(c.refresh)
	if !pw.holdSys.Disabled() {
		t.Fatal("Hold system enabled with nothing playing")
	}
	cl := call(1, 101, "Fire Dispatch")
	cl.SystemID = 7
	fp.Play(cl)
	fyne.DoAndWait(c.refresh)
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
func rowCheck(t *testing.T, pw *playerWindow, i int) *keyCheck {
	t.Helper()
	o := pw.tgList.CreateItem()
	pw.tgList.UpdateItem(i, o)
	for _, x := range o.(*fyne.Container).Objects {
		if ch, ok := x.(*keyCheck); ok && ch.Text != "Notify" {
			return ch
		}
	}
	t.Fatal("no selection box in the row")
	return nil
}

func TestChecklistOffersTheServersCatalogueWithSystemBoxes(t *testing.T) {
	a := test.NewTempApp(t)
	fp := newFakePlayer()
	seen := call(9, 150, "Heard Only") // in a call, not (yet) in the catalogue
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{seen}, catalog: catalog()}
	c := New(Options{App: a, Feed: feed, Player: fp, Prefs: &memPrefs{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	c.Start(ctx)
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
	if got := strings.Join(pw.group.Options, "|"); got != "All|Group: EMS|Group: Fire|Group: Law|Tag: Dispatch|Tag: Tactical" {
		t.Fatalf("group choices %q", got)
	}
}

func TestRelayRestartReloadsHistoryAndTalkgroups(t *testing.T) {
	c, _, feed, _ := newTestController(t)
	// Signed in to another server: its relay has other calls and systems.
	other := event.Call{ID: 1, SystemID: 5, SystemLabel: "Other City", TalkgroupID: 501, TalkgroupLabel: "Other Fire", DateTime: time.Now().Unix()}
	feed.mu.Lock()
	feed.calls = []event.Call{other}
	feed.catalog = event.Catalog{Systems: []event.System{{ID: 5, Label: "Other City", Talkgroups: []event.Talkgroup{{ID: 501, Label: "Other Fire"}, {ID: 502, Label: "Other EMS"}}}}}
	feed.mu.Unlock()
	h := feed.restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		var hist []event.Call
		c.Do(func() { got, hist = rows(c.win), c.win.histItems })
		if got == "S5 5/501 5/502" && len(hist) == 1 && hist[0].SystemID == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the relay restart: checklist %q, history %d calls (subscribers %d)", got, len(hist), h.Subscribers())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = player.Talkgroup{}
}
