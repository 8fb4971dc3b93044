package listening

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/ui/notify"
	"earshot/ui/player"
)

// hangGuard bounds waits that would otherwise hang a broken test; it is
// never a timing assertion.
const hangGuard = 10 * time.Second

// silentOutput is a sound device that is never started: the player's queue
// is what these tests look at.
type silentOutput struct{}

func (silentOutput) SampleRate() int                        { return 48000 }
func (silentOutput) Start(context.Context, io.Reader) error { return errors.New("no sound in tests") }
func (silentOutput) Err() error                             { return nil }

type noAudio struct{}

func (noAudio) Audio(context.Context, int64) (*cache.Entry, error) {
	return nil, errors.New("no audio in tests")
}

// fakeFeed is a relay feed with a real hub.
type fakeFeed struct {
	mu      sync.Mutex
	hub     *hub.Hub
	calls   []event.Call
	catalog event.Catalog
	status  event.Status
}

func (f *fakeFeed) Subscribe(n int) *hub.Subscriber { return f.hub.Subscribe(n) }
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
	f.mu.Lock()
	defer f.mu.Unlock()
	return relay.Report{Backend: f.status}
}

type notes struct {
	mu      sync.Mutex
	sent    []string
	notices []notify.Notice
}

func (n *notes) Show(m notify.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, m.Title+": "+m.Body)
	n.notices = append(n.notices, m)
}

// rig is a core on a real player (never started: its queue is what is
// looked at) following a fake feed, with a clock the test moves.
type rig struct {
	core  *Core
	p     *player.Player
	feed  *fakeFeed
	now   time.Time
	mu    sync.Mutex
	notes *notes
}

func newRig(t *testing.T, server string) *rig { t.Helper(); return newRigWith(t, server, nil) }

