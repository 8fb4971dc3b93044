package listening

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/event"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/notify"
	"earshot/ui/player"
)

// recPlayer is the real player (never started) that records what the core
// asked of it for alerts and priority, and can be told a call is playing.
type recPlayer struct {
	*player.Player
	mu      sync.Mutex
	playing *event.Call
	did     []string
}

func (p *recPlayer) rec(f string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.did = append(p.did, fmt.Sprintf(f, args...))
}

func (p *recPlayer) actions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.did)
}

func (p *recPlayer) State() player.State {
	st := p.Player.State()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.playing != nil {
		c := *p.playing
		st.Call = &c
	}
	return st
}

func (p *recPlayer) EnqueueAt(c event.Call, pos int, tone bool) bool {
	p.rec("enqueue %d at %d tone=%v", c.ID, pos, tone)
	return p.Player.EnqueueAt(c, pos, tone)
}

func (p *recPlayer) Alert(id int64, tone, bump bool) bool {
	ok := p.Player.Alert(id, tone, bump)
	p.rec("alert %d tone=%v bump=%v waiting=%v", id, tone, bump, ok)
	return ok
}

func (p *recPlayer) Interrupt(c event.Call, tone, requeue bool) {
	p.rec("interrupt with %d tone=%v requeue=%v", c.ID, tone, requeue)
	p.Player.Interrupt(c, tone, requeue)
}

func (p *recPlayer) Regain() {
	p.rec("regain")
	p.Player.Regain()
}

func (p *recPlayer) Skip() {
	p.rec("skip")
	p.Player.Skip()
}

// play makes the player report c as playing (nil: nothing), and tells the
// core as the player's OnChange does.
func (r *rig) play(rp *recPlayer, c *event.Call) {
	rp.mu.Lock()
	rp.playing = c
	rp.mu.Unlock()
	if c != nil {
		r.p.Unqueue(func(q event.Call) bool { return q.ID == c.ID }) // it left the queue to play
	}
	r.core.OnPlayerChange(rp.State())
}

func newAlertRig(t *testing.T) (*rig, *recPlayer) {
	t.Helper()
	var rp *recPlayer
	r := newRigWith(t, "https://scanner.example.org", func(o *Options) {
		rp = &recPlayer{Player: o.Player.(*player.Player)}
		o.Player = rp
	})
	return r, rp
}

// callOn is a live call of talkgroup tg (system 1) that ended a second ago,
// with the alerts fired at its arrival.
func (r *rig) callOn(id, tg int64, alerts ...event.Alert) event.Event {
	e := r.call(id, 3*time.Second, false)
	e.Call.TalkgroupID = tg
	e.Call.TalkgroupLabel = map[int64]string{101: "Fire Dispatch", 102: "Fire Tac", 103: "EMS"}[tg]
	for i := range alerts {
		alerts[i].CallID = id
	}
	e.Call.Alerts = alerts
	return e
}

func (n *notes) list() []notify.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.notices)
}

func (r *rig) change(t *testing.T, ch Change) {
	t.Helper()
	if err := r.core.ChangeSettings(context.Background(), ch); err != nil {
		t.Fatalf("change %s: %v", ch.Kind, err)
	}
}

