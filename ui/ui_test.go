package ui

// Fyne tests share one global app: no t.Parallel here.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// fakePlayer records what the UI asked of the player.
type fakePlayer struct {
	mu       sync.Mutex
	st       player.State
	filter   player.Filter
	did      []string
	queued   []int64
	problems map[int64]string
}

func newFakePlayer() *fakePlayer { return &fakePlayer{st: player.State{Live: true, Volume: 1}} }

func (f *fakePlayer) rec(s string) { f.did = append(f.did, s) }
func (f *fakePlayer) State() player.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Filter = f.filter
	return st
}
func (f *fakePlayer) Enqueue(c event.Call) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, c.ID)
	return true
}
func (f *fakePlayer) Play(c event.Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("play")
	f.st.Call = &c
}
func (f *fakePlayer) SetLive(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("live")
	f.st.Live = on
}
func (f *fakePlayer) Pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Paused = true
}
func (f *fakePlayer) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Paused = false
}
func (f *fakePlayer) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("reset")
	f.queued = nil
	f.st.Call = nil
}
func (f *fakePlayer) TogglePause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("pause")
	f.st.Paused = !f.st.Paused
}
func (f *fakePlayer) Skip()   { f.mu.Lock(); defer f.mu.Unlock(); f.rec("skip") }
func (f *fakePlayer) Replay() { f.mu.Lock(); defer f.mu.Unlock(); f.rec("replay") }
func (f *fakePlayer) SetVolume(v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Volume = v
}
func (f *fakePlayer) SetMuted(m bool) { f.mu.Lock(); defer f.mu.Unlock(); f.st.Muted = m }
func (f *fakePlayer) ToggleMute() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("mute")
	f.st.Muted = !f.st.Muted
}
func (f *fakePlayer) HoldTalkgroup(s, t int64, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("hold")
	f.filter.HoldTalkgroup(s, t, until)
}
func (f *fakePlayer) HoldSystem(s int64, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter.HoldSystem(s, until)
}
func (f *fakePlayer) ReleaseHold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("release")
	f.filter.ReleaseHold()
}
func (f *fakePlayer) AvoidTalkgroup(s, t int64, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("avoid")
	f.filter.AvoidTalkgroup(s, t, until)
}
func (f *fakePlayer) Unavoid(s, t int64) { f.mu.Lock(); defer f.mu.Unlock(); f.filter.Unavoid(s, t) }
func (f *fakePlayer) SetSelection(tgs []player.Talkgroup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter.SetSelection(tgs)
}
func (f *fakePlayer) Filter() player.Filter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filter.Clone()
}

func (f *fakePlayer) CallProblem(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.problems[id]
}

func (f *fakePlayer) actions() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.did, ",")
}

// fakeFeed is a relay feed with a real hub.
type fakeFeed struct {
	mu      sync.Mutex
	hub     *hub.Hub
	calls   []event.Call
	catalog event.Catalog
	state   string
	problem string
	found   map[int64]event.Call // calls a search found (relay.Call)
}

// Call finds a call the relay holds or a search found.
func (f *fakeFeed) Call(id int64) (event.Call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.ID == id {
			return c, true
		}
	}
	c, ok := f.found[id]
	return c, ok
}

func (f *fakeFeed) Subscribe(n int) *hub.Subscriber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hub.Subscribe(n)
}

// restart swaps in a new hub, as a relay restart does.
func (f *fakeFeed) restart() *hub.Hub {
	f.mu.Lock()
	old := f.hub
	f.hub = hub.New(nil)
	h := f.hub
	f.mu.Unlock()
	old.Close()
	return h
}
func (f *fakeFeed) Calls(relay.Query) []event.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event.Call(nil), f.calls...)
}
func (f *fakeFeed) Catalog() event.Catalog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.catalog.Clone()
}
func (f *fakeFeed) Status() relay.Report {
	return relay.Report{Backend: event.Status{State: f.state, Server: "https://scanner.example.org", Listeners: 4, Problem: f.problem}}
}

// memPrefs keeps settings as JSON, as config.json does.
type memPrefs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (p *memPrefs) Load(key string, v any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	raw, ok := p.m[key]
	return ok && json.Unmarshal(raw, v) == nil
}
func (p *memPrefs) Save(key string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string][]byte{}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	p.m[key] = raw
}