// newRigWith is newRig with the core's options changed by opts first.
func newRigWith(t *testing.T, server string, opts func(*Options)) *rig {
	t.Helper()
	r := &rig{feed: &fakeFeed{hub: hub.New(nil), status: event.Status{State: event.StateConnected, Server: "https://scanner.example.org"}},
		now: time.Date(2026, 12, 2, 0, 3, 0, 0, time.UTC), notes: &notes{}}
	clock := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	p, err := player.New(player.Options{Audio: noAudio{}, Output: silentOutput{}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	o := Options{Feed: r.feed, Player: p, Now: clock, Notifier: r.notes, Location: time.UTC,
		Account: func() (string, string) { return server, "" }}
	if opts != nil {
		opts(&o)
	}
	r.core = New(o)
	p.OnChange(r.core.OnPlayerChange)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// Run has subscribed once the first reload published.
	r.waitFor(t, "the core to follow the feed", func(*Snapshot) bool { return r.feed.hub.Subscribers() == 1 })
	return r
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func (r *rig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

// send publishes an event and waits until the core has taken it.
func (r *rig) send(t *testing.T, e event.Event) {
	t.Helper()
	before := r.core.Snapshot().Rev
	r.feed.hub.Publish(e)
	r.waitFor(t, "the core to take "+e.Type, func(s *Snapshot) bool { return s.Rev > before })
}

// waitFor waits until ok holds for the latest snapshot.
func (r *rig) waitFor(t *testing.T, what string, ok func(*Snapshot) bool) *Snapshot {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		s := r.core.Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %s; last snapshot %+v", what, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// liveCall is a call that started ago before the rig's clock and lasted 2 s.
func (r *rig) call(id int64, ago time.Duration, backfill bool) event.Event {
	c := event.Call{ID: id, SystemID: 1, SystemLabel: "Harness County", TalkgroupID: 101, TalkgroupLabel: "Fire Dispatch",
		DateTime: r.clock().Add(-ago).Unix(), Duration: 2, Backfill: backfill}
	return event.Event{Type: event.TypeCall, Call: &c}
}

func queued(p *player.Player) []int64 {
	var ids []int64
	for _, c := range p.Queue() {
		ids = append(ids, c.ID)
	}
	return ids
}

// The restart fault: after Quit and a fresh start the server's history
// (calls from minutes ago) was queued and played under "Live". Calls that
// arrive from history on a fresh start go to the history only, marked.
func TestFreshStartPlaysNothingOld(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	for id := int64(1); id <= 21; id++ {
		r.send(t, r.call(id, time.Duration(22-id)*10*time.Second, true))
	}
	if q := queued(r.p); len(q) != 0 {
		t.Fatalf("a fresh start queued %v from the server's history", q)
	}
	s := r.core.Snapshot()
	if len(s.History) != 21 || !s.History[0].Call.Backfill || s.History[0].Held != "from the server's history" {
		t.Fatalf("history: %d entries, newest %+v", len(s.History), s.History[0])
	}
	if s.Queue != 0 || s.Headline() != "Waiting for the next call…" {
		t.Fatalf("queue %d, headline %q", s.Queue, s.Headline())
	}
	// The next live call plays.
	r.send(t, r.call(22, 3*time.Second, false))
	if q := queued(r.p); len(q) != 1 || q[0] != 22 {
		t.Fatalf("the live call after the history: queue %v", q)
	}
}

// Calls the relay already held from the server's history when the core
// (re)loaded — at start, after a reset — are marked in the history too
// (the screenshot showed them bare, as if they had been queued).
func TestHeldHistoryLoadedAtStartIsMarked(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	old := r.call(1, time.Minute, true).Call
	live := r.call(2, 2*time.Second, false).Call
	r.feed.mu.Lock()
	r.feed.calls = []event.Call{*live, *old} // newest first, as the relay answers
	r.feed.mu.Unlock()
	r.send(t, event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	s := r.core.Snapshot()
	if len(s.History) != 2 || s.History[1].Held != "from the server's history" || s.History[0].Held != "" {
		t.Fatalf("history after loading: %+v", s.History)
	}
	if q := queued(r.p); len(q) != 0 {
		t.Fatalf("loading the relay's calls queued %v", q)
	}
}

// After a drop, what was missed within the catch-up window plays; what is
// older goes to the history only.
func TestAfterADropCatchUpPlaysOnlyTheLastMinute(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.send(t, r.call(1, 3*time.Second, false)) // heard live
	r.send(t, event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateDisconnected, Reason: "live feed: EOF"}})
	r.advance(5 * time.Minute)
	r.send(t, event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateConnected}})
	r.send(t, r.call(2, 4*time.Minute, true))  // missed long ago
	r.send(t, r.call(3, 40*time.Second, true)) // missed within the minute
	if q := queued(r.p); len(q) != 2 || q[0] != 1 || q[1] != 3 {
		t.Fatalf("after the drop the queue is %v, want [1 3]", q)
	}
	s := r.core.Snapshot()
	if s.History[1].Call.ID != 2 || s.History[1].Held != "missed while the feed was down" {
		t.Fatalf("the old missed call: %+v", s.History[1])
	}
	// 0 means never.
	r.core.SetCatchUp(0)
	r.send(t, r.call(4, 10*time.Second, true))
	if q := queued(r.p); len(q) != 2 {
		t.Fatalf("catch-up 0 still queued a missed call: %v", q)
	}
}

// A live call that arrives long after the feed's usual delay is old news;
// a server clock that is minutes off is not.
func TestLateLiveCallsAreHistoryButAServerClockOffIsNot(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	// The server's clock is 5 minutes behind ours: every call looks 5
	// minutes old.
	const skew = 5 * time.Minute
	r.send(t, r.call(1, skew+2*time.Second, false))
	r.send(t, r.call(2, skew+3*time.Second, false))
	r.send(t, r.call(3, skew+10*time.Minute, false)) // really 10 minutes late
	if q := queued(r.p); len(q) != 2 || q[0] != 1 || q[1] != 2 {
		t.Fatalf("queue %v, want [1 2]: the skewed clock plays, the late call does not", q)
	}
	if h := r.core.Snapshot().History[0]; h.Held != "arrived late" {
		t.Fatalf("the late call: %+v", h)
	}
}

// The paused fault: with playback paused, a new call showed "live",
// "Waiting for the next call…", "queue 1", a live-green icon and a "live"
// tooltip.
func TestPausedIsShownAsPausedEverywhere(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.core.Pause()
	r.send(t, r.call(1, 2*time.Second, false))
	s := r.core.Snapshot()
	if s.State() != Paused {
		t.Fatalf("state %v, want paused", s.State())
	}
	for what, text := range map[string]string{"headline": s.Headline(), "status line": s.StatusLine(), "tooltip": s.Tooltip()} {
		if !strings.Contains(strings.ToLower(text), "paused") {
			t.Errorf("the %s %q does not say paused", what, text)
		}
		if strings.HasPrefix(text, "live") || strings.Contains(text, "— live") || strings.Contains(text, "Waiting for the next call") {
			t.Errorf("the %s %q looks live", what, text)
		}
	}
	if !strings.Contains(s.Headline(), "1 call waiting") {
		t.Errorf("headline %q does not say a call waits", s.Headline())
	}
}

// The "Live" fault: with Live unticked the status line still said "live".
func TestLiveOffIsNotLive(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.core.SetLive(false)
	r.send(t, r.call(1, 2*time.Second, false))
	s := r.core.Snapshot()
	if s.State() != LiveOff || !strings.HasPrefix(s.StatusLine(), "live off ") {
		t.Fatalf("state %v, status line %q", s.State(), s.StatusLine())
	}
	if len(queued(r.p)) != 0 || s.History[0].Held != "live is off" {
		t.Fatalf("live off queued %v; history %+v", queued(r.p), s.History[0])
	}
}

// The outage fault: the raw dial error in faint grey and an unchanged
// headline. The reason is worded; the headline says so.
func TestServerOutageIsWorded(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	raw := "open the live feed: dial tcp 127.0.0.1:18480: connect: connection refused"
	r.send(t, event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateDisconnected, Reason: raw,
		Server: "https://scanner.example.org", RetryAt: r.clock().Add(8 * time.Second)}})
	s := r.core.Snapshot()
	if s.State() != Offline || s.Headline() != "Cannot reach the server" {
		t.Fatalf("state %v, headline %q", s.State(), s.Headline())
	}
	for _, text := range []string{s.StatusLine(), s.Tooltip()} {
		if strings.Contains(text, "dial tcp") || strings.Contains(text, "127.0.0.1") {
			t.Errorf("%q shows the raw error", text)
		}
		if !strings.Contains(text, "Cannot reach scanner.example.org: it refuses connections") {
			t.Errorf("%q does not say what is wrong in words", text)
		}
	}
	// The listener count is back once the feed is.
	r.send(t, event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateConnected, Listeners: 3}})
	if s := r.core.Snapshot(); s.QueueLine() != "queue 0 · 3 listening" {
		t.Fatalf("after reconnecting: %q", s.QueueLine())
	}
}

