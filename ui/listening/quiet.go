package listening

import (
	"fmt"
	"strings"
	"time"

	"earshot/relay/event"
	"earshot/relay/quiet"
	"earshot/ui/notify"
)

// Quiet hours. While they are in force calls are not played and
// notifications are held — except, as the listener chose, calls of
// priority talkgroups and calls an alert rule matched — and when they end
// the held notifications are shown, collapsed into one. One click pauses
// them for an hour. The schedule is relay/quiet's; the core keeps the pause,
// the notifications held and when to look again.

// QuietState is how quiet hours stand, for every view.
type QuietState struct {
	// Scheduled: quiet hours are turned on and have at least one span.
	Scheduled bool `json:"scheduled,omitempty"`
	// Active: they are in force now.
	Active bool `json:"active,omitempty"`
	// Until is when Active next changes (the end while active, else the
	// next start; zero: not in the coming week).
	Until time.Time `json:"until,omitzero"`
	// PausedUntil: the listener paused them until then.
	PausedUntil time.Time `json:"pausedUntil,omitzero"`
	// Held is how many notifications wait for their end.
	Held int `json:"held,omitempty"`
	// What passes them.
	AllowPriority bool `json:"allowPriority,omitempty"`
	AllowAlerts   bool `json:"allowAlerts,omitempty"`
}

// heldQuiet is the history's word for a call quiet hours kept silent.
const heldQuiet = "quiet hours"

// Bounds of quiet hours' bookkeeping.
const (
	// maxHeldNotices bounds the notifications kept for the end of quiet
	// hours; later ones are counted, not kept.
	maxHeldNotices = 50
	// quietRecheck bounds the wait between looks at the schedule: timers
	// do not count a suspended computer's sleep.
	quietRecheck = time.Minute
	// QuietPause is how long "Pause quiet hours" pauses them.
	QuietPause = time.Hour
	// prefQuietPaused keeps a pause across a restart.
	prefQuietPaused = "quietPausedUntil"
)

// heldNotice is a notification kept for the end of quiet hours.
type heldNotice struct {
	n     notify.Notice
	alert bool
}

// holdLocked keeps n for the end of quiet hours.
func (c *Core) holdLocked(n notify.Notice, alert bool) {
	if n.Key != "" {
		// A later notice about the same call replaces the one held.
		for i := range c.held {
			if c.held[i].n.Key == n.Key {
				c.held[i] = heldNotice{n, alert}
				return
			}
		}
	}
	if len(c.held) >= maxHeldNotices {
		c.heldMore++
		return
	}
	c.held = append(c.held, heldNotice{n, alert})
}

// compileQuietLocked compiles the settings' quiet hours (nil when off).
func (c *Core) compileQuietLocked() {
	c.sched = nil
	h := c.settings.QuietHours
	if !h.Enabled || len(h.Days) == 0 {
		return
	}
	s, err := quiet.Compile(h, c.loc)
	if err != nil {
		c.log.Warn("the quiet hours do not compile; they are off", "err", err)
		return
	}
	c.sched = s
}

// quietStateLocked is how quiet hours stand at now.
func (c *Core) quietStateLocked(now time.Time) QuietState {
	h := c.settings.QuietHours
	q := QuietState{Scheduled: c.sched != nil, AllowPriority: h.AllowPriority, AllowAlerts: h.AllowAlerts,
		Held: len(c.held) + c.heldMore}
	if now.Before(c.quietPaused) {
		q.PausedUntil = c.quietPaused
	}
	if c.sched == nil {
		return q
	}
	q.Active = c.sched.Active(now, c.quietPaused)
	if at, _, ok := c.sched.NextChange(now, c.quietPaused); ok {
		q.Until = at
	}
	return q
}

// nextQuietCheck is how long until quiet hours should be looked at again
// (ok false: there is nothing to look for).
func (c *Core) nextQuietCheck() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sched == nil && c.quietPaused.IsZero() && !c.quietWas {
		return 0, false
	}
	now := c.now()
	d := quietRecheck
	if !c.quiet.Until.IsZero() {
		d = min(d, c.quiet.Until.Sub(now))
	}
	if !c.quietPaused.IsZero() {
		if until := c.quietPaused.Sub(now); until > 0 {
			d = min(d, until)
		}
	}
	return max(d, 0), true
}

// pokeQuiet tells Run to look at quiet hours again (the schedule or the
// pause changed).
func (c *Core) pokeQuiet() {
	select {
	case c.quietWake <- struct{}{}:
	default:
	}
}

// checkQuiet brings the core in step with quiet hours at the clock's time:
// at their start it silences what waits to play and what plays (but what
// the listener lets through); at their end it shows the notifications held
// meanwhile, collapsed into one. Run calls it when they change; a command
// that changes them calls it at once.
func (c *Core) checkQuiet() {
	now := c.now()
	c.mu.Lock()
	if !c.quietPaused.IsZero() && !now.Before(c.quietPaused) {
		c.quietPaused = time.Time{}
	}
	was := c.quietWas
	c.quiet = c.quietStateLocked(now)
	c.quietWas = c.quiet.Active
	started, ended := !was && c.quiet.Active, was && !c.quiet.Active
	q := c.quiet
	var held []heldNotice
	var more int
	if ended {
		held, more = c.held, c.heldMore
		c.held, c.heldMore = nil, 0
		c.quiet.Held = 0
	}
	c.publishLocked()
	c.mu.Unlock()
	if started {
		c.silence(now)
	}
	if ended {
		if q.PausedUntil.IsZero() {
			c.log.Info("quiet hours ended", "held", len(held)+more)
		} else {
			c.log.Info("quiet hours paused", "until", q.PausedUntil, "held", len(held)+more)
		}
		if n, ok := collapse(held, more); ok && c.opts.Notifier != nil {
			c.opts.Notifier.Show(n)
		}
	} else if started {
		c.log.Info("quiet hours began", "until", q.Until)
	}
}

