package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/assets"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/ui/listening"
)

// fakeHost is a StatusNotifier item that records what the tray sets: each
// call is one D-Bus signal (or property change) a panel would act on.
type fakeHost struct {
	mu    sync.Mutex
	items []*fakeItem
	icons [][]byte
	tips  []string
	ops   []string // every change, in order: "icon", "tooltip", "Mute: check", …
}

func (h *fakeHost) SetIcon(png []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.icons = append(h.icons, png)
	h.ops = append(h.ops, "icon")
}

func (h *fakeHost) SetTooltip(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tips = append(h.tips, text)
	h.ops = append(h.ops, "tooltip")
}

func (h *fakeHost) AddItem(title string, checkable, checked bool) Item {
	h.mu.Lock()
	defer h.mu.Unlock()
	it := &fakeItem{h: h, title: title, checkable: checkable, checked: checked, enabled: true, clicked: make(chan struct{}, 1)}
	h.items = append(h.items, it)
	return it
}

func (h *fakeHost) AddSeparator() {}

// opCount is how many changes the tray has made so far.
func (h *fakeHost) opCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// opsSince are the changes made after the first n.
func (h *fakeHost) opsSince(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ops[n:]...)
}

// menu is the menu as a panel would draw it: enabled labels, with [x] for
// a ticked item and (off) for a greyed one.
func (h *fakeHost) menu() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var l []string
	for _, it := range h.items {
		s := it.title
		if it.checkable && it.checked {
			s = "[x] " + s
		}
		if !it.enabled {
			s += " (off)"
		}
		l = append(l, s)
	}
	return strings.Join(l, "|")
}

// item finds the item titled title (its title now).
func (h *fakeHost) item(t *testing.T, title string) *fakeItem {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.items {
		if it.title == title {
			return it
		}
	}
	t.Fatalf("no menu item %q", title)
	return nil
}

type fakeItem struct {
	h                           *fakeHost
	title                       string
	checkable, checked, enabled bool
	clicked                     chan struct{}
}

func (i *fakeItem) rec(op string, f func()) {
	i.h.mu.Lock()
	defer i.h.mu.Unlock()
	f()
	i.h.ops = append(i.h.ops, i.title+": "+op)
}

func (i *fakeItem) SetTitle(s string) { i.rec("title "+s, func() { i.title = s }) }
func (i *fakeItem) Check()            { i.rec("check", func() { i.checked = true }) }
func (i *fakeItem) Uncheck()          { i.rec("uncheck", func() { i.checked = false }) }
func (i *fakeItem) Enable()           { i.rec("enable", func() { i.enabled = true }) }
func (i *fakeItem) Disable()          { i.rec("disable", func() { i.enabled = false }) }

func (i *fakeItem) Clicked() <-chan struct{} { return i.clicked }

// click clicks the item, as a panel's menu does.
func (i *fakeItem) click() { i.clicked <- struct{}{} }

func call(id, tg int64, label string) *event.Call {
	return &event.Call{ID: id, SystemID: 1, SystemLabel: "Harness County", TalkgroupID: tg, TalkgroupLabel: label,
		DateTime: time.Now().Unix(), LEDColor: "#ff0000"}
}

// connected is a signed-in, connected, live, idle snapshot.
func connected() *listening.Snapshot {
	return &listening.Snapshot{Rev: 1, Backend: event.StateConnected, Server: "https://scanner.example.org",
		SignedIn: true, Live: true, Volume: 1}
}

// playing is s with c playing.
func playing(s *listening.Snapshot, c *event.Call) *listening.Snapshot {
	n := *s
	n.Call, n.Title, n.Duration = c, c.TalkgroupLabel, 10*time.Second
	return &n
}

// recorder records the actions the menu's items run.
type recorder struct {
	mu  sync.Mutex
	did []string
	ran chan struct{}
}

func newRecorder() *recorder { return &recorder{ran: make(chan struct{}, 16)} }

func (r *recorder) act(name string) func() {
	return func() {
		r.mu.Lock()
		r.did = append(r.did, name)
		r.mu.Unlock()
		r.ran <- struct{}{}
	}
}

