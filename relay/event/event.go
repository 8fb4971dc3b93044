// Package event defines the typed events the relay moves from the OpenScanner
// backend to its consumers (the loopback HTTP server and the desktop UI).
//
// It owns only plain data types and their JSON shape; it does no I/O and must
// not import any other relay package, so every part of the relay can share it.
package event

import (
	"encoding/json"
	"time"
)

// Types of Event, as they appear in the "type" field on the relay's /v1/live
// WebSocket. They mirror the OpenScanner v1 frame names.
const (
	TypeCall       = "call.new"
	TypeTranscript = "call.transcript"
	TypeStatus     = "status"
	// TypeCatalog carries the server's systems and talkgroups (from its
	// scanner.config) whenever they change, and once after the first
	// connect. The relay's Catalog method returns the latest one.
	TypeCatalog = "catalog"
	// TypeAlert says one of the listener's alert rules matched a call,
	// at the call or later when its transcript arrived. Each rule fires at
	// most once per call.
	TypeAlert = "call.alert"
	// TypeResync is sent to a consumer that fell behind instead of
	// dropping it: it continues with /v1/live?after=<After>.
	TypeResync = "resync"
	// TypeReset says everything a consumer held is void: the account
	// behind the relay changed (Reason ResetAccount) or the server's call
	// ids were reset (ResetServer). Reload from /v1/calls.
	TypeReset = "reset"
)

// Reasons of a TypeReset event.
const (
	ResetAccount = "account"
	ResetServer  = "server"
)

// Call is one radio call: the server's metadata with system and talkgroup
// labels resolved from the server's scanner.config. Field names and JSON tags
// follow the server's v1 history shape so local consumers see familiar data.
type Call struct {
	ID             int64   `json:"id"`
	DateTime       int64   `json:"dateTime"` // unix seconds, as the server sends it
	SystemID       int64   `json:"systemId"`
	SystemLabel    string  `json:"systemLabel,omitempty"`
	TalkgroupID    int64   `json:"talkgroupId"`
	TalkgroupLabel string  `json:"talkgroupLabel,omitempty"`
	TalkgroupName  string  `json:"talkgroupName,omitempty"`
	TalkgroupGroup string  `json:"talkgroupGroup,omitempty"`
	TalkgroupTag   string  `json:"talkgroupTag,omitempty"`
	LEDColor       string  `json:"ledColor,omitempty"`
	Frequency      int64   `json:"frequency,omitempty"`
	Duration       float64 `json:"duration,omitempty"` // seconds
	Source         int64   `json:"source,omitempty"`
	TalkerAlias    string  `json:"talkerAlias,omitempty"`
	Site           string  `json:"site,omitempty"`
	Channel        string  `json:"channel,omitempty"`
	AudioName      string  `json:"audioName,omitempty"`
	AudioType      string  `json:"audioType,omitempty"` // as the uploader declared it; often wrong
	Transcript     string  `json:"transcript,omitempty"`
	// Alerts are the alert rules that matched this call so far (the
	// relay adds them as they fire), so history can mark it.
	Alerts []Alert `json:"alerts,omitempty"`
	// AudioURL is the relay-local audio path ("/v1/calls/{id}/audio"), set by
	// the relay before the call reaches consumers.
	AudioURL string `json:"audioUrl,omitempty"`
	// Backfill marks a call that reached Earshot from the server's history
	// (after a connect or a drop) rather than as it happened: consumers
	// should not present it as live.
	Backfill bool `json:"backfill,omitempty"`

	// InlineAudio holds audio bytes a 1.1-and-older server sent inside the CAL
	// frame itself. The relay stores them in its cache and clears the field
	// before publishing; it never goes over the wire to consumers.
	InlineAudio []byte `json:"-"`
}

// Time returns the call's date and time.
func (c *Call) Time() time.Time { return time.Unix(c.DateTime, 0) }

// Transcript is the text of a call that arrives after the call itself.
type Transcript struct {
	CallID int64  `json:"callId"`
	Text   string `json:"text"`
}

// Alert is one alert rule matching one call.
type Alert struct {
	CallID int64  `json:"callId"`
	Rule   string `json:"rule"`
	// Words are the words or phrases of the transcript that matched, as
	// they appear there; empty for a rule on talkgroups only.
	Words []string `json:"words,omitempty"`
	// What the rule asks for: a tone before the call, the call moved to
	// the front of the queue, priority over other calls (it interrupts a
	// lower-priority call and passes quiet hours when the listener allows).
	Tone     bool `json:"tone,omitempty"`
	Bump     bool `json:"bump,omitempty"`
	Priority bool `json:"priority,omitempty"`
	// Backfill: the call came from the server's history (Call.Backfill),
	// not live — no reason to interrupt or beep for it now.
	Backfill bool `json:"backfill,omitempty"`
}

// Backend connection states reported in Status.State.
const (
	StateConnecting   = "connecting"   // dialling or signing in
	StateConnected    = "connected"    // live feed up
	StateDisconnected = "disconnected" // lost; retrying with backoff
	StateRejected     = "rejected"     // server refused the connection (e.g. max_clients); backing off longer
	StateSignedOut    = "signed_out"   // credentials refused: the user must sign in again; no retries
	StateStopped      = "stopped"      // the session was shut down
)