func call(id int64, tg int64, label string) event.Call {
	return event.Call{ID: id, SystemID: 1, SystemLabel: "Harness County", TalkgroupID: tg, TalkgroupLabel: label, DateTime: time.Now().Unix(), LEDColor: "#ff0000"}
}

// newCore is a real listening core on a fake player and feed, as the
// resident runs it; the windows see it in process here (over the channel
// in the window process).
func newCore(t *testing.T, feed *fakeFeed, fp *fakePlayer, prefs Prefs, server string, opts ...func(*listening.Options)) *listening.Core {
	t.Helper()
	if prefs == nil {
		prefs = &memPrefs{}
	}
	o := listening.Options{Feed: feed, Player: fp, Prefs: prefs,
		Account: func() (string, string) { return server, "" }}
	for _, f := range opts {
		f(&o)
	}
	core := listening.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for feed.hub.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the core did not follow the feed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Run has loaded the feed once it subscribed; wait for the history.
	for len(core.Snapshot().History) != len(feed.calls) {
		if time.Now().After(deadline) {
			t.Fatal("the core did not load the history")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return core
}

// Prefs is the listening core's settings store.
type Prefs = listening.Prefs

// playerChanged tells the core the (fake) player's state changed, as the
// real player's OnChange does.
func playerChanged(core *listening.Core, fp *fakePlayer) { core.OnPlayerChange(fp.State()) }

// startController starts a controller on core with the playback window
// shown. It does not follow the core's snapshots by itself unless the
// test asks (followController): Fyne's test driver runs fyne.Do at once on
// the calling goroutine, so the follower would redraw the window while
// the test taps it; commands redraw it at once anyway.
func startController(t *testing.T, a fyne.App, core Core, opts Options) *Controller {
	t.Helper()
	opts.App, opts.Core = a, core
	c := endsWithTest(t, New(opts))
	c.Do(c.ShowPlayer)
	return c
}

// endsWithTest ends c's timers and background work with the test: a Copy
// button's revert, 2 s after a tap, drew into the next test's window
// otherwise (a data race under -race, as Fyne's test app is shared).
func endsWithTest(t *testing.T, c *Controller) *Controller {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	t.Cleanup(func() { cancel(); c.Wait() })
	return c
}

// followController makes c follow its core's snapshots, as the window
// process does.
func followController(t *testing.T, c *Controller) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); c.Wait() })
	c.Start(ctx)
}

func newTestController(t *testing.T) (*Controller, *fakePlayer, *fakeFeed, fyne.App) {
	a := test.NewTempApp(t)
	fp := newFakePlayer()
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}}
	core := newCore(t, feed, fp, nil, "https://scanner.example.org")
	c := startController(t, a, core, Options{})
	return c, fp, feed, a
}

// coreOf is the controller's core, in process.
func coreOf(c *Controller) *listening.Core { return c.opts.Core.(*listening.Core) }

