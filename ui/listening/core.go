// Package listening is the listening core: the one owner of what is heard.
// It follows the relay's live feed itself, decides which calls are queued
// (live, paused, hold, avoid, selection, and the catch-up rule for calls
// that arrive from the server's history), acts on what stands out (alert
// rules' matches, priority talkgroups, quiet hours), drives the player,
// keeps the history with what became of each call, the talkgroups on
// offer, the "notify me" choices and the settings, and publishes one
// immutable Snapshot of all of it to every view after every change.
//
// Views (the tray, the playback window in its own process, MPRIS) render
// snapshots and send commands; they hold no listening state of their own.
// The package must not import Fyne or any other GUI toolkit: the resident
// process, which links no GUI library, runs it.
package listening

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/notify"
	"earshot/ui/player"
)

// Feed is the relay as the core follows it (*relay.Relay implements it).
// It is one long-lived handle: an account change arrives as a reset event.
type Feed interface {
	Subscribe(queueLen int) *hub.Subscriber
	Calls(q relay.Query) []event.Call
	Status() relay.Report
	Catalog() event.Catalog
}

// callFinder is a Feed that also knows calls older than those it holds
// (*relay.Relay: those a search found in the server's history).
type callFinder interface {
	Call(id int64) (event.Call, bool)
}

// Player is the call player as the core drives it (*player.Player
// implements it).
type Player interface {
	State() player.State
	Queue() []event.Call
	Enqueue(c event.Call) bool
	EnqueueAt(c event.Call, pos int, tone bool) bool
	Alert(id int64, tone, bump bool) bool
	Interrupt(c event.Call, tone, requeue bool)
	Unqueue(drop func(event.Call) bool) []int64
	Regain()
	Play(c event.Call)
	SetLive(on bool)
	Pause()
	Resume()
	TogglePause()
	Skip()
	Replay()
	SetVolume(v float64)
	SetMuted(m bool)
	ToggleMute()
	HoldTalkgroup(systemID, talkgroupID int64, until time.Time)
	HoldSystem(systemID int64, until time.Time)
	ReleaseHold()
	AvoidTalkgroup(systemID, talkgroupID int64, until time.Time)
	Unavoid(systemID, talkgroupID int64)
	SetSelection(tgs []player.Talkgroup)
	Filter() player.Filter
	CallProblem(id int64) string
	Reset()
}

var _ Player = (*player.Player)(nil)

// Prefs keeps the listener's settings across restarts.
type Prefs interface {
	// Load decodes the setting named key into v and reports whether one
	// was stored.
	Load(key string, v any) bool
	// Save stores v as the setting named key.
	Save(key string, v any)
}

// Notifier shows desktop notifications (*notify.Notifier implements it).
// Show must not block: the core calls it as calls arrive.
type Notifier interface {
	Show(n notify.Notice)
}

// Options configure a Core.
type Options struct {
	Feed   Feed
	Player Player
	// Prefs keeps the settings; nil keeps them for this run only.
	Prefs Prefs
	// Notifier shows alerts, "notify me" and one-time notices; nil shows
	// none.
	Notifier Notifier
	// Settings keeps the settings (alert rules, priority, quiet hours,
	// volumes, …) and applies them beyond the core; nil keeps them in
	// memory for this run.
	Settings SettingsStore
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of quiet hours and of the times in
	// notifications; nil means time.Local.
	Location *time.Location
	// Account returns the configured server and user ("" when none); it is
	// read at start and after every reset, never per update.
	Account func() (server, user string)
	// DemoFlag: Earshot was started with --demo.
	DemoFlag bool
}

// Preference keys (config.json "preferences").
const (
	prefLive   = "live"
	prefVolume = "volume"
	prefMuted  = "muted"
	prefFilter = "filter"
	prefNotify = "notify" // before they were kept per server; read once
	// prefNotifyBy is the "notify me" talkgroups of each server (its URL,
	// or "demo"): the demo's never carry over to a real server.
	prefNotifyBy = "notifyByServer"
	prefCatchUp  = "catchUpSeconds"
)