// The late transcript: a rule on words fires after its call
// played. The notification names the system, talkgroup, time, words and
// transcript, says the call already played, and its Replay plays it.
func TestAlertFromALateTranscriptSaysItPlayedAndReplays(t *testing.T) {
	r, rp := newAlertRig(t)
	e := r.callOn(1, 101)
	r.send(t, e)
	r.play(rp, e.Call)
	r.play(rp, nil) // it played out
	if len(r.notes.list()) != 0 {
		t.Fatalf("a call with no alert notified: %v", r.notes.sent)
	}
	r.send(t, event.Event{Type: event.TypeTranscript, Transcript: &event.Transcript{CallID: 1, Text: "Engine 5, MAYDAY mayday, firefighter down"}})
	r.send(t, event.Event{Type: event.TypeAlert, Alert: &event.Alert{CallID: 1, Rule: "Mayday", Words: []string{"MAYDAY", "firefighter down"}, Priority: true}})
	got := r.notes.list()
	if len(got) != 1 {
		t.Fatalf("notifications %q, want one", r.notes.sent)
	}
	n := got[0]
	when := time.Unix(e.Call.DateTime, 0).UTC().Format("15:04:05")
	if n.Title != "Alert: Mayday — Fire Dispatch" {
		t.Errorf("title %q", n.Title)
	}
	for _, want := range []string{"Harness County · " + when, "Heard “MAYDAY”, “firefighter down”",
		"“Engine 5, MAYDAY mayday, firefighter down”", "It already played."} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("body %q lacks %q", n.Body, want)
		}
	}
	if !n.Urgent || n.Key != "call-1" || len(n.Actions) != 1 || n.Actions[0].Label != "Replay" {
		t.Fatalf("notice %+v: want an urgent one (a priority rule) keyed to the call, with Replay", n)
	}
	// The history marks it; the tray's latest alert names it.
	s := r.core.Snapshot()
	if h := s.History[0]; len(h.Call.Alerts) != 1 || h.Call.Alerts[0].Rule != "Mayday" || !h.Priority || !h.Played {
		t.Fatalf("history entry %+v", h)
	}
	if s.LastAlert == nil || s.LastAlert.CallID != 1 || s.LastAlert.Title != "Fire Dispatch" || s.LastAlert.Rules[0] != "Mayday" {
		t.Fatalf("last alert %+v", s.LastAlert)
	}
	n.Actions[0].Do() // the listener clicks Replay
	if q := queued(r.p); len(q) != 1 || q[0] != 1 {
		t.Fatalf("Replay queued %v, want call 1 to play now", q)
	}
}

// A rule that fired at the call is acted on once: its call.alert event
// that follows adds nothing. The call gets its tone and goes to the front.
func TestAlertAtTheCallTonesBumpsAndNotifiesOnce(t *testing.T) {
	r, rp := newAlertRig(t)
	r.core.Pause() // the queue stays as it is
	r.send(t, r.callOn(1, 102))
	r.send(t, r.callOn(2, 102))
	e := r.callOn(3, 101, event.Alert{Rule: "Fire", Tone: true, Bump: true})
	r.send(t, e)
	r.feed.hub.Publish(event.Event{Type: event.TypeAlert, Alert: &e.Call.Alerts[0]})
	r.send(t, event.Event{Type: event.TypeStatus, Status: &event.Status{State: event.StateConnected}}) // after it
	if q := queued(r.p); !slices.Equal(q, []int64{3, 1, 2}) {
		t.Fatalf("queue %v, want the bumped call first: [3 1 2]", q)
	}
	if !slices.Contains(rp.actions(), "enqueue 3 at 0 tone=true") {
		t.Fatalf("the player was asked %q", rp.actions())
	}
	got := r.notes.list()
	if len(got) != 1 || got[0].Actions[0].Label != "Play now" || strings.Contains(got[0].Body, "played") {
		t.Fatalf("notifications %q", r.notes.sent)
	}
}

// A late alert on a call still waiting gives it its tone and moves it up.
func TestLateAlertOnAWaitingCallTonesAndBumpsIt(t *testing.T) {
	r, rp := newAlertRig(t)
	r.core.Pause()
	r.send(t, r.callOn(1, 102))
	r.send(t, r.callOn(2, 101))
	r.send(t, event.Event{Type: event.TypeAlert, Alert: &event.Alert{CallID: 2, Rule: "Structure fire", Words: []string{"structure fire"}, Tone: true, Bump: true}})
	if q := queued(r.p); !slices.Equal(q, []int64{2, 1}) {
		t.Fatalf("queue %v, want [2 1]", q)
	}
	if !slices.Contains(rp.actions(), "alert 2 tone=true bump=true waiting=true") {
		t.Fatalf("the player was asked %q", rp.actions())
	}
}

// Calls from the server's history are marked, never acted on.
func TestBackfillAlertsAreMarkedOnly(t *testing.T) {
	r, _ := newAlertRig(t)
	e := r.call(1, 2*time.Minute, true)
	e.Call.Alerts = []event.Alert{{CallID: 1, Rule: "Fire", Tone: true, Backfill: true}}
	r.send(t, e)
	r.send(t, event.Event{Type: event.TypeAlert, Alert: &event.Alert{CallID: 1, Rule: "Mayday", Backfill: true}})
	s := r.core.Snapshot()
	if len(r.notes.list()) != 0 || len(queued(r.p)) != 0 || s.LastAlert != nil {
		t.Fatalf("a backfill alert was acted on: notes %q, queue %v, last %+v", r.notes.sent, queued(r.p), s.LastAlert)
	}
	if a := s.History[0].Call.Alerts; len(a) != 2 {
		t.Fatalf("history marks %+v, want both rules", a)
	}
}