func TestWindowShowsCallsAndHistory(t *testing.T) {
	c, fp, feed, _ := newTestController(t)
	core := coreOf(c)
	if n := len(core.Snapshot().History); n != 2 {
		t.Fatalf("history has %d calls, want the 2 held by the relay", n)
	}
	live := call(3, 101, "Fire Dispatch")
	live.Frequency = 851012500
	live.Transcript = "engine 5 respond"
	feed.hub.Publish(event.Event{Type: event.TypeCall, Call: &live})
	deadline := time.Now().Add(5 * time.Second)
	for len(core.Snapshot().History) != 3 {
		if time.Now().After(deadline) {
			t.Fatal("live call not added to history")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h := core.Snapshot().History; h[0].Call.ID != 3 {
		t.Fatalf("history not newest first: %v", h[0].Call.ID)
	}
	fp.Play(live)
	playerChanged(core, fp)
	c.refresh()
	pw := c.win
	if !strings.Contains(pw.queue.Text, "4 listening") {
		t.Errorf("queue label %q lacks the listener count", pw.queue.Text)
	}
	if pw.tg.Text != "Fire Dispatch" || !strings.Contains(pw.meta.Text, "851.0125 MHz") || pw.transcript.Text != "engine 5 respond" {
		t.Fatalf("now playing: %q / %q / %q", pw.tg.Text, pw.meta.Text, pw.transcript.Text)
	}
}

func TestActivatingAHistoryRowPlaysThatCall(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	if calls := historyCalls(pw); len(calls) != 2 {
		t.Fatalf("the history list shows %d calls, want 2", len(calls))
	}
	want := historyCalls(pw)[1] // the older call, not the newest
	pw.hist.list.Select(1)
	st := fp.State()
	if count(fp.actions(), "play") != 1 || st.Call == nil || st.Call.ID != want.ID {
		t.Fatalf("selecting row 1 (call %d) did %q and plays %+v", want.ID, fp.actions(), st.Call)
	}
	playerChanged(coreOf(c), fp)
	c.refresh()
	if pw.tg.Text != listening.CallTitle(want) {
		t.Fatalf("now playing shows %q, want %q", pw.tg.Text, listening.CallTitle(want))
	}
	// The row does not stay selected, so the same row can be activated again.
	pw.hist.list.Select(1)
	if count(fp.actions(), "play") != 2 {
		t.Fatalf("activating the same row again did %q", fp.actions())
	}
}

func TestKeyboardShortcuts(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	cur := call(1, 101, "Fire Dispatch")
	fp.Play(cur)
	playerChanged(coreOf(c), fp)
	cv := c.win.w.Canvas()
	test.TypeOnCanvas(cv, " ")
	cv.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyRight})
	cv.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyLeft})
	for _, r := range "HMLA" {
		cv.OnTypedRune()(r)
	}
	got := fp.actions()
	for _, want := range []string{"skip", "replay", "hold", "mute", "live", "avoid"} {
		if !strings.Contains(got, want) {
			t.Errorf("keyboard did not %s (did %s)", want, got)
		}
	}
	if f := fp.Filter(); len(f.Avoids) != 1 || f.Avoids[0].Until.IsZero() {
		t.Fatalf("A did not avoid the talkgroup for a while: %+v", f.Avoids)
	}
}

func TestTalkgroupChecklistSearchAndSelection(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	test.Type(pw.search, "tac")
	if got := pw.shownTalkgroups(); len(got) != 1 || got[0].TalkgroupID != 102 {
		t.Fatalf("search kept %v", got)
	}
	pw.selectShown(false) // hear everything but Fire Tac
	sel := fp.Filter().Selection
	if len(sel) != 1 || sel[0].TalkgroupID != 101 {
		t.Fatalf("selection %v, want only 101", sel)
	}
	coreOf(c).SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 101}, true)
	if !coreOf(c).Snapshot().NotifyOn(player.Talkgroup{SystemID: 1, TalkgroupID: 101}) {
		t.Fatal("notify not set")
	}
}

// fakeAccounts plays `earshot login`.
type fakeAccounts struct {
	mu       sync.Mutex
	public   bool
	err      error
	signed   []string
	server   string // the account configured, after a sign-in
	accounts int    // Account calls (each reads config.json in the app)
	signedIn func() // what the resident does after a sign-in
}

func (f *fakeAccounts) Account() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts++
	return f.server, ""
}
func (f *fakeAccounts) Probe(context.Context, string) (bool, error) {
	return f.public, nil
}
func (f *fakeAccounts) SignIn(_ context.Context, server, user, pw string, remember bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signed = append(f.signed, server+"|"+user)
	if f.err == nil {
		f.server = server
	}
	err, after := f.err, f.signedIn
	f.mu.Unlock()
	if err == nil && after != nil {
		after()
	}
	f.mu.Lock()
	return err
}
func (f *fakeAccounts) SignOut(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.server = ""
	return nil
}

func (f *fakeAccounts) reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accounts
}

func TestSignInFormErrorsAndSuccess(t *testing.T) {
	c, _, _, _ := newTestController(t)
	acc := &fakeAccounts{err: &ipc.Error{Kind: ipc.KindCredentials, Message: "refused"}}
	c.opts.Accounts = acc
	done := false
	f := c.newSignInForm(func() { done = true })
	test.Type(f.server, "https://scanner.example.org")
	test.Type(f.user, "alice")
	test.Tap(f.submit)
	if !strings.Contains(f.message.Text, "password") {
		t.Fatalf("no password → %q", f.message.Text)
	}
	test.Type(f.password, "wrong")
	test.Tap(f.submit)
	f.pending.Wait()
	waitText(t, f.message, "refused")
	acc.err = nil
	test.Tap(f.submit)
	f.pending.Wait()
	waitText(t, f.message, "Signed in")
	if !done || len(acc.signed) != 2 {
		t.Fatalf("done=%v signed=%v", done, acc.signed)
	}
	// A public server needs no account; a private one says so.
	f.user.SetText("")
	f.password.SetText("")
	test.Tap(f.submit)
	f.pending.Wait()
	waitText(t, f.message, "no public access")
	acc.public = true
	test.Tap(f.submit)
	f.pending.Wait()
	waitText(t, f.message, "Signed in")
}