// Limits and defaults.
const (
	MaxHistory = 200 // calls the history keeps
	// DefaultCatchUp is how far back calls missed during a drop are
	// played when the feed comes back.
	DefaultCatchUp = 60 * time.Second
	// MaxCatchUp bounds the setting.
	MaxCatchUp = time.Hour
	// lateTolerance is how much later than the feed's usual delay a live
	// call may arrive and still be played as live (besides CatchUp).
	lateTolerance = 30 * time.Second
	// notifyEvery rate-limits "notify me" per talkgroup.
	notifyEvery = time.Minute
	// baselineCalls is how many recent live calls set the feed's usual
	// delay (which also absorbs a server clock that is off).
	baselineCalls = 16
)

// Core is the listening core. Create it with New, start it with Run; its
// commands and Snapshot are safe from any goroutine.
type Core struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	p    Player

	changeMu sync.Mutex // one settings change at a time
	mu       sync.Mutex
	snap     *Snapshot
	st       player.State
	status   event.Status
	server   string
	user     string
	history  []HistoryEntry // newest first; replaced, never modified, once published
	histRev  uint64
	catalog  event.Catalog
	seen     map[player.Talkgroup]TGInfo
	dir      Directory
	dirRev   uint64
	notify   map[player.Talkgroup]bool // the current server's
	notifyBy map[string][]player.Talkgroup
	notified map[player.Talkgroup]time.Time
	catchUp  time.Duration
	// The catch-up rule's memory since the start (or the last reset).
	sawLive   bool        // a call arrived live
	dropped   bool        // the feed was up, then lost
	delays    []float64   // recent live calls' delay (s): now − (start + length)
	told      bool        // the one-time ffmpeg notice was sent
	playingID int64       // the call the player played last
	last      *event.Call // that call (never modified once set)
	watchers  Watchers

	// What stands out (alerting.go, quiet.go).
	loc         *time.Location
	settings    Settings
	settingsRev uint64
	sched       *quiet.Schedule // nil: no quiet hours
	quiet       QuietState      // as last checked
	quietWas    bool            // quiet hours were in force at the last checkQuiet
	quietPaused time.Time
	quietWake   chan struct{}
	held        []heldNotice // notifications held for the end of quiet hours
	heldMore    int          // and how many more did not fit
	lastAlert   *AlertNote

	// windowProblem: why the window program could not open a window at
	// its last start ("" once one opened).
	windowProblem string
}