// Status describes the backend connection. It never carries secrets.
type Status struct {
	State  string    `json:"state"`
	Server string    `json:"server,omitempty"`
	User   string    `json:"user,omitempty"`
	Reason string    `json:"reason,omitempty"` // human-readable why, for disconnected/rejected/signed_out
	Since  time.Time `json:"since"`
	// RetryAt is when the next connection attempt is due, if one is scheduled.
	RetryAt time.Time `json:"retryAt,omitzero"`
	// Listeners is how many listeners the server reports connected
	// (its listener.count), when it says.
	Listeners int `json:"listeners,omitempty"`
	// Problem is something the user should know and act on while the feed
	// may still be working, e.g. that the keyring would not keep the
	// renewed sign-in (the next start would then ask to sign in again).
	// "" when all is well. Like Reason, it is worded for people.
	Problem string `json:"problem,omitempty"`
	// PasswordChange: the server asked, at sign-in, that the user change
	// the password in its web page (OpenScanner's passwordNeedChange, true
	// for accounts an admin created). The feed works meanwhile; Problem
	// words it too.
	PasswordChange bool `json:"passwordChange,omitempty"`
}

// Catalog is the server's list of systems and their talkgroups, as the
// account sees them (only granted systems), in the server's order. IDs are
// the radio ids, the same as Call.SystemID and Call.TalkgroupID. The zero
// Catalog means the server has not sent its configuration yet.
type Catalog struct {
	Systems []System `json:"systems"`
}

// System is one radio system of the catalog.
type System struct {
	ID         int64       `json:"systemId"`
	Label      string      `json:"label"`
	LEDColor   string      `json:"ledColor,omitempty"` // e.g. "red" or "#ff0000"; "" is the client's default
	Talkgroups []Talkgroup `json:"talkgroups"`
}

// Talkgroup is one talkgroup of a system.
type Talkgroup struct {
	ID    int64  `json:"talkgroupId"`
	Label string `json:"label"`          // short display name
	Name  string `json:"name,omitempty"` // long name
	Group string `json:"group,omitempty"`
	Tag   string `json:"tag,omitempty"`
	// LEDColor is the talkgroup's own colour; "" means it shows its
	// system's (System.LEDColor), as Call.LEDColor already does.
	LEDColor string `json:"ledColor,omitempty"`
}

// Clone returns a deep copy of c: changing it never changes c.
func (c Catalog) Clone() Catalog {
	if c.Systems == nil {
		return Catalog{}
	}
	out := Catalog{Systems: make([]System, len(c.Systems))}
	for i, sys := range c.Systems {
		sys.Talkgroups = append([]Talkgroup(nil), sys.Talkgroups...)
		out.Systems[i] = sys
	}
	return out
}

// Talkgroup looks up a talkgroup by its radio ids; system is its system.
func (c Catalog) Talkgroup(systemID, talkgroupID int64) (tg Talkgroup, system System, ok bool) {
	for _, sys := range c.Systems {
		if sys.ID != systemID {
			continue
		}
		for _, t := range sys.Talkgroups {
			if t.ID == talkgroupID {
				return t, sys, true
			}
		}
	}
	return Talkgroup{}, System{}, false
}

// Event is one item of the live feed. Exactly one of Call, Transcript,
// Status, Catalog and Alert is set, matching Type (none for TypeResync and
// TypeReset, which carry After and Reason). One Event value goes to every
// subscriber: read it, never modify what its pointers point to.
type Event struct {
	Type       string      `json:"type"`
	Call       *Call       `json:"call,omitempty"`
	Transcript *Transcript `json:"transcript,omitempty"`
	Status     *Status     `json:"status,omitempty"`
	Catalog    *Catalog    `json:"catalog,omitempty"`
	Alert      *Alert      `json:"-"` // flattened by MarshalJSON
	// After is the last call id a TypeResync consumer received.
	After int64 `json:"after,omitempty"`
	// Reason says why a TypeReset happened (ResetAccount, ResetServer).
	Reason string `json:"reason,omitempty"`
}

// MarshalJSON writes the event in the relay's wire shape, which follows the
// OpenScanner v1 frames: {"type":"call.new","call":{…}},
// {"type":"call.transcript","callId":…,"text":…},
// {"type":"status","status":{…}}, {"type":"catalog","catalog":{…}} and
// {"type":"call.alert","callId":…,"rule":…,"words":[…]}.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Type == TypeAlert && e.Alert != nil {
		return json.Marshal(struct {
			Type string `json:"type"`
			Alert
		}{e.Type, *e.Alert})
	}
	if e.Type == TypeTranscript && e.Transcript != nil {
		return json.Marshal(struct {
			Type   string `json:"type"`
			CallID int64  `json:"callId"`
			Text   string `json:"text"`
		}{e.Type, e.Transcript.CallID, e.Transcript.Text})
	}
	type plain Event // drops this method, so no recursion
	return json.Marshal(plain(e))
}