func waitText(t *testing.T, l *widget.Label, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var text string
		fyne.DoAndWait(func() { text = l.Text })
		if strings.Contains(text, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("text %q never contained %q", text, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignInMessages(t *testing.T) {
	for kind, want := range map[string]string{
		ipc.KindCredentials:    "refused",
		ipc.KindRateLimited:    "10 minutes",
		ipc.KindNotOpenScanner: "OpenScanner",
		ipc.KindUnreachable:    "cannot be reached",
		ipc.KindTLSUntrusted:   "certificate",
		ipc.KindNotHTTPS:       "does not speak HTTPS",
		ipc.KindNeedsAccount:   "no public access",
	} {
		if got := SignInMessage(fmt.Errorf("sign in: %w", &ipc.Error{Kind: kind, Message: "raw"})); !strings.Contains(got, want) {
			t.Errorf("%s → %q, want it to mention %q", kind, got, want)
		}
	}
}

// fakeTokens records token operations.
type fakeTokens struct {
	mu   sync.Mutex
	list []tokens.Info
	ops  []string
}

func (f *fakeTokens) List(context.Context) ([]tokens.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokens.Info(nil), f.list...), nil
}
func (f *fakeTokens) Create(_ context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := tokens.Info{ID: "t1", Name: name, Scope: scope, Created: time.Now()}
	f.list = append(f.list, info)
	f.ops = append(f.ops, "create "+name)
	return "tok-value", info, nil
}
func (f *fakeTokens) Revoke(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "revoke "+id)
	return nil
}
func (f *fakeTokens) Rotate(_ context.Context, id string, g time.Duration) (string, tokens.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "rotate "+id+" "+g.String())
	return "new-value", tokens.Info{ID: "t2"}, nil
}
func (f *fakeTokens) RotateAll(_ context.Context, g time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "rotate-all "+g.String())
	return nil
}
func (f *fakeTokens) BaseURL() string { return "http://127.0.0.1:7373" }

func (f *fakeTokens) did() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.ops, ",")
}

func TestTokensWindowListsAndRevokes(t *testing.T) {
	c, _, _, a := newTestController(t)
	ft := &fakeTokens{list: []tokens.Info{{ID: "abc", Name: "OBS", Scope: "listen", Created: time.Now()}}}
	c.opts.Tokens = ft
	w := a.NewWindow("tokens")
	tv := c.newTokensView(w)
	w.SetContent(tv.content)
	tv.reload()
	tv.pending.Wait()
	waitText(t, tv.status, "1 token")
	if line := tv.tokenLine(tv.list[0]); !strings.Contains(line, "OBS") || !strings.Contains(line, "active") {
		t.Fatalf("line %q", line)
	}
	tv.run("revoke", func(ctx context.Context) error { return ft.Revoke(ctx, "abc") })
	tv.pending.Wait()
	if len(ft.ops) != 1 || ft.ops[0] != "revoke abc" {
		t.Fatalf("ops %v", ft.ops)
	}
	urls := IssuedURLs("http://127.0.0.1:7373", "a+b")
	if urls[0][1] != "a+b" || urls[1][1] != "http://127.0.0.1:7373/v1/stream.mp3?token=a%2Bb" || !strings.HasSuffix(urls[3][1], "/login?token=a%2Bb") {
		t.Fatalf("urls %v", urls)
	}
}