// New returns a core that applies the remembered settings to the player.
func New(opts Options) *Core {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Account == nil {
		opts.Account = func() (string, string) { return "", "" }
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	c := &Core{
		opts: opts, log: opts.Logger, now: opts.Now, p: opts.Player,
		seen:     map[player.Talkgroup]TGInfo{},
		notify:   map[player.Talkgroup]bool{},
		notifyBy: map[string][]player.Talkgroup{},
		notified: map[player.Talkgroup]time.Time{},
		catchUp:  DefaultCatchUp,
		loc:      opts.Location,
		settings: DefaultSettings(),
		// The defaults are the first revision: views that compare with
		// a zero revision show them.
		settingsRev: 1,
		quietWake:   make(chan struct{}, 1),
	}
	c.server, c.user = opts.Account()
	c.restorePrefs()
	c.mu.Lock()
	c.loadSettingsLocked()
	c.quiet = c.quietStateLocked(c.now())
	c.st = c.p.State()
	c.publishLocked()
	c.mu.Unlock()
	return c
}

func (c *Core) restorePrefs() {
	p := c.opts.Prefs
	if p == nil {
		return
	}
	live := true
	p.Load(prefLive, &live)
	c.p.SetLive(live)
	var vol float64
	if p.Load(prefVolume, &vol) {
		c.p.SetVolume(vol)
	}
	var muted bool
	if p.Load(prefMuted, &muted) {
		c.p.SetMuted(muted)
	}
	var f player.Filter
	if p.Load(prefFilter, &f) {
		c.p.SetSelection(f.Selection)
		for _, a := range f.Avoids {
			c.p.AvoidTalkgroup(a.SystemID, a.TalkgroupID, a.Until)
		}
	}
	if !p.Load(prefNotifyBy, &c.notifyBy) || c.notifyBy == nil {
		c.notifyBy = map[string][]player.Talkgroup{}
		// Kept before they were per server: they belong to the server
		// signed in to now, never to the demo.
		var notify []player.Talkgroup
		if p.Load(prefNotify, &notify) && c.server != "" && !c.opts.DemoFlag {
			c.notifyBy[c.server] = notify
		}
	}
	c.loadNotifyLocked(c.server)
	var secs float64
	if p.Load(prefCatchUp, &secs) && secs >= 0 {
		c.catchUp = min(MaxCatchUp, time.Duration(secs*float64(time.Second)))
	}
	var paused time.Time
	if p.Load(prefQuietPaused, &paused) && c.now().Before(paused) {
		c.quietPaused = paused
		if limit := c.now().Add(24 * time.Hour); paused.After(limit) {
			c.quietPaused = limit
		}
	}
}

func (c *Core) savePrefs() {
	p := c.opts.Prefs
	if p == nil {
		return
	}
	st := c.p.State()
	p.Save(prefLive, st.Live)
	p.Save(prefVolume, st.Volume)
	p.Save(prefMuted, st.Muted)
	f := c.p.Filter()
	f.Hold = nil // a hold is for now, not for the next start
	p.Save(prefFilter, f)
	c.mu.Lock()
	c.notifyBy[c.notifyKeyLocked(c.server)] = c.notifyListLocked()
	notifyBy := maps.Clone(c.notifyBy)
	catchUp := c.catchUp
	c.mu.Unlock()
	p.Save(prefNotifyBy, notifyBy)
	p.Save(prefCatchUp, catchUp.Seconds())
}

// notifyKeyLocked is the key of server's "notify me" choices: its URL, or
// "demo".
func (c *Core) notifyKeyLocked(server string) string {
	if server == "" || c.opts.DemoFlag {
		return "demo"
	}
	return server
}

// setAccountLocked makes server and user the account: another server
// brings its own "notify me" choices.
func (c *Core) setAccountLocked(server, user string) {
	if c.notifyKeyLocked(server) != c.notifyKeyLocked(c.server) {
		c.notifyBy[c.notifyKeyLocked(c.server)] = c.notifyListLocked()
		c.loadNotifyLocked(server)
	}
	c.server, c.user = server, user
}

// loadNotifyLocked makes server's "notify me" choices the ones in force.
func (c *Core) loadNotifyLocked(server string) {
	c.notify = map[player.Talkgroup]bool{}
	for _, t := range c.notifyBy[c.notifyKeyLocked(server)] {
		c.notify[t] = true
	}
}

func (c *Core) notifyListLocked() []player.Talkgroup {
	var notify []player.Talkgroup
	for t := range c.notify {
		notify = append(notify, t)
	}
	sort.Slice(notify, func(i, j int) bool {
		return notify[i].SystemID < notify[j].SystemID || (notify[i].SystemID == notify[j].SystemID && notify[i].TalkgroupID < notify[j].TalkgroupID)
	})
	return notify
}

// Run follows the feed until ctx ends. The player's OnChange must be set
// to OnPlayerChange.
func (c *Core) Run(ctx context.Context) error {
	sub := c.opts.Feed.Subscribe(1024)
	c.reload(false)
	// Quiet hours begin and end by the clock.
	quietTimer := time.NewTimer(time.Hour)
	defer quietTimer.Stop()
	armQuiet := func() {
		quietTimer.Stop()
		if d, ok := c.nextQuietCheck(); ok {
			quietTimer.Reset(d)
		}
	}
	c.checkQuiet()
	armQuiet()
	for {
		select {
		case <-ctx.Done():
			sub.Close()
			return nil
		case <-quietTimer.C:
			c.checkQuiet()
			armQuiet()
		case <-c.quietWake:
			armQuiet()
		case e, ok := <-sub.Events():
			if ok {
				c.onEvent(e)
				continue
			}
			if !errors.Is(sub.Err(), hub.ErrSlowConsumer) {
				// The relay shut down: nothing more will come.
				<-ctx.Done()
				return nil
			}
			// Dropped for falling behind: catch up from what the relay
			// holds.
			c.log.Warn("the listening core fell behind the feed; reloading")
			sub = c.opts.Feed.Subscribe(1024)
			c.reload(false)
		}
	}
}

// reload reads the relay's calls, catalogue, status and the account
// afresh: at start, after a reset (reset: the old account's state is void)
// and after falling behind.
func (c *Core) reload(reset bool) {
	if reset {
		c.p.Reset()
	}
	calls := c.opts.Feed.Calls(relay.Query{Limit: MaxHistory})
	cat := c.opts.Feed.Catalog()
	rep := c.opts.Feed.Status()
	server, user := c.opts.Account()
	var settings *Settings
	if reset {
		// Another server's settings (alert rules, priority, volumes).
		settings = c.readSettings()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if settings != nil {
		c.setSettingsLocked(*settings)
		c.lastAlert = nil
	}
	old := map[int64]HistoryEntry{}
	if !reset {
		for _, h := range c.history {
			old[h.Call.ID] = h
		}
	} else {
		c.seen = map[player.Talkgroup]TGInfo{}
		c.notified = map[player.Talkgroup]time.Time{}
		c.sawLive, c.dropped, c.delays = false, false, nil
		c.playingID, c.last = 0, nil
	}
	hist := make([]HistoryEntry, 0, len(calls))
	for _, call := range calls {
		h, ok := old[call.ID]
		if !ok {
			h = HistoryEntry{Call: call}
			if call.Backfill {
				// The relay had it from the server's history before
				// this core followed the feed: never queued, and marked.
				h.Held = heldFromHistory
			}
		}
		hist = append(hist, h)
		c.seen[talkgroupOf(call)] = tgInfoOf(call)
	}
	c.history = hist
	c.histRev++
	c.catalog = cat
	c.rebuildDirLocked()
	c.status = rep.Backend
	c.setAccountLocked(server, user)
	c.st = c.p.State()
	c.publishLocked()
}

// AccountChanged re-reads the configured account (after a sign-in or
// sign-out that did not change the relay's session, such as a failed one).
func (c *Core) AccountChanged() {
	server, user := c.opts.Account()
	c.mu.Lock()
	c.setAccountLocked(server, user)
	c.publishLocked()
	c.mu.Unlock()
}

func talkgroupOf(call event.Call) player.Talkgroup {
	return player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}
}

func (c *Core) rebuildDirLocked() {
	c.dir = buildDirectory(c.catalog, c.seen)
	c.dirRev++
}

func (c *Core) onEvent(e event.Event) {
	switch e.Type {
	case event.TypeCall:
		if e.Call != nil {
			c.onCall(*e.Call)
		}
	case event.TypeTranscript:
		if e.Transcript == nil {
			return
		}
		c.mu.Lock()
		for i := range c.history {
			if c.history[i].Call.ID == e.Transcript.CallID {
				hist := slices.Clone(c.history)
				hist[i].Call.Transcript = e.Transcript.Text
				c.history = hist
				c.histRev++
				c.publishLocked()
				break
			}
		}
		c.mu.Unlock()
	case event.TypeCatalog:
		if e.Catalog == nil {
			return
		}
		c.mu.Lock()
		c.catalog = e.Catalog.Clone()
		c.rebuildDirLocked()
		c.publishLocked()
		c.mu.Unlock()
	case event.TypeStatus:
		if e.Status == nil {
			return
		}
		c.mu.Lock()
		if c.status.State == event.StateConnected && e.Status.State != event.StateConnected {
			c.dropped = true
		}
		c.status = *e.Status
		c.publishLocked()
		c.mu.Unlock()
	case event.TypeAlert:
		if e.Alert != nil {
			c.onAlert(*e.Alert)
		}
	case event.TypeReset:
		c.log.Info("the feed was reset; everything held before is dropped", "reason", e.Reason)
		c.reload(true)
	case event.TypeResync:
		c.reload(false)
	}
}

// onCall decides what becomes of a call: history always; the live queue
// when live is on, the filter lets it through, it is not old news and
// quiet hours do not silence it — at its place by priority, interrupting a
// lower-priority call that plays. It notifies of the alerts that fired
// with it, and of a "notify me" talkgroup's call (held while quiet).
func (c *Core) onCall(call event.Call) {
	now := c.now()
	c.mu.Lock()
	held := c.admitLocked(call, now)
	lvl := c.levelLocked(&call, call.Alerts)
	verdict := c.verdictLocked(now, lvl, len(call.Alerts) > 0)
	c.mu.Unlock()
	queued, cut := false, int64(0)
	if held == "" {
		if !c.p.State().Live {
			held = "live is off"
		} else if why := c.p.Filter().Reason(call, now); why != "" {
			held = why
		} else if verdict.Mute {
			held = heldQuiet
		} else {
			queued, cut = c.enqueue(call, lvl, call.Alerts)
		}
	}
	c.log.Debug("call", "id", call.ID, "backfill", call.Backfill, "queued", queued, "held", held, "level", lvl)
	c.mu.Lock()
	entry := HistoryEntry{Call: call, Held: held, Priority: lvl > priority.Normal}
	hist := make([]HistoryEntry, 0, min(len(c.history)+1, MaxHistory))
	hist = append(hist, entry)
	for _, h := range c.history {
		if len(hist) == MaxHistory {
			break
		}
		if h.Call.ID != call.ID {
			hist = append(hist, h)
		}
	}
	c.history = hist
	if cut != 0 {
		c.markLocked(cut, func(h *HistoryEntry) { h.Interrupted = true })
	}
	c.histRev++
	k := talkgroupOf(call)
	if info := tgInfoOf(call); c.seen[k] != info {
		c.seen[k] = info
		c.rebuildDirLocked()
	}
	alerted := len(call.Alerts) > 0 && !call.Backfill
	notifyMe := !call.Backfill && !alerted && c.notify[k] && now.Sub(c.notified[k]) >= notifyEvery
	if notifyMe {
		c.notified[k] = now
	}
	var n notify.Notice
	switch {
	case alerted:
		c.lastAlert = noteOf(entry, c.titleLocked(call))
		n = c.alertNoticeLocked(entry, false, queued)
	case notifyMe:
		body := call.SystemLabel
		if call.Transcript != "" {
			body += ": " + call.Transcript
		}
		n = notify.Notice{Title: c.titleLocked(call), Body: body}
	}
	c.st = c.p.State()
	c.publishLocked()
	c.mu.Unlock()
	if alerted || notifyMe {
		c.tell(n, verdict.HoldNotice, alerted)
	}
}

// heldFromHistory marks a call that reached Earshot from the server's
// history and was not played as live.
const heldFromHistory = "from the server's history"

// admitLocked is the catch-up rule. It returns why a call goes to the
// history only, or "" when it may be queued:
//
//   - a call from the server's history on a fresh start (nothing live
//     heard since the start or a reset, and no drop) is old news;
//   - after a drop, one that was missed within the catch-up window is
//     played (0: never);
//   - a live call is old news when it arrives later than the feed's usual
//     delay plus the catch-up window and a tolerance (the usual delay also
//     absorbs a server clock that is off).
func (c *Core) admitLocked(call event.Call, now time.Time) string {
	delay := now.Sub(call.Time()).Seconds() - call.Duration
	late, known := c.lateLocked(call, now), len(c.delays) > 0
	if call.Backfill {
		switch {
		case !c.sawLive && !c.dropped:
			return heldFromHistory
		case c.catchUp <= 0:
			return "missed while the feed was down"
		case late > c.catchUp:
			return "missed while the feed was down"
		}
		return ""
	}
	c.sawLive = true
	c.delays = append(c.delays, delay)
	if len(c.delays) > baselineCalls {
		c.delays = c.delays[1:]
	}
	if known && late > c.catchUp+lateTolerance {
		return "arrived late"
	}
	return ""
}

// lateLocked is how much later than the feed's usual delay call ends by
// now (the usual delay is the least of the last live calls', which also
// absorbs a server clock that is off).
func (c *Core) lateLocked(call event.Call, now time.Time) time.Duration {
	delay := now.Sub(call.Time()).Seconds() - call.Duration
	baseline := 0.0
	for i, d := range c.delays {
		if i == 0 || d < baseline {
			baseline = d
		}
	}
	return time.Duration((delay - baseline) * float64(time.Second))
}

// heldNoSound marks a call that waited in the queue while the sound device
// was gone until it was old news.
const heldNoSound = "waited while there was no sound"

// dropStale runs when sound comes back after the device was gone (an
// unplugged headset, a sound server that restarted): the calls that
// waited in the queue meanwhile and would now count as arriving late
// (lateLocked beyond the catch-up window and its tolerance) go to the
// history only, marked. Before, the whole backlog — up to the queue's
// limit, hours old — played as if live.
func (c *Core) dropStale(now time.Time) {
	waiting := c.p.Queue()
	stale := map[int64]bool{}
	c.mu.Lock()
	for _, call := range waiting {
		if c.lateLocked(call, now) > c.catchUp+lateTolerance {
			stale[call.ID] = true
		}
	}
	c.mu.Unlock()
	if len(stale) == 0 {
		return
	}
	dropped := c.p.Unqueue(func(call event.Call) bool { return stale[call.ID] })
	c.markHeld(dropped, heldNoSound)
	c.log.Info("sound is back; calls that waited too long went to the history only", "calls", len(dropped))
}

// markHeld marks the history entries of calls taken out of the queue with
// why, and publishes the player's state as it is now.
func (c *Core) markHeld(ids []int64, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.markLocked(id, func(h *HistoryEntry) { h.Held = why })
	}
	if len(ids) > 0 {
		c.histRev++
	}
	c.st = c.p.State()
	c.publishLocked()
}