// Signing out kept playing the real server's queued calls under the demo
// banner. A reset drops the queue and the history at once.
func TestResetStopsTheOldAccountsCallsAtOnce(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.core.Pause()
	r.send(t, r.call(1, 2*time.Second, false))
	r.send(t, r.call(2, 2*time.Second, false))
	if len(queued(r.p)) != 2 {
		t.Fatalf("queue %v", queued(r.p))
	}
	r.feed.mu.Lock()
	r.feed.calls = nil
	r.feed.mu.Unlock()
	r.send(t, event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	s := r.waitFor(t, "the reset", func(s *Snapshot) bool { return len(s.History) == 0 })
	if q := queued(r.p); len(q) != 0 || s.Queue != 0 {
		t.Fatalf("after the reset the old account's calls still wait: %v", q)
	}
	// The next account's history is a fresh start too.
	r.send(t, r.call(1, time.Minute, true))
	if q := queued(r.p); len(q) != 0 {
		t.Fatalf("the new account's history was queued: %v", q)
	}
}

// The MPRIS fault: a talkgroup without a label was named after a stale
// label of the demo server. Titles come from the current catalogue, else
// the call, else the number.
func TestTitleNeverComesFromAnotherServer(t *testing.T) {
	r := newRig(t, "")
	cat := event.Catalog{Systems: []event.System{{ID: 1, Label: "Demo", Talkgroups: []event.Talkgroup{{ID: 5001, Label: "Demo Fire"}}}}}
	r.send(t, event.Event{Type: event.TypeCatalog, Catalog: &cat})
	// The player reports what it plays (it is not running here).
	c := event.Call{ID: 1, SystemID: 1, TalkgroupID: 5001, DateTime: r.clock().Unix()}
	r.core.OnPlayerChange(player.State{Call: &c, Live: true})
	s := r.core.Snapshot()
	if s.Title != "Demo Fire" {
		t.Fatalf("title %q, want the catalogue's label", s.Title)
	}
	r.send(t, event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	other := event.Call{ID: 1, SystemID: 1, TalkgroupID: 5001, DateTime: r.clock().Unix()}
	r.core.OnPlayerChange(player.State{Call: &other, Live: true})
	s = r.core.Snapshot()
	if s.Title != "TG 5001" {
		t.Fatalf("title %q, want TG 5001", s.Title)
	}
}

// "Notify me" talkgroups notify at most once a minute, and never for calls
// from history.
func TestNotifyMeAtMostOncePerMinuteAndNotForHistory(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.core.SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 101}, true)
	r.send(t, r.call(1, time.Minute, true))
	r.send(t, r.call(2, 2*time.Second, false))
	r.send(t, r.call(3, 2*time.Second, false))
	r.advance(61 * time.Second)
	r.send(t, r.call(4, 2*time.Second, false))
	r.notes.mu.Lock()
	defer r.notes.mu.Unlock()
	if len(r.notes.sent) != 2 || r.notes.sent[0] != "Fire Dispatch: Harness County" {
		t.Fatalf("notifications %q, want two", r.notes.sent)
	}
}

