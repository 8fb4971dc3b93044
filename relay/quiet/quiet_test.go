package quiet

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the machine's zone files
)

func mustCompile(t *testing.T, h Hours, zone string) *Schedule {
	t.Helper()
	h.Enabled = true
	h.Zone = zone
	s, err := Compile(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(t *testing.T, s *Schedule, y int, m time.Month, d, h, mi int) time.Time {
	t.Helper()
	return time.Date(y, m, d, h, mi, 0, 0, s.Location())
}

type probe struct {
	when time.Time
	want bool
	what string
}

func check(t *testing.T, s *Schedule, probes []probe) {
	t.Helper()
	for _, p := range probes {
		if got := s.Active(p.when, time.Time{}); got != p.want {
			t.Errorf("%s (%s): Active = %v, want %v", p.what, p.when.Format("Mon 2006-01-02 15:04 MST"), got, p.want)
		}
	}
}

// 2026-11-30 is a Monday.
func TestSpansRunAcrossMidnightIntoTheNextDay(t *testing.T) {
	s := mustCompile(t, Hours{Days: map[string][]string{"mon": {"22:00-07:00"}, "sat": {"00:00-00:00"}, "wed": {"18:00-24:00", "12:00-12:30"}}}, "UTC")
	check(t, s, []probe{
		{at(t, s, 2026, 11, 30, 21, 59), false, "Monday before the span"},
		{at(t, s, 2026, 11, 30, 22, 0), true, "Monday at its start"},
		{at(t, s, 2026, 12, 1, 0, 0), true, "Tuesday midnight"},
		{at(t, s, 2026, 12, 1, 6, 59), true, "Tuesday morning"},
		{at(t, s, 2026, 12, 1, 7, 0), false, "Tuesday at its end"},
		{at(t, s, 2026, 12, 1, 22, 30), false, "Tuesday night has no span"},
		{at(t, s, 2026, 12, 2, 12, 15), true, "Wednesday noon span"},
		{at(t, s, 2026, 12, 2, 12, 30), false, "Wednesday noon span's end"},
		{at(t, s, 2026, 12, 2, 23, 59), true, "Wednesday to 24:00"},
		{at(t, s, 2026, 12, 3, 0, 0), false, "Thursday midnight (24:00 ended it)"},
		{at(t, s, 2026, 12, 4, 23, 59), false, "Friday night"},
		{at(t, s, 2026, 12, 5, 0, 0), true, "Saturday, a whole day"},
		{at(t, s, 2026, 12, 5, 23, 59), true, "late Saturday"},
		{at(t, s, 2026, 12, 6, 0, 0), false, "Sunday"},
	})
}

func TestOffAndEmptyMeanNeverQuiet(t *testing.T) {
	s, err := Compile(Hours{Days: map[string][]string{"mon": {"00:00-00:00"}}}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if s.Active(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), time.Time{}) {
		t.Fatal("disabled quiet hours are active")
	}
	s = mustCompile(t, Hours{}, "UTC")
	if s.Active(time.Now(), time.Time{}) {
		t.Fatal("quiet hours without spans are active")
	}
	if _, _, ok := s.NextChange(time.Now(), time.Time{}); ok {
		t.Fatal("quiet hours without spans change")
	}
}

// New York, 2026: clocks go from 02:00 EST to 03:00 EDT on Sunday 8 March,
// and from 02:00 EDT back to 01:00 EST on Sunday 1 November.
func TestSpringForward(t *testing.T) {
	ny := mustCompile(t, Hours{Days: map[string][]string{
		"sat": {"22:00-07:00"},
		"sun": {"01:30-02:30", "02:30-04:00"},
	}}, "America/New_York")
	loc := ny.Location()
	est := func(h, m int) time.Time {
		return time.Date(2026, 3, 8, h, m, 0, 0, time.FixedZone("EST", -5*3600)).In(loc)
	}
	edt := func(h, m int) time.Time {
		return time.Date(2026, 3, 8, h, m, 0, 0, time.FixedZone("EDT", -4*3600)).In(loc)
	}
	check(t, ny, []probe{
		{time.Date(2026, 3, 7, 21, 59, 0, 0, loc), false, "Saturday before 22:00"},
		{time.Date(2026, 3, 7, 22, 0, 0, 0, loc), true, "Saturday 22:00"},
		{est(1, 59), true, "the last minute before the jump"},
		{edt(3, 0), true, "the jump (02:30-04:00 starts when the clocks reach 03:00)"},
		{edt(6, 59), true, "Sunday 06:59 EDT"},
		{edt(7, 0), false, "Sunday 07:00 EDT"},
	})
	// The night span lasts 8 hours of real time, not 9.
	start, end := time.Date(2026, 3, 7, 22, 0, 0, 0, loc), edt(7, 0)
	if got := end.Sub(start); got != 8*time.Hour {
		t.Fatalf("the spring night lasts %v", got)
	}
	if at, active, ok := ny.NextChange(time.Date(2026, 3, 7, 21, 0, 0, 0, loc), time.Time{}); !ok || !active || !at.Equal(start) {
		t.Fatalf("NextChange before the night = %v %v %v, want %v true", at, active, ok, start)
	}
	if at, active, ok := ny.NextChange(est(1, 0), time.Time{}); !ok || active || !at.Equal(edt(7, 0)) {
		t.Fatalf("NextChange in the night = %v %v %v, want 07:00 EDT false", at, active, ok)
	}

	// A span that starts in the gap starts at the jump; one that ends in
	// it ends at the jump.
	gap := mustCompile(t, Hours{Days: map[string][]string{"sun": {"02:30-04:00"}}}, "America/New_York")
	check(t, gap, []probe{
		{est(1, 59), false, "before the jump"},
		{edt(3, 0), true, "at the jump"},
		{edt(3, 59), true, "03:59 EDT"},
		{edt(4, 0), false, "04:00 EDT"},
	})
	ends := mustCompile(t, Hours{Days: map[string][]string{"sun": {"01:30-02:30"}}}, "America/New_York")
	check(t, ends, []probe{
		{est(1, 29), false, "01:29 EST"},
		{est(1, 30), true, "01:30 EST"},
		{est(1, 59), true, "01:59 EST"},
		{edt(3, 0), false, "the jump ends it"},
	})
}

func TestFallBack(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	edt := func(h, m int) time.Time {
		return time.Date(2026, 11, 1, h, m, 0, 0, time.FixedZone("EDT", -4*3600)).In(loc)
	}
	est := func(h, m int) time.Time {
		return time.Date(2026, 11, 1, h, m, 0, 0, time.FixedZone("EST", -5*3600)).In(loc)
	}

	// Ending in the repeated hour: it ends at the first 01:30 and does not
	// come back at the second.
	ends := mustCompile(t, Hours{Days: map[string][]string{"sat": {"22:00-01:30"}}}, "America/New_York")
	check(t, ends, []probe{
		{edt(1, 29), true, "01:29 EDT"},
		{edt(1, 30), false, "01:30 EDT, the first pass"},
		{est(1, 15), false, "01:15 EST, the hour again"},
		{est(1, 45), false, "01:45 EST"},
	})
	// Starting in it: it starts at the first pass and runs on through the
	// second.
	starts := mustCompile(t, Hours{Days: map[string][]string{"sun": {"01:30-03:00"}}}, "America/New_York")
	check(t, starts, []probe{
		{edt(1, 29), false, "01:29 EDT"},
		{edt(1, 30), true, "01:30 EDT"},
		{est(1, 15), true, "01:15 EST"},
		{est(2, 59), true, "02:59 EST"},
		{est(3, 0), false, "03:00 EST"},
	})
	if d := est(3, 0).Sub(edt(1, 30)); d != 150*time.Minute {
		t.Fatalf("01:30-03:00 on the autumn night lasts %v, want 2h30m", d)
	}
	// A whole night is 10 hours of real time, not 9.
	night := mustCompile(t, Hours{Days: map[string][]string{"sat": {"22:00-07:00"}}}, "America/New_York")
	at, active, ok := night.NextChange(time.Date(2026, 10, 31, 23, 0, 0, 0, loc), time.Time{})
	if !ok || active || !at.Equal(est(7, 0)) || at.Sub(time.Date(2026, 10, 31, 22, 0, 0, 0, loc)) != 10*time.Hour {
		t.Fatalf("NextChange in the autumn night = %v %v %v, want 07:00 EST, 10 h after 22:00", at, active, ok)
	}
}

// Europe changes at 01:00 UTC: London goes 01:00 → 02:00 on 29 March 2026
// and 02:00 → 01:00 on 25 October 2026.
func TestLondonAcrossBothChanges(t *testing.T) {
	s := mustCompile(t, Hours{Days: map[string][]string{"sat": {"23:00-01:30"}}}, "Europe/London")
	utc := func(m time.Month, d, h, mi int) time.Time { return time.Date(2026, m, d, h, mi, 0, 0, time.UTC) }
	check(t, s, []probe{
		// Spring: 01:30 local does not exist (01:00 GMT → 02:00 BST):
		// the span ends at the jump, 01:00 UTC.
		{utc(3, 28, 23, 0), true, "spring: Saturday 23:00 GMT"},
		{utc(3, 29, 0, 59), true, "spring: 00:59 GMT"},
		{utc(3, 29, 1, 0), false, "spring: the jump"},
		// Autumn: 01:30 BST (00:30 UTC) ends it; 01:30 GMT does not
		// start it again.
		{utc(10, 24, 22, 0), true, "autumn: Saturday 23:00 BST"},
		{utc(10, 25, 0, 29), true, "autumn: 01:29 BST"},
		{utc(10, 25, 0, 30), false, "autumn: 01:30 BST"},
		{utc(10, 25, 1, 15), false, "autumn: 01:15 GMT"},
	})
}

// Havana's clocks change at midnight: 00:00 does not exist on 8 March 2026
// (it jumps to 01:00), and a span from Saturday into Sunday still ends, and
// one starting at Sunday's midnight still starts.
func TestAZoneThatChangesAtMidnight(t *testing.T) {
	s := mustCompile(t, Hours{Days: map[string][]string{"sat": {"22:00-00:30"}, "sun": {"00:00-02:00"}}}, "America/Havana")
	loc := s.Location()
	jump := time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC) // 00:00 CST → 01:00 CDT
	if _, off := jump.In(loc).Zone(); off != -4*3600 {
		t.Skip("this tzdata has no DST change for Havana on 2026-03-08")
	}
	check(t, s, []probe{
		{time.Date(2026, 3, 7, 22, 0, 0, 0, loc), true, "Saturday 22:00"},
		{jump.Add(-time.Minute), true, "23:59 before the jump"},
		{jump, true, "the jump: Sunday's span starts"},
		{jump.Add(59 * time.Minute), true, "01:59 CDT"},
		{jump.Add(time.Hour), false, "02:00 CDT"},
	})
}

func TestPauseAndNextChange(t *testing.T) {
	s := mustCompile(t, Hours{Days: map[string][]string{"mon": {"22:00-07:00"}}}, "UTC")
	night := at(t, s, 2026, 11, 30, 23, 0)
	paused := PauseFor(night, time.Hour)
	if s.Active(night, paused) || !s.Active(paused, paused) {
		t.Fatal("a pause for an hour does not lift quiet hours for that hour only")
	}
	if at, active, ok := s.NextChange(night, paused); !ok || !active || !at.Equal(paused) {
		t.Fatalf("NextChange while paused = %v %v %v, want the pause's end", at, active, ok)
	}
	// A pause past the end of quiet hours: next change is the next night.
	long := PauseFor(night, 10*time.Hour)
	if at, active, ok := s.NextChange(night, long); !ok || !active || !at.Equal(at.Truncate(time.Hour)) || at.Weekday() != time.Monday {
		t.Fatalf("NextChange with a long pause = %v %v %v, want next Monday 22:00", at, active, ok)
	}
}

func TestDecideLetsChosenCallsThrough(t *testing.T) {
	night := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	base := Hours{Enabled: true, Days: map[string][]string{"mon": {"22:00-07:00"}}}
	for _, tc := range []struct {
		allowPriority, allowAlerts bool
		c                          Call
		mute                       bool
	}{
		{false, false, Call{}, true},
		{false, false, Call{Priority: true, Alerted: true}, true},
		{true, false, Call{Priority: true}, false},
		{true, false, Call{Alerted: true}, true},
		{false, true, Call{Alerted: true}, false},
		{false, true, Call{Priority: true}, true},
	} {
		h := base
		h.AllowPriority, h.AllowAlerts = tc.allowPriority, tc.allowAlerts
		s, err := Compile(h, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		v := s.Decide(night, time.Time{}, tc.c)
		if !v.Quiet || v.Mute != tc.mute || v.HoldNotice != tc.mute {
			t.Errorf("%+v with %+v at night: %+v, want mute %v", h, tc.c, v, tc.mute)
		}
		if v := s.Decide(day, time.Time{}, tc.c); v != (Verdict{}) {
			t.Errorf("by day: %+v, want nothing", v)
		}
	}
}

func TestInvalidHoursAreRefused(t *testing.T) {
	for _, bad := range []string{
		`{"enabled":true,"days":{"monday":["22:00-07:00"]}}`,
		`{"enabled":true,"days":{"mon":["22:00"]}}`,
		`{"enabled":true,"days":{"mon":["25:00-07:00"]}}`,
		`{"enabled":true,"days":{"mon":["22:60-07:00"]}}`,
		`{"enabled":true,"days":{"mon":["24:00-07:00"]}}`,
		`{"enabled":true,"days":{"mon":["7:00-9:00"]}}`,
		`{"enabled":true,"days":{"mon":["1","2","3","4","5","6","7","8","9"]}}`,
		`{"enabled":true,"zone":"Mars/Olympus"}`,
		`{"enabled":true,"zone":"../../etc/passwd"}`,
		`{"enabled":true,"quiet":true}`,
		`{"enabled":true} {}`,
	} {
		if _, err := Parse([]byte(bad), nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := Parse([]byte(`{"enabled":true,"days":{"Sun":[" 23:00 - 06:30 "]},"allowAlerts":true,"zone":"Europe/Paris"}`), nil); err != nil {
		t.Errorf("a good schedule was refused: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"enabled":true,"days":{"mon":["22:00-07:00"],"sat":["00:00-00:00"]},"allowPriority":true,"zone":"America/New_York"}`, int64(1772949600))
	f.Add(`{"enabled":true,"days":{"sun":["01:30-02:30","02:30-04:00"]},"zone":"Europe/London"}`, int64(1792800000))
	f.Fuzz(func(t *testing.T, data string, unix int64) {
		s, err := Parse([]byte(data), time.UTC)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\x00") {
				t.Fatalf("Parse error %v", err)
			}
			return
		}
		if unix < 0 || unix > 1<<34 {
			return
		}
		now := time.Unix(unix, 0)
		active := s.Active(now, time.Time{})
		if at, state, ok := s.NextChange(now, time.Time{}); ok {
			if !at.After(now) || state == active || s.Active(at, time.Time{}) != state {
				t.Fatalf("NextChange(%v) = %v %v, but Active is %v now", now, at, state, active)
			}
		}
	})
}