// titleLocked names a call's talkgroup from the current catalogue, then
// from the call's own labels, then by number: never a label of another
// server.
func (c *Core) titleLocked(call event.Call) string {
	if info, ok := c.dir.Info[talkgroupOf(call)]; ok && (info.Label != "" || info.Name != "") {
		if info.Label != "" {
			return info.Label
		}
		return info.Name
	}
	return CallTitle(call)
}

// OnPlayerChange is the player's OnChange callback.
func (c *Core) OnPlayerChange(st player.State) {
	c.mu.Lock()
	soundBack := c.st.Device != "" && st.Device == ""
	c.st = st
	tell := st.FFmpegMissing && !c.told
	if tell {
		c.told = true
	}
	changed := false
	if st.Call != nil && st.Call.ID != c.playingID {
		c.playingID = st.Call.ID
		last := *st.Call
		c.last = &last
		changed = c.markLocked(st.Call.ID, func(h *HistoryEntry) { h.Played = true })
	}
	if st.LastError != c.snap.LastError {
		// A call could not be played: its row says why.
		hist := slices.Clone(c.history)
		for i := range hist {
			if why := c.p.CallProblem(hist[i].Call.ID); why != hist[i].Problem {
				hist[i].Problem = why
				changed = true
			}
		}
		if changed {
			c.history = hist
		}
	}
	if changed {
		c.histRev++
	}
	c.publishLocked()
	c.mu.Unlock()
	if soundBack {
		c.dropStale(c.now())
	}
	if tell && c.opts.Notifier != nil {
		c.opts.Notifier.Show(notify.Notice{Title: "Earshot: some calls need ffmpeg", Body: FFmpegAdvice})
	}
}

