package listening

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"earshot/relay/event"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/notify"
)

// What stands out. The relay evaluates the alert rules (at the call, and
// again when its transcript arrives) and says which fired; the core acts on
// them for what is heard: a notification naming the call and the words,
// with a button to play it (saying when it already played), the rule's
// tone before the call, the call bumped to the front, priority calls
// interrupting lower ones, and the marks the history shows. Calls from the
// server's history (backfill) are marked, never acted on.

// AlertNote is the latest alerted call, for the tray's "Replay" item.
type AlertNote struct {
	CallID int64     `json:"callId"`
	Rules  []string  `json:"rules"`
	Title  string    `json:"title"`
	Time   time.Time `json:"time"`
}

// maxTranscriptInNotice bounds the transcript a notification quotes.
const maxTranscriptInNotice = 400

// entryLocked is the index of call id in the history (-1: not there).
func (c *Core) entryLocked(id int64) int {
	return slices.IndexFunc(c.history, func(h HistoryEntry) bool { return h.Call.ID == id })
}

// levelLocked is call's priority level given its alerts.
func (c *Core) levelLocked(call *event.Call, alerts []event.Alert) priority.Level {
	return priority.Of(call, c.settings.Priority, alerts)
}

// levelOfLocked is the level of a call the core holds, with every alert it
// got so far (late ones included).
func (c *Core) levelOfLocked(call event.Call) (priority.Level, []event.Alert) {
	alerts := call.Alerts
	if i := c.entryLocked(call.ID); i >= 0 {
		alerts = c.history[i].Call.Alerts
	}
	return c.levelLocked(&call, alerts), alerts
}

// verdictLocked is what quiet hours mean at now for a call of level lvl.
func (c *Core) verdictLocked(now time.Time, lvl priority.Level, alerted bool) quiet.Verdict {
	if c.sched == nil {
		return quiet.Verdict{}
	}
	return c.sched.Decide(now, c.quietPaused, quiet.Call{Priority: lvl > priority.Normal, Alerted: alerted})
}

// enqueue queues a live call at its place: a call of a higher level than
// the one playing interrupts it (which is requeued or dropped, as the
// listener chose); otherwise it goes ahead of lower-ranked calls
// (priority.Insert). It reports whether the call was queued, and which call
// it cut short (0: none).
func (c *Core) enqueue(call event.Call, lvl priority.Level, alerts []event.Alert) (queued bool, cut int64) {
	tone := slices.ContainsFunc(alerts, func(a event.Alert) bool { return a.Tone })
	bump := priority.Bumped(alerts)
	c.mu.Lock()
	policy := c.settings.OnInterrupt
	c.mu.Unlock()
	if st := c.p.State(); st.Call != nil && st.Call.ID != call.ID {
		c.mu.Lock()
		playing, _ := c.levelOfLocked(*st.Call)
		c.mu.Unlock()
		if act := priority.Decide(true, playing, lvl, policy); act.Interrupt {
			c.p.Interrupt(call, tone, act.Requeue)
			return true, st.Call.ID
		}
	}
	queue := c.p.Queue()
	ranks := make([]priority.Rank, len(queue))
	c.mu.Lock()
	for i, q := range queue {
		l, a := c.levelOfLocked(q)
		ranks[i] = priority.Rank{Level: l, Bumped: priority.Bumped(a)}
	}
	c.mu.Unlock()
	pos := priority.Insert(ranks, priority.Rank{Level: lvl, Bumped: bump})
	return c.p.EnqueueAt(call, pos, tone), 0
}

