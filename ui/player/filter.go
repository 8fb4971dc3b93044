package player

import "earshot/relay/filter"

// The filter rules live in relay/filter, where the relay's continuous
// stream follows them too; these names keep the player's API as it was.

// Talkgroup names one talkgroup of one system (filter.Talkgroup).
type Talkgroup = filter.Talkgroup

// Hold lets only one talkgroup's (or one system's) calls through.
type Hold = filter.Hold

// Avoid keeps one talkgroup's (or system's) calls out.
type Avoid = filter.Avoid

// Filter decides which live calls are queued for playing (filter.Filter).
type Filter = filter.Filter

// Reasons Filter.Reason gives for keeping a call out.
const (
	ReasonAvoided     = filter.ReasonAvoided
	ReasonNotHeld     = filter.ReasonNotHeld
	ReasonNotSelected = filter.ReasonNotSelected
)