// markLocked changes the history entry of call id (on a copy) and reports
// whether there was one.
func (c *Core) markLocked(id int64, change func(*HistoryEntry)) bool {
	for i := range c.history {
		if c.history[i].Call.ID == id {
			hist := slices.Clone(c.history)
			change(&hist[i])
			c.history = hist
			return true
		}
	}
	return false
}

// publishLocked builds the next snapshot and wakes the watchers.
func (c *Core) publishLocked() {
	var rev uint64 = 1
	if c.snap != nil {
		rev = c.snap.Rev + 1
	}
	st := c.st
	s := &Snapshot{
		Rev:     rev,
		Backend: c.status.State, Reason: wordReason(c.status.Reason), RetryAt: c.status.RetryAt, Problem: c.status.Problem,
		Server: c.status.Server, User: c.status.User, Listeners: c.status.Listeners,
		SignedIn: c.server != "", Demo: c.opts.DemoFlag || c.server == "", DemoFlag: c.opts.DemoFlag,
		Call: st.Call, Replay: st.Replay, Position: st.Position, Duration: st.Duration,
		Paused: st.Paused, Live: st.Live, Muted: st.Muted, Volume: st.Volume, Queue: st.Queue,
		Device: st.Device, FFmpegMissing: st.FFmpegMissing, LastError: st.LastError, Filter: st.Filter,
		CatchUp: c.catchUp,
		History: c.history, HistoryRev: c.histRev, Directory: c.dir, DirRev: c.dirRev,
		Notify:   c.notifyListLocked(),
		Settings: c.settings, SettingsRev: c.settingsRev,
		Quiet: c.quiet, LastAlert: c.lastAlert,
		Window: c.windowProblem,
	}
	s.Quiet.Held = len(c.held) + c.heldMore
	if s.Backend == "" {
		s.Backend = event.StateConnecting
	}
	if st.Call != nil {
		s.Title = c.titleLocked(*st.Call)
	}
	if c.last != nil {
		last := *c.last
		if st.Call != nil && st.Call.ID != last.ID {
			last = *st.Call // the player's change is on its way
		}
		for _, h := range c.history {
			if h.Call.ID == last.ID && h.Call.Transcript != "" {
				last.Transcript = h.Call.Transcript // it came after the call
				break
			}
		}
		s.Last, s.LastTitle = &last, c.titleLocked(last)
	}
	c.snap = s
	c.watchers.Wake()
}