// Every view reads the same snapshot: a command's effect is in the very
// next one, and snapshots already handed out never change.
func TestSnapshotsAreImmutableAndNumbered(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	r.send(t, r.call(1, 2*time.Second, false))
	before := r.core.Snapshot()
	hist := before.History
	r.core.ToggleMute()
	after := r.core.Snapshot()
	if after.Rev <= before.Rev || !after.Muted || before.Muted {
		t.Fatalf("rev %d → %d, muted %v → %v", before.Rev, after.Rev, before.Muted, after.Muted)
	}
	r.send(t, r.call(2, 2*time.Second, false))
	if len(hist) != 1 || len(before.History) != 1 {
		t.Fatal("a published history changed")
	}
}

func TestHoldAndAvoidBetweenCallsActOnTheLastCallHeard(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	heard := event.Call{ID: 7, DateTime: r.clock().Unix(), SystemID: 1, TalkgroupID: 102, TalkgroupLabel: "Fire Tac"}
	r.core.OnPlayerChange(player.State{Call: &heard, Live: true, Volume: 1})
	r.core.OnPlayerChange(player.State{Live: true, Volume: 1}) // it played out
	s := r.core.Snapshot()
	if s.Call != nil || s.Last == nil || s.Last.ID != 7 || s.LastTitle != "Fire Tac" {
		t.Fatalf("between calls: call %v, last %v %q; want no call, the last one heard kept", s.Call, s.Last, s.LastTitle)
	}
	r.core.ToggleHoldTalkgroup()
	if h := r.core.Snapshot().Filter.Hold; h == nil || h.SystemID != 1 || h.TalkgroupID != 102 {
		t.Fatalf("Hold talkgroup between calls held %+v; want the last call's talkgroup 1/102", h)
	}
	r.core.ToggleHoldTalkgroup()
	r.core.ToggleHoldSystem()
	if h := r.core.Snapshot().Filter.Hold; h == nil || h.SystemID != 1 || h.TalkgroupID != 0 {
		t.Fatalf("Hold system between calls held %+v; want the last call's system 1", h)
	}
	r.core.ToggleHoldSystem()
	r.core.AvoidPlaying(30 * time.Minute)
	avoids := r.core.Snapshot().Filter.Avoids
	if len(avoids) != 1 || avoids[0].SystemID != 1 || avoids[0].TalkgroupID != 102 {
		t.Fatalf("Avoid between calls avoided %+v; want the last call's talkgroup 1/102", avoids)
	}
}

func TestLastCallIsForgottenWithTheAccount(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	heard := event.Call{ID: 7, SystemID: 1, TalkgroupID: 102}
	r.core.OnPlayerChange(player.State{Call: &heard, Live: true, Volume: 1})
	r.core.OnPlayerChange(player.State{Live: true, Volume: 1})
	r.send(t, event.Event{Type: event.TypeReset, Reason: event.ResetAccount})
	if s := r.core.Snapshot(); s.Last != nil {
		t.Fatalf("after an account change the last call is %v; want none (it was another server's)", s.Last)
	}
	r.core.ToggleHoldTalkgroup()
	if h := r.core.Snapshot().Filter.Hold; h != nil {
		t.Fatalf("Hold with no call heard held %+v", h)
	}
}