// onAlert acts on an alert that fired after its call arrived (its
// transcript came later): it marks the call, gives a waiting call its tone
// and place, plays a call quiet hours held back if the alert lets it
// through, and notifies — saying the call already played, with a button
// to replay it, when it did.
func (c *Core) onAlert(a event.Alert) {
	now := c.now()
	c.mu.Lock()
	i := c.entryLocked(a.CallID)
	if i < 0 {
		c.mu.Unlock()
		c.log.Debug("an alert for a call no longer in the history", "call", a.CallID, "rule", a.Rule)
		return
	}
	h := c.history[i]
	if slices.ContainsFunc(h.Call.Alerts, func(x event.Alert) bool { return strings.EqualFold(x.Rule, a.Rule) }) {
		// Fired at the call: acted on with it.
		c.mu.Unlock()
		return
	}
	h.Call.Alerts = append(slices.Clone(h.Call.Alerts), a)
	lvl := c.levelLocked(&h.Call, h.Call.Alerts)
	h.Priority = lvl > priority.Normal
	backfill := a.Backfill || h.Call.Backfill
	verdict := c.verdictLocked(now, lvl, true)
	playing := c.st.Call != nil && c.st.Call.ID == h.Call.ID
	// A call quiet hours kept back that this alert lets through plays
	// now, if it is still news.
	release := !backfill && h.Held == heldQuiet && !verdict.Mute && c.stillNewsLocked(h.Call, now)
	c.history = slices.Clone(c.history)
	c.history[i] = h
	c.histRev++
	if !backfill {
		c.lastAlert = noteOf(h, c.titleLocked(h.Call))
	}
	c.publishLocked()
	c.mu.Unlock()
	if backfill {
		return
	}

	waiting := !playing && c.p.Alert(h.Call.ID, a.Tone, a.Bump || a.Priority)
	if release {
		queued, cut := c.enqueue(h.Call, lvl, h.Call.Alerts)
		c.mu.Lock()
		if queued {
			c.markLocked(h.Call.ID, func(e *HistoryEntry) { e.Held = "" })
			h.Held = ""
		}
		if cut != 0 {
			c.markLocked(cut, func(e *HistoryEntry) { e.Interrupted = true })
		}
		c.histRev++
		c.st = c.p.State()
		c.publishLocked()
		c.mu.Unlock()
		waiting = queued
	}
	c.mu.Lock()
	n := c.alertNoticeLocked(h, playing, waiting)
	c.mu.Unlock()
	c.tell(n, verdict.HoldNotice, true)
}

// stillNewsLocked reports whether a call held back is recent enough to
// play now (within the catch-up window of its end).
func (c *Core) stillNewsLocked(call event.Call, now time.Time) bool {
	end := call.Time().Add(time.Duration(call.Duration * float64(time.Second)))
	return c.catchUp > 0 && now.Sub(end) <= c.catchUp+lateTolerance
}

// noteOf is the tray's note of an alerted call.
func noteOf(h HistoryEntry, title string) *AlertNote {
	n := &AlertNote{CallID: h.Call.ID, Title: title, Time: h.Call.Time()}
	for _, a := range h.Call.Alerts {
		n.Rules = append(n.Rules, a.Rule)
	}
	return n
}

// alertNoticeLocked is the notification of an alerted call: the rules and
// the talkgroup; the system and time; the words heard and the transcript;
// what became of the call; and a button that plays it.
func (c *Core) alertNoticeLocked(h HistoryEntry, playing, waiting bool) notify.Notice {
	var rules, words []string
	urgent := false
	for _, a := range h.Call.Alerts {
		rules = append(rules, a.Rule)
		for _, w := range a.Words {
			if q := "“" + w + "”"; !slices.Contains(words, q) {
				words = append(words, q)
			}
		}
		urgent = urgent || a.Priority
	}
	call := h.Call
	title := "Alert: " + strings.Join(rules, ", ") + " — " + c.titleLocked(call)
	sys := call.SystemLabel
	if sys == "" {
		sys = c.dir.SystemLabel(call.SystemID)
	}
	lines := []string{sys + " · " + call.Time().In(c.loc).Format("15:04:05")}
	if len(words) > 0 {
		lines = append(lines, "Heard "+strings.Join(words, ", "))
	}
	if t := strings.TrimSpace(call.Transcript); t != "" {
		if utf8.RuneCountInString(t) > maxTranscriptInNotice {
			t = string([]rune(t)[:maxTranscriptInNotice]) + "…"
		}
		lines = append(lines, "“"+t+"”")
	}
	label := "Play"
	switch {
	case playing:
		lines = append(lines, "Playing now.")
		label = "Replay"
	case h.Played:
		lines = append(lines, "It already played.")
		label = "Replay"
	case waiting:
		label = "Play now"
	case h.Held != "":
		lines = append(lines, "Not played: "+h.Held+".")
	}
	id := call.ID
	return notify.Notice{Title: title, Body: strings.Join(lines, "\n"), Key: fmt.Sprintf("call-%d", id), Urgent: urgent,
		Actions: []notify.Action{{Label: label, Do: func() { _ = c.Play(id) }}}}
}

// tell shows a notice, or keeps it for the end of quiet hours (hold).
func (c *Core) tell(n notify.Notice, hold, alert bool) {
	if c.opts.Notifier == nil {
		return
	}
	if hold {
		c.mu.Lock()
		c.holdLocked(n, alert)
		c.publishLocked()
		c.mu.Unlock()
		return
	}
	c.opts.Notifier.Show(n)
}