// Snapshot returns the latest snapshot. It is never modified.
func (c *Core) Snapshot() *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// Watchable is what Follow follows: the core, or a view's stand-in for it.
type Watchable interface {
	Watch() (<-chan struct{}, func())
}

// Follow calls f after each change of w (changes that come while f runs
// make one more call) until ctx ends.
func Follow(ctx context.Context, w Watchable, f func()) {
	wake, stop := w.Watch()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			f()
		}
	}
}

// Watch returns a channel that receives a signal after each change (at
// most one pending: read Snapshot then for the latest) and the function
// that stops watching.
func (c *Core) Watch() (<-chan struct{}, func()) { return c.watchers.Watch() }

// after runs a command on the player, then publishes (and, with save,
// saves the settings).
func (c *Core) after(save bool, f func()) {
	f()
	if save {
		c.savePrefs()
	}
	st := c.p.State()
	c.mu.Lock()
	c.st = st
	c.publishLocked()
	c.mu.Unlock()
}

// Commands. Each is what a view (tray item, key, button, media key) asks.

// SetLive turns following live calls on or off.
func (c *Core) SetLive(on bool) { c.after(true, func() { c.p.SetLive(on) }) }

// ToggleLive flips live.
func (c *Core) ToggleLive() { c.after(true, func() { c.p.SetLive(!c.p.State().Live) }) }