// silence, as quiet hours begin, takes the calls they do not let through
// out of the queue (marking them in the history) and skips the playing
// one if it is such a call.
func (c *Core) silence(now time.Time) {
	muted := func(call event.Call) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		lvl, alerts := c.levelOfLocked(call)
		return c.verdictLocked(now, lvl, len(alerts) > 0).Mute
	}
	// The verdicts are taken before the player's queue is changed: its
	// lock must never wait for the core's (the core calls the player
	// under its own).
	mute := map[int64]bool{}
	for _, call := range c.p.Queue() {
		if muted(call) {
			mute[call.ID] = true
		}
	}
	dropped := c.p.Unqueue(func(call event.Call) bool { return mute[call.ID] })
	st := c.p.State()
	if st.Call != nil && st.Replay == 0 && muted(*st.Call) {
		c.p.Skip()
	}
	c.markHeld(dropped, heldQuiet)
}

// collapse makes the notifications held during quiet hours one: a single
// one is shown as it was; several are listed, with a button that plays
// the latest alerted call.
func collapse(held []heldNotice, more int) (notify.Notice, bool) {
	switch {
	case len(held) == 0 && more == 0:
		return notify.Notice{}, false
	case len(held) == 1 && more == 0:
		n := held[0].n
		n.Body = strings.TrimSpace(n.Body + "\n(Held during quiet hours.)")
		return n, true
	}
	total := len(held) + more
	n := notify.Notice{Title: fmt.Sprintf("Earshot: %d notifications during quiet hours", total), Key: "quiet-hours"}
	var lines []string
	const listed = 5
	for i, h := range held {
		if i == listed {
			break
		}
		lines = append(lines, h.n.Title)
	}
	if rest := total - min(len(held), listed); rest > 0 {
		lines = append(lines, fmt.Sprintf("…and %d more (see the history)", rest))
	}
	n.Body = strings.Join(lines, "\n")
	for i := len(held) - 1; i >= 0; i-- {
		if held[i].alert && len(held[i].n.Actions) > 0 {
			act := held[i].n.Actions[0]
			act.Label = "Play the latest alert"
			n.Actions = []notify.Action{act}
			break
		}
	}
	return n, true
}

// clockWords writes t for a listener at now: its time of day in loc, with
// the weekday when it is not within the coming 20 hours.
func clockWords(t, now time.Time, loc *time.Location) string {
	t = t.In(loc)
	if d := t.Sub(now); d > 20*time.Hour || d < -4*time.Hour {
		return t.Format("Mon 15:04")
	}
	return t.Format("15:04")
}

// PauseQuietHours pauses quiet hours for d from now (0 resumes them).
func (c *Core) PauseQuietHours(d time.Duration) {
	now := c.now()
	c.mu.Lock()
	if d <= 0 {
		c.quietPaused = time.Time{}
	} else {
		c.quietPaused = quiet.PauseFor(now, min(d, 24*time.Hour))
	}
	paused := c.quietPaused
	c.mu.Unlock()
	if p := c.opts.Prefs; p != nil {
		p.Save(prefQuietPaused, paused)
	}
	c.checkQuiet()
	c.pokeQuiet()
}

// QuietLine says how quiet hours stand, for the window and the tray's
// tooltip ("" when they are not in force and not paused), in local time.
func (s *Snapshot) QuietLine() string { return s.QuietLineAt(time.Now(), time.Local) }

// QuietLineAt is QuietLine as of now, with times in loc.
func (s *Snapshot) QuietLineAt(now time.Time, loc *time.Location) string {
	return s.quietWords(now, loc, true)
}

// QuietBriefAt is QuietLineAt without what quiet hours do ("calls
// silent, notifications held"): for the now-playing block, whose status
// line already says "quiet hours" and which has one line for it.
func (s *Snapshot) QuietBriefAt(now time.Time, loc *time.Location) string {
	return s.quietWords(now, loc, false)
}

func (s *Snapshot) quietWords(now time.Time, loc *time.Location, what bool) string {
	q := s.Quiet
	at := func(t time.Time) string { return clockWords(t, now, loc) }
	switch {
	case !q.PausedUntil.IsZero():
		return "Quiet hours paused until " + at(q.PausedUntil)
	case !q.Active:
		return ""
	}
	line := "Quiet hours"
	if !q.Until.IsZero() {
		line += " until " + at(q.Until)
	}
	if what {
		line += ": calls silent, notifications held"
	}
	if pass := QuietPasses(q.AllowPriority, q.AllowAlerts); pass != "" {
		line += " (" + pass + ")"
	}
	return line
}

// QuietPasses says what quiet hours let through ("" for nothing).
func QuietPasses(allowPriority, allowAlerts bool) string {
	switch {
	case allowPriority && allowAlerts:
		return "priority and alerts pass"
	case allowPriority:
		return "priority passes"
	case allowAlerts:
		return "alerts pass"
	}
	return ""
}
