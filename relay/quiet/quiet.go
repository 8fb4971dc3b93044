// Package quiet decides quiet hours: a weekly schedule, in the listener's
// time zone, during which call audio is muted and notifications are held —
// except, when the listener chooses, for priority talkgroups and calls that
// match an alert rule — and which the listener can pause for a while.
//
// It owns the schedule's format (as config.json stores it), its validation
// and the time arithmetic, daylight-saving changes included: a stretch of
// quiet is the real time from the first moment the wall clock shows its
// start to the first moment after that it shows its end, so a start that
// falls in the spring-forward gap begins when the clocks jump, and an end
// in the repeated autumn hour is not repeated. It is pure logic: no I/O,
// no clock of its own (callers pass the time), no state.
package quiet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Hours are the listener's quiet-hours settings, as config.json stores
// them:
//
//	{"enabled":true,"days":{"mon":["22:00-07:00"],"sat":["23:30-09:00","13:00-14:30"]},
//	 "allowPriority":true,"allowAlerts":true}
//
// A span "HH:MM-HH:MM" starts on its day; an end at or before the start
// runs past midnight into the next day ("00:00-00:00" is a whole day). The
// zero Hours is off.
type Hours struct {
	Enabled bool `json:"enabled"`
	// Days maps "mon" … "sun" to that day's spans.
	Days map[string][]string `json:"days,omitempty"`
	// AllowPriority lets calls of priority talkgroups (and priority alert
	// rules) through; AllowAlerts lets calls that match any alert rule
	// through.
	AllowPriority bool `json:"allowPriority,omitempty"`
	AllowAlerts   bool `json:"allowAlerts,omitempty"`
	// Zone is an IANA time zone ("Europe/Paris"); "" is the computer's.
	Zone string `json:"zone,omitempty"`
}

// Limits on a schedule.
const maxSpansPerDay = 8

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// span is one parsed span: minutes since midnight; to <= from runs past
// midnight; to may be 24*60.
type span struct {
	day      time.Weekday
	from, to int
}

// Schedule is a validated, ready-to-use Hours.
type Schedule struct {
	hours Hours
	spans []span
	loc   *time.Location
}

// ErrInvalid marks quiet hours that do not parse; the message says where.
var ErrInvalid = errors.New("invalid quiet hours")

// Compile validates h and returns its schedule. zone is used when h.Zone
// is "" (nil: time.Local).
func Compile(h Hours, zone *time.Location) (*Schedule, error) {
	s := &Schedule{hours: h, loc: zone}
	if s.loc == nil {
		s.loc = time.Local
	}
	if h.Zone != "" {
		if len(h.Zone) > 64 || strings.ContainsAny(h.Zone, "\\\x00") || strings.Contains(h.Zone, "..") {
			return nil, fmt.Errorf("%w: zone %q is not a time zone name", ErrInvalid, h.Zone)
		}
		loc, err := time.LoadLocation(h.Zone)
		if err != nil {
			return nil, fmt.Errorf("%w: zone %q is not a time zone this computer knows", ErrInvalid, h.Zone)
		}
		s.loc = loc
	}
	for name, list := range h.Days {
		day := slices.Index(dayNames[:], strings.ToLower(name))
		if day < 0 {
			return nil, fmt.Errorf("%w: %q is not a day (mon, tue, wed, thu, fri, sat, sun)", ErrInvalid, name)
		}
		if len(list) > maxSpansPerDay {
			return nil, fmt.Errorf("%w: %s: at most %d spans a day", ErrInvalid, name, maxSpansPerDay)
		}
		for _, text := range list {
			sp, err := parseSpan(text)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
			}
			sp.day = time.Weekday(day)
			s.spans = append(s.spans, sp)
		}
	}
	slices.SortFunc(s.spans, func(a, b span) int {
		if a.day != b.day {
			return int(a.day) - int(b.day)
		}
		return a.from - b.from
	})
	return s, nil
}

// Parse decodes quiet hours from JSON strictly and compiles them.
func Parse(data []byte, zone *time.Location) (*Schedule, error) {
	var h Hours
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrInvalid)
	}
	return Compile(h, zone)
}

// parseSpan reads "HH:MM-HH:MM".
func parseSpan(text string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(text), "-")
	if !ok || len(text) > 16 {
		return span{}, fmt.Errorf("%q is not a span such as 22:00-07:00", text)
	}
	f, err := parseClock(strings.TrimSpace(from), false)
	if err != nil {
		return span{}, fmt.Errorf("%q: %v", text, err)
	}
	t, err := parseClock(strings.TrimSpace(to), true)
	if err != nil {
		return span{}, fmt.Errorf("%q: %v", text, err)
	}
	return span{from: f, to: t}, nil
}

// parseClock reads "HH:MM" (24-hour); "24:00" only as an end.
func parseClock(v string, end bool) (int, error) {
	if len(v) != 5 || v[2] != ':' {
		return 0, fmt.Errorf("%q is not a time such as 07:30", v)
	}
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	h1, ok1 := digit(v[0])
	h2, ok2 := digit(v[1])
	m1, ok3 := digit(v[3])
	m2, ok4 := digit(v[4])
	h, m := h1*10+h2, m1*10+m2
	if !ok1 || !ok2 || !ok3 || !ok4 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, fmt.Errorf("%q is not a time such as 07:30", v)
	}
	return h*60 + m, nil
}