// A priority call interrupts a lower-priority call that plays: requeued or
// dropped as "onInterrupt" says; calls of one level never cut each other.
func TestPriorityInterruptsRequeueOrDrop(t *testing.T) {
	for _, policy := range []priority.OnInterrupt{priority.Requeue, priority.Drop} {
		t.Run(policy.String(), func(t *testing.T) {
			r, rp := newAlertRig(t)
			r.change(t, Change{Kind: ChangePriority, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, On: true})
			r.change(t, Change{Kind: ChangeOnInterrupt, OnInterrupt: policy})
			normal := r.callOn(1, 102)
			r.send(t, normal)
			r.play(rp, normal.Call)
			r.send(t, r.callOn(2, 101)) // a priority talkgroup
			want := fmt.Sprintf("interrupt with 2 tone=false requeue=%v", policy == priority.Requeue)
			if !slices.Contains(rp.actions(), want) {
				t.Fatalf("the player was asked %q, want %q", rp.actions(), want)
			}
			s := r.core.Snapshot()
			if !s.History[1].Interrupted || !s.History[0].Priority {
				t.Fatalf("history %+v", s.History[:2])
			}
			// Priority against priority: no interruption; a priority alert
			// (a higher level) does interrupt the priority talkgroup.
			r.play(rp, r.callOn(2, 101).Call)
			r.send(t, r.callOn(3, 101))
			if n := len(slices.DeleteFunc(rp.actions(), func(a string) bool { return !strings.HasPrefix(a, "interrupt") })); n != 1 {
				t.Fatalf("a call of the same level interrupted: %q", rp.actions())
			}
			r.send(t, r.callOn(4, 103, event.Alert{Rule: "Mayday", Priority: true, Tone: true}))
			if !slices.Contains(rp.actions(), fmt.Sprintf("interrupt with 4 tone=true requeue=%v", policy == priority.Requeue)) {
				t.Fatalf("a priority alert did not interrupt the priority talkgroup: %q", rp.actions())
			}
		})
	}
}

// Queued calls line up by priority: a priority talkgroup's call goes ahead
// of normal ones, behind earlier priority ones.
func TestPriorityCallsQueueAhead(t *testing.T) {
	r, _ := newAlertRig(t)
	r.core.Pause()
	r.change(t, Change{Kind: ChangePriority, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, On: true})
	r.send(t, r.callOn(1, 102))
	r.send(t, r.callOn(2, 101))
	r.send(t, r.callOn(3, 102))
	r.send(t, r.callOn(4, 101))
	if q := queued(r.p); !slices.Equal(q, []int64{2, 4, 1, 3}) {
		t.Fatalf("queue %v, want [2 4 1 3]", q)
	}
}

// overnight is quiet hours from Tuesday 22:00 to Wednesday 07:00 (the
// rig's clock starts Wednesday 00:03 UTC, inside them).
func overnight(allowPriority, allowAlerts bool) *quiet.Hours {
	return &quiet.Hours{Enabled: true, Days: map[string][]string{"tue": {"22:00-07:00"}},
		AllowPriority: allowPriority, AllowAlerts: allowAlerts}
}

