// Package filter decides which calls a listener hears: the player's
// selection of talkgroups, a hold on one talkgroup or system, and avoided
// talkgroups (Filter), as the desktop player applies them and the relay's
// continuous stream follows them (?follow=player).
//
// It owns only plain data and pure functions (time is passed in); it does
// no I/O. A Filter marshals to the JSON the app keeps in config.json's
// preferences.
package filter

import (
	"cmp"
	"slices"
	"time"

	"earshot/relay/event"
)

// Talkgroup names one talkgroup of one system. A TalkgroupID of 0 stands for
// every talkgroup of the system (OpenScanner talkgroup ids are positive).
type Talkgroup struct {
	SystemID    int64 `json:"systemId"`
	TalkgroupID int64 `json:"talkgroupId"`
}

// Matches reports whether c is a call of t (or of t's system when
// t.TalkgroupID is 0).
func (t Talkgroup) Matches(c event.Call) bool {
	return t.SystemID == c.SystemID && (t.TalkgroupID == 0 || t.TalkgroupID == c.TalkgroupID)
}

// Hold lets only one talkgroup's (or one system's) calls through.
type Hold struct {
	Talkgroup
	// Until is when the hold lifts by itself; zero means until lifted.
	Until time.Time `json:"until,omitzero"`
}

// Avoid keeps one talkgroup's (or system's) calls out.
type Avoid struct {
	Talkgroup
	// Until is when the avoid lifts by itself; zero means until lifted.
	Until time.Time `json:"until,omitzero"`
}

func active(until, now time.Time) bool { return until.IsZero() || now.Before(until) }

// Filter decides which live calls are queued for playing. It is plain data
// that marshals to JSON, so the UI can persist it; its methods are pure (time
// is passed in). Rules, first match wins:
//
//  1. an active Avoid matching the call keeps it out;
//  2. an active Hold lets through only the calls it matches — and lets them
//     through even when the Selection leaves their talkgroup out, since
//     holding a talkgroup is asking to hear it;
//  3. otherwise the call passes when Selection is empty or any entry of it
//     matches.
//
// The zero Filter lets every call through.
type Filter struct {
	Hold      *Hold       `json:"hold,omitempty"`
	Avoids    []Avoid     `json:"avoids,omitempty"`
	Selection []Talkgroup `json:"selection,omitempty"`
}

// Reasons Filter.Reason gives for keeping a call out.
const (
	ReasonAvoided     = "avoided"
	ReasonNotHeld     = "another talkgroup is held"
	ReasonNotSelected = "talkgroup not selected"
)

// Allows reports whether c should be queued at time now.
func (f Filter) Allows(c event.Call, now time.Time) bool { return f.Reason(c, now) == "" }

// Reason returns why c is kept out at time now, or "" when it is allowed.
func (f Filter) Reason(c event.Call, now time.Time) string {
	for _, a := range f.Avoids {
		if active(a.Until, now) && a.Matches(c) {
			return ReasonAvoided
		}
	}
	if h := f.Hold; h != nil && active(h.Until, now) {
		if h.Matches(c) {
			return ""
		}
		return ReasonNotHeld
	}
	if len(f.Selection) == 0 {
		return ""
	}
	for _, t := range f.Selection {
		if t.Matches(c) {
			return ""
		}
	}
	return ReasonNotSelected
}

// Clone returns a deep copy of f.
func (f Filter) Clone() Filter {
	g := Filter{Avoids: slices.Clone(f.Avoids), Selection: slices.Clone(f.Selection)}
	if f.Hold != nil {
		h := *f.Hold
		g.Hold = &h
	}
	return g
}

// HoldTalkgroup holds one talkgroup until the given time (zero: until
// lifted), replacing any earlier hold.
func (f *Filter) HoldTalkgroup(systemID, talkgroupID int64, until time.Time) {
	f.Hold = &Hold{Talkgroup: Talkgroup{SystemID: systemID, TalkgroupID: talkgroupID}, Until: until}
}

// HoldSystem holds a whole system until the given time (zero: until lifted),
// replacing any earlier hold.
func (f *Filter) HoldSystem(systemID int64, until time.Time) {
	f.Hold = &Hold{Talkgroup: Talkgroup{SystemID: systemID}, Until: until}
}

// ReleaseHold lifts the hold, if any.
func (f *Filter) ReleaseHold() { f.Hold = nil }

// AvoidTalkgroup avoids one talkgroup (talkgroupID 0: the whole system)
// until the given time (zero: until lifted), replacing an earlier avoid of
// the same talkgroup.
func (f *Filter) AvoidTalkgroup(systemID, talkgroupID int64, until time.Time) {
	t := Talkgroup{SystemID: systemID, TalkgroupID: talkgroupID}
	f.Unavoid(systemID, talkgroupID)
	f.Avoids = append(f.Avoids, Avoid{Talkgroup: t, Until: until})
}

// Unavoid lifts the avoid of one talkgroup, if any.
func (f *Filter) Unavoid(systemID, talkgroupID int64) {
	t := Talkgroup{SystemID: systemID, TalkgroupID: talkgroupID}
	f.Avoids = slices.DeleteFunc(f.Avoids, func(a Avoid) bool { return a.Talkgroup == t })
}

// Avoided reports whether calls of the talkgroup are avoided at time now.
func (f Filter) Avoided(systemID, talkgroupID int64, now time.Time) bool {
	return f.Reason(event.Call{SystemID: systemID, TalkgroupID: talkgroupID}, now) == ReasonAvoided
}

// SetSelection replaces the set of enabled talkgroups; none means all.
func (f *Filter) SetSelection(tgs []Talkgroup) {
	f.Selection = slices.Clone(tgs)
	slices.SortFunc(f.Selection, func(a, b Talkgroup) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
	f.Selection = slices.Compact(f.Selection)
}

// Prune drops holds and avoids that have expired by now, so a persisted
// Filter does not grow, and reports whether anything was dropped.
func (f *Filter) Prune(now time.Time) bool {
	changed := false
	if f.Hold != nil && !active(f.Hold.Until, now) {
		f.Hold = nil
		changed = true
	}
	n := len(f.Avoids)
	f.Avoids = slices.DeleteFunc(f.Avoids, func(a Avoid) bool { return !active(a.Until, now) })
	if len(f.Avoids) == 0 {
		f.Avoids = nil
	}
	return changed || len(f.Avoids) != n
}