// TogglePause pauses or resumes playback.
func (c *Core) TogglePause() { c.after(false, c.p.TogglePause) }

// Pause pauses playback.
func (c *Core) Pause() { c.after(false, c.p.Pause) }

// Resume resumes playback.
func (c *Core) Resume() { c.after(false, c.p.Resume) }

// Skip skips the playing call.
func (c *Core) Skip() { c.after(false, c.p.Skip) }

// Replay plays an earlier call again (each press one further back).
func (c *Core) Replay() { c.after(false, c.p.Replay) }

// Play plays call id now: one of the history, or one the relay found in
// the server's history for a search.
func (c *Core) Play(id int64) error {
	c.mu.Lock()
	var call *event.Call
	for _, h := range c.history {
		if h.Call.ID == id {
			cl := h.Call
			call = &cl
			break
		}
	}
	c.mu.Unlock()
	if call == nil {
		// A call from further back (a search, the history's older pages):
		// the relay keeps the record of what it found.
		if f, ok := c.opts.Feed.(callFinder); ok {
			if cl, found := f.Call(id); found {
				call = &cl
			}
		}
	}
	if call == nil {
		return errors.New("that call is no longer in the history")
	}
	c.after(false, func() { c.p.Play(*call) })
	return nil
}

// SetVolume sets the volume (0..1); save keeps it for the next start (a
// slider saves when the drag ends).
func (c *Core) SetVolume(v float64, save bool) { c.after(save, func() { c.p.SetVolume(v) }) }