// Quiet hours across midnight: calls are silent and notifications held,
// but for priority talkgroups; at 07:00 the held ones show, collapsed.
func TestQuietHoursAcrossMidnightMuteHoldAndLetPriorityThrough(t *testing.T) {
	r, _ := newAlertRig(t)
	r.core.SetNotify(player.Talkgroup{SystemID: 1, TalkgroupID: 102}, true)
	r.change(t, Change{Kind: ChangePriority, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, On: true})
	r.change(t, Change{Kind: ChangeQuietHours, QuietHours: overnight(true, false)})
	s := r.core.Snapshot()
	until := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	if !s.Quiet.Active || !s.Quiet.Until.Equal(until) {
		t.Fatalf("quiet %+v, want active until Wednesday 07:00", s.Quiet)
	}
	if !strings.Contains(s.Tooltip(), "Quiet hours until ") || !strings.Contains(s.StatusLine(), "quiet hours") {
		t.Fatalf("tooltip %q / status %q do not say quiet hours", s.Tooltip(), s.StatusLine())
	}

	r.send(t, r.callOn(1, 102))                              // notify me: silent, held
	r.send(t, r.callOn(2, 103, event.Alert{Rule: "EMS"}))    // an alert, not allowed through: silent, held
	r.send(t, r.callOn(3, 101))                              // priority: plays
	r.send(t, r.callOn(4, 103, event.Alert{Rule: "Mayday"})) // held too
	if q := queued(r.p); !slices.Equal(q, []int64{3}) {
		t.Fatalf("during quiet hours the queue is %v, want only the priority call [3]", q)
	}
	s = r.core.Snapshot()
	for _, h := range s.History {
		if h.Call.ID != 3 && h.Held != "quiet hours" {
			t.Errorf("call %d held %q, want quiet hours", h.Call.ID, h.Held)
		}
	}
	if len(r.notes.list()) != 0 || s.Quiet.Held != 3 {
		t.Fatalf("notifications shown during quiet hours: %q (held %d)", r.notes.sent, s.Quiet.Held)
	}

	r.advance(until.Sub(r.clock()) + time.Second)
	r.core.checkQuiet() // Run's timer, at 07:00
	s = r.core.Snapshot()
	if s.Quiet.Active || s.Quiet.Held != 0 || s.QuietLine() != "" {
		t.Fatalf("after 07:00: %+v, %q", s.Quiet, s.QuietLine())
	}
	got := r.notes.list()
	if len(got) != 1 {
		t.Fatalf("at the end of quiet hours: %q, want one collapsed notification", r.notes.sent)
	}
	if got[0].Title != "Earshot: 3 notifications during quiet hours" || !strings.Contains(got[0].Body, "Alert: Mayday — EMS") ||
		len(got[0].Actions) != 1 || got[0].Actions[0].Label != "Play the latest alert" {
		t.Fatalf("collapsed notification %+v", got[0])
	}
	got[0].Actions[0].Do()
	if q := queued(r.p); q[0] != 4 {
		t.Fatalf("the button queued %v, want the latest alert (4) first", q)
	}
	r.send(t, r.callOn(5, 102))
	if q := queued(r.p); !slices.Contains(q, 5) {
		t.Fatalf("after quiet hours a call is not queued: %v", q)
	}
}

// "Alerts pass" lets matched calls play and notify during quiet hours; a
// transcript that matches later releases a call held back while it is
// still news.
func TestQuietHoursLetAlertsThrough(t *testing.T) {
	r, _ := newAlertRig(t)
	r.change(t, Change{Kind: ChangeQuietHours, QuietHours: overnight(false, true)})
	r.send(t, r.callOn(1, 103, event.Alert{Rule: "EMS"}))
	r.send(t, r.callOn(2, 102))
	if q := queued(r.p); !slices.Equal(q, []int64{1}) {
		t.Fatalf("queue %v, want the alerted call only", q)
	}
	if len(r.notes.list()) != 1 {
		t.Fatalf("the alert was not shown: %q", r.notes.sent)
	}
	r.send(t, event.Event{Type: event.TypeAlert, Alert: &event.Alert{CallID: 2, Rule: "Fire", Words: []string{"fire"}}})
	if q := queued(r.p); !slices.Equal(q, []int64{1, 2}) {
		t.Fatalf("the late alert did not release the held call: queue %v", q)
	}
	if h := r.core.Snapshot().History[0]; h.Held != "" {
		t.Fatalf("released call still marked %q", h.Held)
	}
}

// Quiet hours beginning silence what waits and what plays (not what they
// let through).
func TestQuietHoursBeginningSilenceTheQueue(t *testing.T) {
	r, rp := newAlertRig(t)
	r.change(t, Change{Kind: ChangePriority, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, On: true})
	r.core.Pause()
	playing := r.callOn(1, 102)
	r.send(t, playing)
	r.play(rp, playing.Call)
	r.send(t, r.callOn(2, 102))
	r.send(t, r.callOn(3, 101))
	r.change(t, Change{Kind: ChangeQuietHours, QuietHours: overnight(true, false)})
	if q := queued(r.p); !slices.Equal(q, []int64{3}) {
		t.Fatalf("queue %v, want only the priority call", q)
	}
	if !slices.Contains(rp.actions(), "skip") {
		t.Fatalf("the playing call went on: %q", rp.actions())
	}
	if h := r.core.Snapshot().History; h[1].Held != "quiet hours" {
		t.Fatalf("the silenced call: %+v", h[1])
	}
}

