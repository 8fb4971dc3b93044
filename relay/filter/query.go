package filter

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"earshot/relay/event"
)

// Query picks calls by system and talkgroup, as a URL (?system=&talkgroup=)
// or a command line (--system, --talkgroup) gives them. Values of one kind
// are alternatives and the two kinds must both hold: system=1&system=2
// is either system, system=1&talkgroup=101 is talkgroup 101 of system 1.
// The zero Query picks every call.
type Query struct {
	// Systems are radio system ids; empty means every system.
	Systems []int64
	// Talkgroups are radio talkgroup ids, each of one system or, with
	// SystemID 0, of whichever system has it; empty means every talkgroup.
	Talkgroups []Talkgroup
}

// MaxQueryValues caps how many systems, and how many talkgroups, a Query
// may name.
const MaxQueryValues = 64

// ParseQuery reads system ids ("1") and talkgroups ("101", or "1:101" for
// talkgroup 101 of system 1), checking each.
func ParseQuery(systems, talkgroups []string) (Query, error) {
	var q Query
	if len(systems) > MaxQueryValues || len(talkgroups) > MaxQueryValues {
		return Query{}, fmt.Errorf("at most %d systems and %d talkgroups", MaxQueryValues, MaxQueryValues)
	}
	for _, s := range systems {
		id, err := parseID(s)
		if err != nil {
			return Query{}, fmt.Errorf("system %q: %w", clip(s), err)
		}
		q.Systems = append(q.Systems, id)
	}
	for _, s := range talkgroups {
		var tg Talkgroup
		var err error
		if sys, id, found := strings.Cut(s, ":"); found {
			if tg.SystemID, err = parseID(sys); err == nil {
				tg.TalkgroupID, err = parseID(id)
			}
		} else {
			tg.TalkgroupID, err = parseID(s)
		}
		if err != nil {
			return Query{}, fmt.Errorf("talkgroup %q: %w (give a talkgroup id, or SYSTEM:TALKGROUP such as 1:101)", clip(s), err)
		}
		q.Talkgroups = append(q.Talkgroups, tg)
	}
	q.normalize()
	return q, nil
}

// ParseQueryValues reads a Query from URL parameters "system" and
// "talkgroup".
func ParseQueryValues(v url.Values) (Query, error) {
	return ParseQuery(v["system"], v["talkgroup"])
}

var errNotID = errors.New("not a positive whole number")

func parseID(s string) (int64, error) {
	if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
		return 0, errNotID
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotID
	}
	return id, nil
}

// clip shortens a bad value for an error message.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

func (q *Query) normalize() {
	slices.Sort(q.Systems)
	q.Systems = slices.Compact(q.Systems)
	slices.SortFunc(q.Talkgroups, func(a, b Talkgroup) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
	q.Talkgroups = slices.Compact(q.Talkgroups)
}

// IsZero reports whether q picks every call.
func (q Query) IsZero() bool { return len(q.Systems) == 0 && len(q.Talkgroups) == 0 }

// Allows reports whether q picks call c.
func (q Query) Allows(c event.Call) bool {
	if len(q.Systems) > 0 && !slices.Contains(q.Systems, c.SystemID) {
		return false
	}
	if len(q.Talkgroups) == 0 {
		return true
	}
	for _, t := range q.Talkgroups {
		if t.TalkgroupID == c.TalkgroupID && (t.SystemID == 0 || t.SystemID == c.SystemID) {
			return true
		}
	}
	return false
}

// Values returns q as URL parameters, in a canonical order: two Queries
// that pick the same calls by the same values encode alike.
func (q Query) Values() url.Values {
	v := url.Values{}
	for _, s := range q.Systems {
		v.Add("system", strconv.FormatInt(s, 10))
	}
	for _, t := range q.Talkgroups {
		v.Add("talkgroup", t.Param())
	}
	return v
}

// Key is a canonical string for q ("" for the zero Query).
func (q Query) Key() string { return q.Values().Encode() }

// Param names the talkgroup as ParseQuery reads it: "101" or "1:101".
func (t Talkgroup) Param() string {
	if t.SystemID == 0 {
		return strconv.FormatInt(t.TalkgroupID, 10)
	}
	return strconv.FormatInt(t.SystemID, 10) + ":" + strconv.FormatInt(t.TalkgroupID, 10)
}