func (r *recorder) actions() Actions {
	return Actions{OpenPlayer: r.act("open"), ToggleLive: r.act("live"), PauseResume: r.act("pause"), Skip: r.act("skip"),
		ToggleMute: r.act("mute"), HoldTalkgroup: r.act("hold"), CopyStreamURL: r.act("copy"), ManageTokens: r.act("tokens"),
		SignIn: r.act("signin"), SignOut: r.act("signout"), Quit: r.act("quit")}
}

func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.ran:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("a click ran no action")
	}
}

func (r *recorder) list() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.did, ",")
}

// fakeCore is the listening core as the tray follows it: a snapshot and
// a wake-up after each new one.
type fakeCore struct {
	mu   sync.Mutex
	snap *listening.Snapshot
	wake chan struct{}
}

func newFakeCore(s *listening.Snapshot) *fakeCore {
	return &fakeCore{snap: s, wake: make(chan struct{}, 1)}
}

func (c *fakeCore) Snapshot() *listening.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

func (c *fakeCore) Watch() (<-chan struct{}, func()) {
	c.wake <- struct{}{}
	return c.wake, func() {}
}

func (c *fakeCore) publish(s *listening.Snapshot) {
	c.mu.Lock()
	c.snap = s
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// follow runs the tray on core until the test ends.
func follow(t *testing.T, tr *Tray, core Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Follow(ctx, core) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually waits until cond holds (a hang guard, not a timing).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestMenuItemsSayWhatTheSnapshotShowsAndRunTheirActions(t *testing.T) {
	h, rec := &fakeHost{}, newRecorder()
	tr := New(h, rec.actions())
	s := playing(connected(), call(1, 101, "Fire Dispatch"))
	s.Paused, s.Muted = true, true
	core := newFakeCore(s)
	follow(t, tr, core)
	want := "Open player|[x] Live|Resume|Skip|[x] Mute|Hold Fire Dispatch|No alerts yet (off)|Quiet hours are off (off)|" +
		"Copy stream URL|Manage tokens…|Sign out|Quit"
	eventually(t, "the menu shows the snapshot", func() bool { return h.menu() == want })
	for _, title := range []string{"Open player", "Live", "Resume", "Skip", "Mute", "Hold Fire Dispatch",
		"Copy stream URL", "Manage tokens…", "Sign out", "Quit"} {
		h.item(t, title).click()
		rec.wait(t)
	}
	if got := rec.list(); got != "open,live,pause,skip,mute,hold,copy,tokens,signout,quit" {
		t.Fatalf("the items ran %s", got)
	}

	// Signed out, nothing playing: nothing to skip or hold, and the account
	// item signs in.
	out := connected()
	out.Backend, out.SignedIn, out.Live = event.StateSignedOut, false, false
	core.publish(out)
	want = "Open player|Live|Pause|Skip (off)|Mute|Hold this talkgroup (off)|No alerts yet (off)|Quiet hours are off (off)|" +
		"Copy stream URL|Manage tokens…|Sign in…|Quit"
	eventually(t, "the menu shows the signed-out snapshot", func() bool { return h.menu() == want })
	h.item(t, "Sign in…").click()
	rec.wait(t)
	if got := rec.list(); !strings.HasSuffix(got, ",signin") {
		t.Fatalf("Sign in… ran %s", got)
	}
}

func TestMenuFollowsHoldAndSignOut(t *testing.T) {
	h := &fakeHost{}
	tr := New(h, Actions{})
	s := playing(connected(), call(1, 101, "Fire Dispatch"))
	tr.Show(s)
	if got := h.menu(); !strings.Contains(got, "Hold Fire Dispatch") || !strings.Contains(got, "Sign out") {
		t.Fatalf("playing, signed in: %s", got)
	}
	held := *s
	held.Filter.Hold = &filter.Hold{Talkgroup: filter.Talkgroup{SystemID: 1, TalkgroupID: 101}}
	tr.Show(&held)
	if got := h.menu(); !strings.Contains(got, "Release hold") {
		t.Fatalf("holding: %s", got)
	}
	// The hold outlives the call: it can still be released.
	idle := held
	idle.Call, idle.Title = nil, ""
	tr.Show(&idle)
	if got := h.menu(); !strings.Contains(got, "Release hold") || strings.Contains(got, "Release hold (off)") {
		t.Fatalf("holding between calls: %s", got)
	}
	out := connected()
	out.Backend, out.SignedIn = event.StateSignedOut, false
	tr.Show(out)
	if got := h.menu(); !strings.Contains(got, "Sign in…") || !strings.Contains(got, "Hold this talkgroup (off)") {
		t.Fatalf("signed out: %s", got)
	}
}

// The fault: the tray menu was re-sent 39 times in 12 seconds, because a
// playing call's position ticks several times a second. Only a change the
// tray shows may touch it, and then only the item it concerns.
func TestPositionTicksNeverTouchTheTray(t *testing.T) {
	h := &fakeHost{}
	tr := New(h, Actions{})
	s := playing(connected(), call(1, 101, "Fire Dispatch"))
	s.Queue = 2
	tr.Show(s)
	if h.opCount() == 0 || len(h.icons) != 1 || len(h.tips) != 1 {
		t.Fatalf("the first snapshot set %d icons and %d tooltips, want one each", len(h.icons), len(h.tips))
	}
	before := h.opCount()
	for i := 1; i <= 40; i++ { // ten seconds of a call at four ticks a second
		tick := *s
		tick.Rev += uint64(i)
		tick.Position = time.Duration(i) * 250 * time.Millisecond
		tr.Show(&tick)
	}
	if ops := h.opsSince(before); len(ops) != 0 {
		t.Fatalf("40 position ticks changed the tray %d times: %v", len(ops), ops)
	}
	muted := *s
	muted.Muted = true
	tr.Show(&muted)
	if ops := h.opsSince(before); strings.Join(ops, ",") != "Mute: check" {
		t.Fatalf("muting changed %v, want the Mute item's tick only", ops)
	}
	// The next call of the same talkgroup: the same icon, menu and tooltip.
	next := muted
	next.Call = call(2, 101, "Fire Dispatch")
	before = h.opCount()
	tr.Show(&next)
	if ops := h.opsSince(before); len(ops) != 0 {
		t.Fatalf("a call that looks the same changed %v", ops)
	}
}

// The fault: paused looked like live (the same green icon, "live, 2 in
// queue" in the tooltip).
func TestPausedLooksPausedInTheTray(t *testing.T) {
	h := &fakeHost{}
	tr := New(h, Actions{})
	live := connected()
	live.Queue = 2
	tr.Show(live)
	paused := *live
	paused.Paused = true
	tr.Show(&paused)
	if len(h.icons) != 2 || bytes.Equal(h.icons[0], h.icons[1]) {
		t.Fatalf("pausing set %d icons; the paused icon must differ from the live one", len(h.icons))
	}
	tip := h.tips[len(h.tips)-1]
	if !strings.Contains(tip, "paused") || strings.Contains(tip, "live") {
		t.Fatalf("paused tooltip %q", tip)
	}
	if got := h.menu(); !strings.Contains(got, "Resume") {
		t.Fatalf("paused menu %s", got)
	}
	off := *live
	off.Live = false
	tr.Show(&off)
	if tip := h.tips[len(h.tips)-1]; !strings.Contains(tip, "live off") {
		t.Fatalf("live unticked: tooltip %q", tip)
	}
}

func TestIconsDifferByStateAndLED(t *testing.T) {
	cache := map[string][]byte{}
	seen := map[string]listening.State{}
	c := call(1, 101, "Fire Dispatch")
	c.LEDColor = ""
	for _, s := range []*listening.Snapshot{
		{Backend: event.StateSignedOut},
		{Backend: event.StateConnecting},
		{Backend: event.StateConnected, Live: true},
		{Backend: event.StateConnected, Live: true, Call: c},
		{Backend: event.StateConnected, Live: true, Call: c, Paused: true},
		{Backend: event.StateRejected},
		{Backend: event.StateDisconnected},
		{Backend: event.StateConnected},
	} {
		key, png := iconFor(s, cache)
		if string(png[1:4]) != "PNG" {
			t.Fatalf("%v: the icon is not a PNG", s.State())
		}
		if other, dup := seen[string(png)]; dup {
			t.Errorf("%v and %v have the same icon", s.State(), other)
		}
		seen[string(png)] = s.State()
		if again, _ := iconFor(s, cache); again != key {
			t.Errorf("%v: the icon's key changed between two identical snapshots", s.State())
		}
	}
	red := call(1, 101, "Fire Dispatch")
	green := call(1, 102, "Fire Tac")
	green.LEDColor = "#00ff00"
	_, r := iconFor(&listening.Snapshot{Backend: event.StateConnected, Live: true, Call: red}, cache)
	_, g := iconFor(&listening.Snapshot{Backend: event.StateConnected, Live: true, Call: green}, cache)
	if bytes.Equal(r, g) {
		t.Fatal("the playing icon does not take the talkgroup's LED colour")
	}
}

func TestTrayIconAssetsAreCurrent(t *testing.T) {
	for st := listening.SignedOut; st <= listening.LiveOff; st++ {
		got := assets.TrayPNG(int(st))
		if got == nil {
			t.Fatalf("assets lack the %v tray icon: run go run ./build/icongen", st)
		}
		if !bytes.Equal(got, IconPNG(st, StateColor(st), IconSize)) {
			t.Errorf("assets' %v tray icon is stale: run go run ./build/icongen", st)
		}
	}
	// What the tray shows for a state is that asset.
	_, png := iconFor(&listening.Snapshot{Backend: event.StateConnected, Live: true, Paused: true}, map[string][]byte{})
	if !bytes.Equal(png, assets.TrayPNG(int(listening.Paused))) {
		t.Error("the tray's paused icon is not the asset")
	}
}

func TestFollowStopsWithItsContext(t *testing.T) {
	h := &fakeHost{}
	tr := New(h, Actions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Follow(ctx, newFakeCore(connected())) }()
	eventually(t, "the first snapshot shown", func() bool { return h.opCount() > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
}

// Example of the tooltip a panel shows, for the README's reader.
func ExampleTray_Show() {
	h := &fakeHost{}
	tr := New(h, Actions{})
	s := playing(connected(), call(1, 101, "Fire Dispatch"))
	s.Queue = 2
	tr.Show(s)
	fmt.Println(h.tips[0])
	// Output:
	// Earshot — playing: Fire Dispatch
	// scanner.example.org
	// 2 in queue
}

// "Start Earshot when I log in" shows the log-in entry as it stands (it
// may be changed by `earshot autostart` too) and a click turns it over; a
// failure is said and the tick stays true to the entry.
func TestAutostartItemFollowsTheLogInEntry(t *testing.T) {
	var mu sync.Mutex
	on, fail := true, false
	var problems []string
	as := &Autostart{
		On: func() (bool, error) { mu.Lock(); defer mu.Unlock(); return on, nil },
		Set: func(v bool) error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return errors.New("the autostart folder is read-only")
			}
			on = v
			return nil
		},
	}
	h := &fakeHost{}
	tr := New(h, Actions{Autostart: as, Problem: func(title, body string) {
		mu.Lock()
		problems = append(problems, body)
		mu.Unlock()
	}})
	follow(t, tr, newFakeCore(connected()))
	item := "Start Earshot when I log in"
	eventually(t, "the item ticked as the entry is on", func() bool { return strings.Contains(h.menu(), "[x] "+item) })
	h.item(t, item).click()
	eventually(t, "the item unticked after a click", func() bool {
		return strings.Contains(h.menu(), "|"+item+"|") && !strings.Contains(h.menu(), "[x] "+item)
	})
	mu.Lock()
	if on {
		t.Fatal("the click did not turn the entry off")
	}
	fail = true
	mu.Unlock()
	h.item(t, item).click()
	eventually(t, "the failure said", func() bool { mu.Lock(); defer mu.Unlock(); return len(problems) == 1 })
	if strings.Contains(h.menu(), "[x] "+item) {
		t.Fatalf("after a failed change the item is ticked, the entry is off: %s", h.menu())
	}
}