func TestTalkgroupChecklistByGroupAndTag(t *testing.T) {
	a := test.NewTempApp(t)
	fp := newFakePlayer()
	mk := func(id, tg int64, label, group, tag string) event.Call {
		c := call(id, tg, label)
		c.TalkgroupGroup, c.TalkgroupTag = group, tag
		return c
	}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{
		mk(3, 201, "PD North", "Law", "Dispatch"), mk(2, 102, "Fire Tac", "Fire", "Tactical"), mk(1, 101, "Fire Dispatch", "Fire", "Dispatch")}}
	c := startController(t, a, newCore(t, feed, fp, nil, ""), Options{})
	pw := c.win
	want := "All|Group: Fire|Group: Law|Tag: Dispatch|Tag: Tactical"
	if got := strings.Join(pw.group.Options, "|"); got != want {
		t.Fatalf("group choices %q, want %q", got, want)
	}
	shown := func() (ids []int64) {
		for _, k := range pw.shownTalkgroups() {
			ids = append(ids, k.TalkgroupID)
		}
		return ids
	}
	pw.group.SetSelected("Tag: Dispatch")
	if got := shown(); len(got) != 2 || got[0] != 101 || got[1] != 201 {
		t.Fatalf("tag Dispatch shows %v, want [101 201]", got)
	}
	pw.group.SetSelected("Group: Fire")
	test.Type(pw.search, "tac")
	if got := shown(); len(got) != 1 || got[0] != 102 {
		t.Fatalf("group Fire + search tac shows %v, want [102]", got)
	}
	// Selecting what a group shows selects the group.
	pw.search.SetText("")
	pw.selectShown(false)
	sel := fp.Filter().Selection
	if len(sel) != 1 || sel[0].TalkgroupID != 201 {
		t.Fatalf("clearing group Fire leaves %v, want only 201", sel)
	}
}

func TestAvoidShowsAndLifts(t *testing.T) {
	c, fp, _, _ := newTestController(t)
	pw := c.win
	fp.Play(call(1, 101, "Fire Dispatch"))
	playerChanged(coreOf(c), fp)
	c.refresh()
	if !pw.lift.Disabled() {
		t.Fatal("Lift avoids enabled with nothing avoided")
	}
	pw.avoid.SetSelected("until lifted")
	f := fp.Filter()
	if len(f.Avoids) != 1 || !f.Avoids[0].Until.IsZero() {
		t.Fatalf("avoids %+v, want 101 until lifted", f.Avoids)
	}
	if !strings.Contains(fp.actions(), "skip") {
		t.Fatal("avoiding did not skip the call")
	}
	if pw.filters.Hidden || !strings.Contains(pw.filters.Text, "Avoiding Fire Dispatch") {
		t.Fatalf("filter line %q (hidden %v)", pw.filters.Text, pw.filters.Hidden)
	}
	test.Tap(pw.lift)
	if f := fp.Filter(); len(f.Avoids) != 0 {
		t.Fatalf("avoids after lifting: %+v", f.Avoids)
	}
	if pw.filters.Text != "" || pw.filters.Hidden {
		t.Fatalf("filter line after lifting: %q (hidden %v); want it empty and keeping its room", pw.filters.Text, pw.filters.Hidden)
	}
}

func TestSettingsAreRememberedAcrossRestarts(t *testing.T) {
	a := test.NewTempApp(t)
	prefs := &memPrefs{}
	feed := &fakeFeed{hub: hub.New(nil), state: event.StateConnected, calls: []event.Call{call(2, 102, "Fire Tac"), call(1, 101, "Fire Dispatch")}}
	fp := newFakePlayer()
	core := newCore(t, feed, fp, prefs, "")
	c := startController(t, a, core, Options{})
	fp.Play(call(1, 101, "Fire Dispatch"))
	playerChanged(core, fp)
	core.ToggleLive()
	core.ToggleMute()
	c.win.volume.SetValue(40)
	c.win.volume.OnChangeEnded(40)
	c.win.avoidCurrent("30 minutes")
	core.SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 102}, true)
	c.win.setSelected([]player.Talkgroup{{SystemID: 1, TalkgroupID: 102}}, false)
	core.ToggleHoldTalkgroup()

	// The next start.
	fp2 := newFakePlayer()
	c2 := listening.New(listening.Options{Feed: feed, Player: fp2, Prefs: prefs})
	st, f := fp2.State(), fp2.Filter()
	if st.Live || !st.Muted || st.Volume != 0.4 {
		t.Errorf("restored live=%v muted=%v volume=%v, want false true 0.4", st.Live, st.Muted, st.Volume)
	}
	if len(f.Avoids) != 1 || f.Avoids[0].TalkgroupID != 101 || f.Avoids[0].Until.IsZero() {
		t.Errorf("restored avoids %+v", f.Avoids)
	}
	if len(f.Selection) != 1 || f.Selection[0].TalkgroupID != 101 {
		t.Errorf("restored selection %+v, want only 101", f.Selection)
	}
	if f.Hold != nil {
		t.Errorf("a hold was restored: %+v", f.Hold)
	}
	if !c2.Snapshot().NotifyOn(player.Talkgroup{SystemID: 1, TalkgroupID: 102}) {
		t.Error("notify me not restored")
	}
}