// Hours returns the settings the schedule was compiled from.
func (s *Schedule) Hours() Hours { return s.hours }

// Location is the time zone the schedule is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// wall is a wall-clock reading, comparable field by field.
type wall struct{ y, mo, d, h, mi, sec, nsec int }

func wallOf(t time.Time) wall {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return wall{y, int(mo), d, h, mi, sec, t.Nanosecond()}
}

func (a wall) less(b wall) bool {
	for _, p := range [][2]int{{a.y, b.y}, {a.mo, b.mo}, {a.d, b.d}, {a.h, b.h}, {a.mi, b.mi}, {a.sec, b.sec}, {a.nsec, b.nsec}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

// reach is the first instant at which the wall clock in loc shows the
// date y-m-d at minutes past midnight, or later: in a spring-forward gap,
// the moment the clocks jump; in a repeated hour, its first pass.
func reach(y int, m time.Month, d, minutes int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, minutes, 0, 0, loc)
	target := wallOf(time.Date(y, m, d, 0, minutes, 0, 0, time.UTC))
	// An earlier instant showing the same wall time (the first pass of a
	// repeated hour)?
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); wallOf(e.In(loc)) == target {
			return e
		}
	}
	switch got := wallOf(t.In(loc)); {
	case got == target:
		return t
	case target.less(got):
		// time.Date moved past a gap: the clocks jumped at the start of
		// t's zone period, and that is when the wall clock first reached
		// the target.
		start, _ := t.ZoneBounds()
		if !start.IsZero() && !wallOf(start.In(loc)).less(target) {
			return start
		}
	default:
		// time.Date landed before the gap: the jump ends t's period.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	}
	return t
}

// interval is one occurrence of a span: [start, end).
type interval struct{ start, end time.Time }

// occurrence is span sp on the date y-m-d (which must be its weekday).
func (s *Schedule) occurrence(sp span, y int, m time.Month, d int) interval {
	start := reach(y, m, d, sp.from, s.loc)
	endDay := d
	if sp.to <= sp.from {
		endDay++
	}
	return interval{start, reach(y, m, endDay, sp.to, s.loc)}
}

// occurrences returns the spans' occurrences on the dates around t, from
// two days before t's date to days after it.
func (s *Schedule) occurrences(t time.Time, days int) []interval {
	local := t.In(s.loc)
	y, m, d := local.Date()
	var out []interval
	for off := -2; off <= days; off++ {
		date := time.Date(y, m, d+off, 12, 0, 0, 0, s.loc) // noon: always exists
		for _, sp := range s.spans {
			if sp.day == date.Weekday() {
				out = append(out, s.occurrence(sp, date.Year(), date.Month(), date.Day()))
			}
		}
	}
	return out
}

// scheduled reports whether t falls in a span of the schedule.
func (s *Schedule) scheduled(t time.Time) bool {
	if !s.hours.Enabled {
		return false
	}
	for _, iv := range s.occurrences(t, 1) {
		if !t.Before(iv.start) && t.Before(iv.end) {
			return true
		}
	}
	return false
}

// Active reports whether quiet hours are in force at t, unless paused
// until pausedUntil (zero: not paused).
func (s *Schedule) Active(t, pausedUntil time.Time) bool {
	if t.Before(pausedUntil) {
		return false
	}
	return s.scheduled(t)
}

// NextChange returns when Active next changes after t (quiet hours begin
// or end, or a pause ends), and the state from then; ok is false when
// nothing changes in the coming week.
func (s *Schedule) NextChange(t, pausedUntil time.Time) (at time.Time, active bool, ok bool) {
	now := s.Active(t, pausedUntil)
	var cands []time.Time
	if t.Before(pausedUntil) {
		cands = append(cands, pausedUntil)
	}
	if s.hours.Enabled {
		for _, iv := range s.occurrences(t, 8) {
			cands = append(cands, iv.start, iv.end)
		}
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	for _, c := range cands {
		if c.After(t) && s.Active(c, pausedUntil) != now {
			return c, !now, true
		}
	}
	return time.Time{}, now, false
}

// PauseFor is the pausedUntil that pauses quiet hours for d from now
// ("pause quiet hours for an hour").
func PauseFor(now time.Time, d time.Duration) time.Time { return now.Add(d) }

// Call is what decides whether a call passes quiet hours.
type Call struct {
	// Priority: the call is on a priority talkgroup, or a priority alert
	// rule matched it.
	Priority bool
	// Alerted: an alert rule matched it.
	Alerted bool
}

// Verdict is what quiet hours mean for one call.
type Verdict struct {
	// Quiet: quiet hours are in force.
	Quiet bool
	// Mute: do not play the call's audio. HoldNotice: keep its
	// notification until quiet hours end. Both are false for a call the
	// listener lets through.
	Mute, HoldNotice bool
}

// Decide says what to do with call c arriving at t.
func (s *Schedule) Decide(t, pausedUntil time.Time, c Call) Verdict {
	if !s.Active(t, pausedUntil) {
		return Verdict{}
	}
	if (c.Priority && s.hours.AllowPriority) || (c.Alerted && s.hours.AllowAlerts) {
		return Verdict{Quiet: true}
	}
	return Verdict{Quiet: true, Mute: true, HoldNotice: true}
}