// SetMuted mutes or unmutes.
func (c *Core) SetMuted(m bool) { c.after(true, func() { c.p.SetMuted(m) }) }

// ToggleMute flips mute.
func (c *Core) ToggleMute() { c.after(true, c.p.ToggleMute) }

// target is the call Hold and Avoid act on: the playing one, else the
// one heard last (nil before the first).
func (c *Core) target() *event.Call {
	if st := c.p.State(); st.Call != nil {
		return st.Call
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// ToggleHoldTalkgroup holds the talkgroup of the playing call (between
// calls, of the last one heard), or releases the hold in force.
func (c *Core) ToggleHoldTalkgroup() {
	c.after(true, func() {
		if c.p.Filter().Hold != nil {
			c.p.ReleaseHold()
		} else if call := c.target(); call != nil {
			c.p.HoldTalkgroup(call.SystemID, call.TalkgroupID, time.Time{})
		}
	})
}

// ToggleHoldSystem holds the system of the playing call (between calls,
// of the last one heard), or releases the hold in force.
func (c *Core) ToggleHoldSystem() {
	c.after(true, func() {
		if c.p.Filter().Hold != nil {
			c.p.ReleaseHold()
		} else if call := c.target(); call != nil {
			c.p.HoldSystem(call.SystemID, time.Time{})
		}
	})
}

// AvoidPlaying avoids the talkgroup of the playing call for d (0: until
// lifted) and skips it; between calls it avoids the last one heard's.
func (c *Core) AvoidPlaying(d time.Duration) {
	c.after(true, func() {
		playing := c.p.State().Call != nil
		call := c.target()
		if call == nil {
			return
		}
		var until time.Time
		if d > 0 {
			until = c.now().Add(d)
		}
		c.p.AvoidTalkgroup(call.SystemID, call.TalkgroupID, until)
		if playing {
			c.p.Skip()
		}
	})
}

// LiftAvoids lifts every avoid.
func (c *Core) LiftAvoids() {
	c.after(true, func() {
		for _, a := range c.p.Filter().Avoids {
			c.p.Unavoid(a.SystemID, a.TalkgroupID)
		}
	})
}

// SetSelection hears only these talkgroups ({id, 0} is a whole system;
// none: all).
func (c *Core) SetSelection(tgs []player.Talkgroup) {
	c.after(true, func() { c.p.SetSelection(tgs) })
}

// SetNotify marks a talkgroup "notify me" (or not).
func (c *Core) SetNotify(t player.Talkgroup, on bool) {
	c.mu.Lock()
	if on {
		c.notify[t] = true
	} else {
		delete(c.notify, t)
	}
	c.mu.Unlock()
	c.after(true, func() {})
}

// SetWindowProblem says why no window could open ("Earshot cannot open a
// window: no display …"), for the tray's tooltip; "" when one opened.
func (c *Core) SetWindowProblem(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reason == c.windowProblem {
		return
	}
	c.windowProblem = reason
	c.publishLocked()
}

// SetCatchUp sets how far back calls missed during a drop are played when
// the feed comes back (0: never).
func (c *Core) SetCatchUp(d time.Duration) {
	d = max(0, min(MaxCatchUp, d))
	c.mu.Lock()
	c.catchUp = d
	c.mu.Unlock()
	c.after(true, func() {})
}
