// Package priority decides, as a scanner's priority channel does, which
// calls go first: a call on a priority talkgroup, or one a priority alert
// rule matched, interrupts a lower-priority call that is playing (which is
// then requeued or dropped, as the listener chose) and goes ahead of
// lower-priority calls in the queue; a call an alert rule bumps goes to the
// front of the calls of its level.
//
// It owns the levels, the listener's priority talkgroups and the
// interrupt policy (as config.json stores them), and pure decisions over
// them. It keeps no queue and plays nothing: the listening core does,
// asking this package what to do.
package priority

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"earshot/relay/event"
)

// Level is how much a call matters. Higher levels go first.
type Level int

// Levels.
const (
	Normal Level = iota
	// Talkgroup: the call is on one of the listener's priority talkgroups.
	Talkgroup
	// Alert: an alert rule marked priority matched the call.
	Alert
)

// TG names a talkgroup by radio ids.
type TG struct {
	System    int64 `json:"system"`
	Talkgroup int64 `json:"talkgroup"`
}

// MaxTalkgroups caps the priority talkgroups of one server.
const MaxTalkgroups = 256

// ErrInvalid marks settings that do not validate.
var ErrInvalid = errors.New("invalid priority settings")

// Validate checks a list of priority talkgroups.
func Validate(tgs []TG) error {
	if len(tgs) > MaxTalkgroups {
		return fmt.Errorf("%w: at most %d priority talkgroups", ErrInvalid, MaxTalkgroups)
	}
	for _, tg := range tgs {
		if tg.System <= 0 || tg.Talkgroup <= 0 {
			return fmt.Errorf("%w: system and talkgroup ids are positive numbers, not %d/%d", ErrInvalid, tg.System, tg.Talkgroup)
		}
	}
	return nil
}

// Of is the level of call c, given the priority talkgroups and the alerts
// that fired for it.
func Of(c *event.Call, priorityTGs []TG, alerts []event.Alert) Level {
	if slices.ContainsFunc(alerts, func(a event.Alert) bool { return a.Priority }) {
		return Alert
	}
	if slices.Contains(priorityTGs, TG{c.SystemID, c.TalkgroupID}) {
		return Talkgroup
	}
	return Normal
}

// Bumped reports whether an alert rule asked for the call to go first.
func Bumped(alerts []event.Alert) bool {
	return slices.ContainsFunc(alerts, func(a event.Alert) bool { return a.Bump })
}

// OnInterrupt is what becomes of the call an interruption cuts short.
type OnInterrupt int

// Policies. Requeue is the default.
const (
	// Requeue: it plays again from its start after the interrupting call.
	Requeue OnInterrupt = iota
	// Drop: it is not played again (it stays in history).
	Drop
)

// String is the policy as config.json stores it.
func (p OnInterrupt) String() string {
	if p == Drop {
		return "drop"
	}
	return "requeue"
}

// MarshalJSON implements json.Marshaler.
func (p OnInterrupt) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON implements json.Unmarshaler; "" is Requeue.
func (p *OnInterrupt) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: onInterrupt is \"requeue\" or \"drop\"", ErrInvalid)
	}
	switch s {
	case "", "requeue":
		*p = Requeue
	case "drop":
		*p = Drop
	default:
		return fmt.Errorf("%w: onInterrupt is \"requeue\" or \"drop\", not %q", ErrInvalid, s)
	}
	return nil
}

// Action is what to do when a call arrives while another plays.
type Action struct {
	// Interrupt: stop the playing call and play the new one now.
	Interrupt bool
	// Requeue: put the interrupted call back at the head of the queue
	// (after the new one), to play again from its start.
	Requeue bool
}

// Decide says what to do when a call of level incoming arrives while one
// of level playing plays (playing is false when nothing plays). Only a
// higher level interrupts: calls of one level never cut each other off.
func Decide(playing bool, playingLevel, incoming Level, policy OnInterrupt) Action {
	if !playing || incoming <= playingLevel {
		return Action{}
	}
	return Action{Interrupt: true, Requeue: policy == Requeue}
}

// Rank is a queued call's place in the order: by level, then bumped ones
// first, then in order of arrival.
type Rank struct {
	Level  Level
	Bumped bool
}

func (r Rank) before(o Rank) bool {
	if r.Level != o.Level {
		return r.Level > o.Level
	}
	return r.Bumped && !o.Bumped
}

// Insert returns where in a queue (ranks of the waiting calls, next first)
// a call of rank r goes: after every call that goes before it or ties
// with it, before the rest.
func Insert(queue []Rank, r Rank) int {
	for i, q := range queue {
		if r.before(q) {
			return i
		}
	}
	return len(queue)
}