// One click pauses quiet hours for an hour; they come back after it.
func TestPauseQuietHoursForAnHour(t *testing.T) {
	r, _ := newAlertRig(t)
	r.change(t, Change{Kind: ChangeQuietHours, QuietHours: overnight(false, false)})
	r.core.PauseQuietHours(QuietPause)
	s := r.core.Snapshot()
	if s.Quiet.Active || !s.Quiet.PausedUntil.Equal(r.clock().Add(time.Hour)) || !strings.HasPrefix(s.QuietLine(), "Quiet hours paused until ") {
		t.Fatalf("after the pause: %+v %q", s.Quiet, s.QuietLine())
	}
	r.send(t, r.callOn(1, 102))
	if q := queued(r.p); !slices.Equal(q, []int64{1}) {
		t.Fatalf("while paused a call is not queued: %v", q)
	}
	if d, ok := r.core.nextQuietCheck(); !ok || d > time.Minute {
		t.Fatalf("the next look at quiet hours in %v (%v)", d, ok)
	}
	r.advance(time.Hour + time.Second)
	r.core.checkQuiet()
	s = r.core.Snapshot()
	if !s.Quiet.Active || !s.Quiet.PausedUntil.IsZero() {
		t.Fatalf("an hour later: %+v", s.Quiet)
	}
	r.send(t, r.callOn(2, 102))
	if q := queued(r.p); slices.Contains(q, 2) {
		t.Fatalf("quiet hours back, yet a call was queued: %v", q)
	}
	// Resume at once.
	r.core.PauseQuietHours(QuietPause)
	r.core.PauseQuietHours(0)
	if s := r.core.Snapshot(); !s.Quiet.Active {
		t.Fatalf("resumed, yet %+v", s.Quiet)
	}
}

// Settings changes are checked with the engine's own validation and words.
func TestSettingsChangesAreValidatedWithTheEnginesWords(t *testing.T) {
	r, rp := newAlertRig(t)
	add := func(old string, rule alerts.Rule) error {
		return r.core.ChangeSettings(context.Background(), Change{Kind: ChangeAlert, RuleName: old, Rule: &rule})
	}
	if err := add("", alerts.Rule{Name: "Bad", Regex: "(unclosed"}); err == nil || !strings.HasPrefix(err.Error(), "invalid alert rule: ") {
		t.Fatalf("a bad regex: %v", err)
	}
	for _, name := range []string{"One", "Two", "Three"} {
		if err := add("", alerts.Rule{Name: name, Words: []string{name}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := add("", alerts.Rule{Name: "two", Words: []string{"x"}}); err == nil || !strings.Contains(err.Error(), "already") && !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a taken name: %v", err)
	}
	if err := add("Two", alerts.Rule{Name: "Deux", Words: []string{"deux"}, Tone: true}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rule := range r.core.Snapshot().Settings.Alerts {
		names = append(names, rule.Name)
	}
	if !slices.Equal(names, []string{"One", "Deux", "Three"}) {
		t.Fatalf("after renaming Two: %v (want it in its place)", names)
	}
	if err := r.core.ChangeSettings(context.Background(), Change{Kind: ChangeVolume, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, DB: 15}); err == nil {
		t.Fatal("a +15 dB offset was accepted")
	}
	if slices.Contains(rp.actions(), "regain") {
		t.Fatal("the playing call was levelled anew though nothing about its sound changed")
	}
	r.change(t, Change{Kind: ChangeVolume, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, DB: -4})
	if !slices.Contains(rp.actions(), "regain") {
		t.Fatalf("a new offset did not reach the playing call: %q", rp.actions())
	}
	bad := quiet.Hours{Enabled: true, Days: map[string][]string{"mon": {"25:00-07:00"}}}
	if err := r.core.ChangeSettings(context.Background(), Change{Kind: ChangeQuietHours, QuietHours: &bad}); err == nil || !strings.Contains(err.Error(), "invalid quiet hours") {
		t.Fatalf("bad quiet hours: %v", err)
	}
	if err := r.core.ChangeSettings(context.Background(), Change{Kind: "launch"}); err == nil {
		t.Fatal("an unknown change was accepted")
	}
}