// finderFeed is a feed that also knows calls a search found.
type finderFeed struct {
	*fakeFeed
	found map[int64]event.Call
}

func (f finderFeed) Call(id int64) (event.Call, bool) { c, ok := f.found[id]; return c, ok }

func TestPlayReachesCallsOlderThanTheHistory(t *testing.T) {
	feed := finderFeed{fakeFeed: &fakeFeed{hub: hub.New(nil)}, found: map[int64]event.Call{3: {ID: 3, SystemID: 1, TalkgroupID: 101}}}
	p, err := player.New(player.Options{Audio: noAudio{}, Output: silentOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	core := New(Options{Feed: feed, Player: p})
	if err := core.Play(3); err != nil {
		t.Fatalf("Play of a call a search found: %v", err)
	}
	if err := core.Play(4); err == nil {
		t.Fatal("Play of a call nobody knows succeeded")
	}
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
	b, _ := json.Marshal(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string][]byte{}
	}
	p.m[key] = b
}

// The fault: the demo's "notify me" choices were saved and carried over
// to the real server.
func TestNotifyChoicesBelongToTheirServer(t *testing.T) {
	prefs := &memPrefs{}
	var mu sync.Mutex
	server := ""
	account := func() (string, string) { mu.Lock(); defer mu.Unlock(); return server, "" }
	feed := &fakeFeed{hub: hub.New(nil), status: event.Status{State: event.StateConnected}}
	p, err := player.New(player.Options{Audio: noAudio{}, Output: silentOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	core := New(Options{Feed: feed, Player: p, Prefs: prefs, Account: account})
	demoTG := player.Talkgroup{SystemID: 1, TalkgroupID: 101}
	core.SetNotify(demoTG, true)
	// Signed in to a real server: the demo's choice is not its.
	mu.Lock()
	server = "https://scanner.example.org"
	mu.Unlock()
	core.AccountChanged()
	if n := core.Snapshot().Notify; len(n) != 0 {
		t.Fatalf("after signing in, notify %v; want none (those were the demo's)", n)
	}
	realTG := player.Talkgroup{SystemID: 1, TalkgroupID: 102}
	core.SetNotify(realTG, true)
	// A restart keeps the real server's choice, and the demo's is the
	// demo's again after signing out.
	again := New(Options{Feed: feed, Player: p, Prefs: prefs, Account: account})
	if n := again.Snapshot().Notify; len(n) != 1 || n[0] != realTG {
		t.Fatalf("after a restart, notify %v; want the real server's %v", n, realTG)
	}
	mu.Lock()
	server = ""
	mu.Unlock()
	again.AccountChanged()
	if n := again.Snapshot().Notify; len(n) != 1 || n[0] != demoTG {
		t.Fatalf("back on the demo, notify %v; want the demo's %v", n, demoTG)
	}
}

func TestNotifyChoicesOfBeforeGoToTheServerSignedIn(t *testing.T) {
	prefs := &memPrefs{}
	prefs.Save("notify", []player.Talkgroup{{SystemID: 2, TalkgroupID: 201}})
	feed := &fakeFeed{hub: hub.New(nil)}
	p, _ := player.New(player.Options{Audio: noAudio{}, Output: silentOutput{}})
	core := New(Options{Feed: feed, Player: p, Prefs: prefs, Account: func() (string, string) { return "https://scanner.example.org", "alice" }})
	if n := core.Snapshot().Notify; len(n) != 1 || n[0].TalkgroupID != 201 {
		t.Fatalf("the choices of before: %v", n)
	}
	demo := New(Options{Feed: feed, Player: p, Prefs: &memPrefs{m: prefs.m}, Account: func() (string, string) { return "", "" }})
	if n := demo.Snapshot().Notify; len(n) != 0 {
		t.Fatalf("on the demo the choices of before (a real server's) show: %v", n)
	}
}

// When the window program cannot open a window (no display), the tray is
// all the listener has: its tooltip says why until a window opens.
func TestTheTooltipSaysNoWindowCanOpen(t *testing.T) {
	r := newRig(t, "https://scanner.example.org")
	why := "Earshot cannot open a window: no display (DISPLAY=:987 cannot be reached)"
	before := r.core.Snapshot().Rev
	r.core.SetWindowProblem(why)
	s := r.core.Snapshot()
	if s.Rev <= before || !strings.Contains(s.Tooltip(), why) {
		t.Fatalf("rev %d → %d, tooltip %q", before, s.Rev, s.Tooltip())
	}
	// Said again: nothing new to publish. (The rig's player and feed may
	// publish on their own meanwhile, so the reason is said 100 times and
	// the revision must not follow.)
	for range 100 {
		r.core.SetWindowProblem(why)
	}
	if again := r.core.Snapshot(); again.Rev-s.Rev >= 50 {
		t.Fatalf("the same reason said 100 times published %d new snapshots", again.Rev-s.Rev)
	}
	r.core.SetWindowProblem("")
	if tip := r.core.Snapshot().Tooltip(); strings.Contains(tip, "cannot open a window") {
		t.Fatalf("after a window opened the tooltip still says %q", tip)
	}
}

// devPlayer is the rig's player with a sound device the test takes away
// and gives back.
type devPlayer struct {
	*player.Player
	mu     sync.Mutex
	device string
}

func (p *devPlayer) State() player.State {
	st := p.Player.State()
	p.mu.Lock()
	defer p.mu.Unlock()
	st.Device = p.device
	return st
}

// setDevice changes the device's problem ("" works) and tells the core,
// as the player's OnChange does.
func (p *devPlayer) setDevice(core *Core, problem string) {
	p.mu.Lock()
	p.device = problem
	p.mu.Unlock()
	core.OnPlayerChange(p.State())
}

func newDeviceRig(t *testing.T) (*rig, *devPlayer) {
	var dp *devPlayer
	r := newRigWith(t, "https://scanner.example.org", func(o *Options) {
		dp = &devPlayer{Player: o.Player.(*player.Player)}
		o.Player = dp
	})
	return r, dp
}

// The no-sound fault: with the sound device gone the calls queue up ("No
// sound · 17 calls waiting"), and when sound came back the whole backlog
// played as if live, minutes old. Calls that waited past the catch-up
// window go to the history only, marked; the recent ones play.
func TestSoundBackPlaysOnlyWhatIsStillNews(t *testing.T) {
	r, dp := newDeviceRig(t)
	dp.setDevice(r.core, "No sound: the headset is gone")
	r.send(t, r.call(1, 3*time.Second, false))
	r.send(t, r.call(2, 3*time.Second, false))
	r.advance(5 * time.Minute)
	r.send(t, r.call(3, 3*time.Second, false))
	if q := queued(r.p); len(q) != 3 {
		t.Fatalf("without sound the queue is %v, want all three calls waiting", q)
	}
	dp.setDevice(r.core, "")
	if q := queued(r.p); len(q) != 1 || q[0] != 3 {
		t.Fatalf("with sound back the queue is %v, want only the call of a moment ago [3]", q)
	}
	s := r.core.Snapshot()
	held := map[int64]string{}
	for _, h := range s.History {
		held[h.Call.ID] = h.Held
	}
	if held[1] != heldNoSound || held[2] != heldNoSound || held[3] != "" {
		t.Fatalf("history marks %v", held)
	}
	if s.Queue != 1 {
		t.Fatalf("the snapshot still counts %d waiting", s.Queue)
	}
	// Said again with sound working: nothing more goes.
	dp.setDevice(r.core, "")
	if q := queued(r.p); len(q) != 1 {
		t.Fatalf("queue %v", q)
	}
}

// A server clock minutes off makes every call look old: sound coming back
// must not take that for waiting (the feed's usual delay absorbs it).
func TestSoundBackKeepsCallsOfAServerWithItsClockOff(t *testing.T) {
	r, dp := newDeviceRig(t)
	const skew = 5 * time.Minute
	dp.setDevice(r.core, "No sound: the headset is gone")
	r.send(t, r.call(1, skew+2*time.Second, false))
	r.send(t, r.call(2, skew+3*time.Second, false))
	r.advance(20 * time.Second)
	dp.setDevice(r.core, "")
	if q := queued(r.p); len(q) != 2 {
		t.Fatalf("a server with its clock off lost its waiting calls: queue %v", q)
	}
}