// button finds the first button labelled text under o (dialogs included,
// when o is a canvas's top overlay).
func button(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	for _, x := range test.LaidOutObjects(o) {
		if b, ok := x.(*widget.Button); ok && b.Text == text && !b.Hidden {
			return b
		}
	}
	t.Fatalf("no %q button", text)
	return nil
}

func TestTokensWindowConfirmsBeforeBreakingConsumers(t *testing.T) {
	c, _, _, a := newTestController(t)
	ft := &fakeTokens{list: []tokens.Info{{ID: "abc", Name: "OBS", Scope: "listen", Created: time.Now()}}}
	c.opts.Tokens = ft
	w := a.NewWindow("tokens")
	tv := c.newTokensView(w)
	w.SetContent(tv.content)
	w.Resize(fyne.NewSize(820, 420))
	tv.reload()
	tv.pending.Wait()
	waitText(t, tv.status, "1 token")
	top := func() fyne.CanvasObject {
		o := w.Canvas().Overlays().Top()
		if o == nil {
			t.Fatal("no dialog shown")
		}
		return o
	}
	step := func(tap *widget.Button, answer string) {
		t.Helper()
		test.Tap(tap)
		test.Tap(button(t, top(), answer))
		tv.pending.Wait()
	}

	// Revoke asks first; "No" changes nothing.
	step(button(t, w.Content(), "Revoke"), "No")
	if ft.did() != "" {
		t.Fatalf("declined revoke did %q", ft.did())
	}
	step(button(t, w.Content(), "Revoke"), "Yes")
	if ft.did() != "revoke abc" {
		t.Fatalf("confirmed revoke did %q", ft.did())
	}

	// Rotate offers the grace (10 minutes by default) and shows the new
	// token once, with copy buttons.
	step(button(t, w.Content(), "Rotate"), "Rotate")
	if !strings.HasSuffix(ft.did(), "rotate abc 10m0s") {
		t.Fatalf("rotate did %q", ft.did())
	}
	issued := top()
	test.Tap(button(t, issued, "Copy"))
	if got := a.Clipboard().Content(); got != "new-value" {
		t.Fatalf("copied %q, want the new token", got)
	}
	test.Tap(button(t, issued, "Done"))

	// Rotate all: every consumer breaks, so it asks too (grace "now").
	step(button(t, w.Content(), "Rotate all…"), "Cancel")
	if strings.Contains(ft.did(), "rotate-all") {
		t.Fatal("cancelled rotate-all ran")
	}
	step(button(t, w.Content(), "Rotate all…"), "Rotate all")
	if !strings.HasSuffix(ft.did(), "rotate-all 0s") {
		t.Fatalf("rotate-all did %q", ft.did())
	}

	// Create names the token and shows its URLs once.
	test.Tap(button(t, w.Content(), "Create token…"))
	for _, x := range test.LaidOutObjects(top()) {
		if e, ok := x.(*widget.Entry); ok {
			test.Type(e, "VLC")
			break
		}
	}
	test.Tap(button(t, top(), "Create"))
	tv.pending.Wait()
	if !strings.HasSuffix(ft.did(), "create VLC") {
		t.Fatalf("create did %q", ft.did())
	}
	var urls []string
	for _, x := range test.LaidOutObjects(top()) {
		if e, ok := x.(*widget.Entry); ok {
			urls = append(urls, e.Text)
		}
	}
	if len(urls) != 8 || urls[0] != "tok-value" || !strings.Contains(urls[1], "/v1/stream.mp3?token=tok-value") || !strings.Contains(urls[3], "/login?token=tok-value") {
		t.Fatalf("issued dialog shows %q", urls)
	}
}
