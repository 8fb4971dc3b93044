package backend

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"earshot/relay/event"
)

// MaxFrameSize caps one WebSocket frame the session parses; a longer one
// is skipped (read through without being kept) and the connection carries
// on. Why 16 MiB: a 1.1 server's CAL carries the call's audio inline as
// base64 (4/3 of its size). Calls are 10–500 KB, so a typical CAL is under
// 700 KB; 16 MiB still takes a 12 MB call (many minutes of audio) whole,
// and bounds what one frame can make the session hold. A call frame that
// is skipped is not lost: the id gap it leaves makes the session fetch it
// from history. Frames above the hard limit (64 MiB, wsHardReadLimit) end
// the connection instead, so an endless frame cannot tie the reader up.
const MaxFrameSize = 16 << 20

// FrameKind says what a frame is.
type FrameKind int

// Frame kinds, named after the v1 types (legacy commands in comments).
const (
	FrameUnknown        FrameKind = iota
	FrameWelcome                  // connection.welcome / VER
	FrameConfig                   // scanner.config / CFG
	FrameCall                     // call.new / CAL
	FrameTranscript               // call.transcript / TRN
	FrameListenerCount            // listener.count / LSC
	FrameFeedMap                  // listener.feedMap.snapshot / LFM
	FrameSessionExpired           // session.expired / XPR
	FrameRejected                 // connection.rejected / MAX
)

// Frame is one parsed server frame, whichever framing it came in.
type Frame struct {
	Kind       FrameKind
	Type       string // the frame's own type or command, for logs
	Version    string // welcome
	Config     *Config
	Call       *event.Call // labels not yet resolved
	Transcript *event.Transcript
	Count      int    // listener count
	Reason     string // rejected
}

// Config is the part of scanner.config Earshot uses: display names.
type Config struct {
	Systems []ConfigSystem `json:"systems"`
}

// ConfigSystem is one system of the config.
type ConfigSystem struct {
	// Row is the server's own id of the system (its table row), which its
	// history search filters by; ID is the radio id calls carry.
	Row        RowID             `json:"id"`
	ID         int64             `json:"systemId"`
	Label      string            `json:"label"`
	LEDColor   string            `json:"ledColor"`
	Talkgroups []ConfigTalkgroup `json:"talkgroups"`
}

// ConfigTalkgroup is one talkgroup of a system.
type ConfigTalkgroup struct {
	Row      RowID  `json:"id"` // the server's own id, as ConfigSystem.Row
	ID       int64  `json:"talkgroupId"`
	Label    string `json:"label"`
	Name     string `json:"name"`
	Group    string `json:"group"`
	Tag      string `json:"tag"`
	LEDColor string `json:"ledColor"`
}

var legacyKinds = map[string]FrameKind{
	"VER": FrameWelcome, "CFG": FrameConfig, "CAL": FrameCall, "TRN": FrameTranscript,
	"LSC": FrameListenerCount, "LFM": FrameFeedMap, "XPR": FrameSessionExpired, "MAX": FrameRejected,
}

var v1Kinds = map[string]FrameKind{
	"connection.welcome": FrameWelcome, "scanner.config": FrameConfig, "call.new": FrameCall,
	"call.transcript": FrameTranscript, "listener.count": FrameListenerCount,
	"listener.feedMap.snapshot": FrameFeedMap, "session.expired": FrameSessionExpired,
	"connection.rejected": FrameRejected,
}

// ParseFrame parses a frame in either framing: a v1 JSON object with a
// "type", or a legacy [CMD, payload] array. Unknown types parse as
// FrameUnknown without error; malformed or oversized data is an error.
func ParseFrame(data []byte) (Frame, error) {
	if len(data) > MaxFrameSize {
		return Frame{}, fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", len(data), MaxFrameSize)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Frame{}, errors.New("empty frame")
	}
	switch data[0] {
	case '{':
		return parseV1(data)
	case '[':
		return parseLegacy(data)
	}
	return Frame{}, errors.New("frame is neither a JSON object nor a JSON array")
}

func parseV1(data []byte) (Frame, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return Frame{}, fmt.Errorf("malformed frame: %w", err)
	}
	var typ string
	if err := json.Unmarshal(m["type"], &typ); err != nil || typ == "" {
		return Frame{}, errors.New("frame has no type")
	}
	f := Frame{Kind: v1Kinds[typ], Type: typ}
	var err error
	switch f.Kind {
	case FrameWelcome:
		f.Version = stringField(m["version"])
	case FrameConfig:
		f.Config, err = parseConfig(m["config"])
	case FrameCall:
		f.Call, err = parseCall(m["call"])
	case FrameTranscript:
		f.Transcript, err = parseTranscript(data)
	case FrameListenerCount:
		f.Count = int(intField(m["count"]))
	case FrameRejected:
		f.Reason = stringField(m["reason"])
	}
	return f, err
}

func parseLegacy(data []byte) (Frame, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return Frame{}, fmt.Errorf("malformed frame: %w", err)
	}
	if len(arr) == 0 {
		return Frame{}, errors.New("empty frame array")
	}
	var cmd string
	if err := json.Unmarshal(arr[0], &cmd); err != nil || cmd == "" {
		return Frame{}, errors.New("frame array does not start with a command")
	}
	f := Frame{Kind: legacyKinds[cmd], Type: cmd}
	var payload json.RawMessage
	if len(arr) > 1 {
		payload = arr[1]
	}
	var err error
	switch f.Kind {
	case FrameWelcome:
		var v struct{ Version string }
		_ = json.Unmarshal(payload, &v)
		f.Version = v.Version
	case FrameConfig:
		f.Config, err = parseConfig(payload)
	case FrameCall:
		f.Call, err = parseCall(payload)
	case FrameTranscript:
		f.Transcript, err = parseTranscript(payload)
	case FrameListenerCount:
		f.Count = int(intField(payload))
	case FrameRejected:
		f.Reason = stringField(payload)
		if f.Reason == "" {
			f.Reason = "max_clients"
		}
	}
	return f, err
}

func parseConfig(raw json.RawMessage) (*Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("malformed scanner config: %w", err)
	}
	return &c, nil
}

// wireCall is a call as servers send it; numbers sometimes arrive as
// strings, so the loose fields are decoded by hand.
type wireCall struct {
	ID          json.RawMessage `json:"id"`
	AudioName   json.RawMessage `json:"audioName"`
	AudioType   json.RawMessage `json:"audioType"`
	DateTime    json.RawMessage `json:"dateTime"`
	Duration    json.RawMessage `json:"duration"`
	Frequency   json.RawMessage `json:"frequency"`
	SystemID    json.RawMessage `json:"systemId"`
	TalkgroupID json.RawMessage `json:"talkgroupId"`
	Source      json.RawMessage `json:"source"`
	TalkerAlias json.RawMessage `json:"talkerAlias"`
	Site        json.RawMessage `json:"site"`
	Channel     json.RawMessage `json:"channel"`
	Transcript  json.RawMessage `json:"transcript"`
	Audio       json.RawMessage `json:"audio"`
	// History rows carry labels themselves.
	SystemLabel    json.RawMessage `json:"systemLabel"`
	TalkgroupLabel json.RawMessage `json:"talkgroupLabel"`
	TalkgroupName  json.RawMessage `json:"talkgroupName"`
	TalkgroupGroup json.RawMessage `json:"talkgroupGroup"`
	TalkgroupTag   json.RawMessage `json:"talkgroupTag"`
}

func parseCall(raw json.RawMessage) (*event.Call, error) {
	var w wireCall
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("malformed call: %w", err)
	}
	c := &event.Call{
		ID:             intField(w.ID),
		AudioName:      stringField(w.AudioName),
		AudioType:      stringField(w.AudioType),
		DateTime:       dateField(w.DateTime),
		Duration:       floatField(w.Duration),
		Frequency:      intField(w.Frequency),
		SystemID:       intField(w.SystemID),
		TalkgroupID:    intField(w.TalkgroupID),
		Source:         intField(w.Source),
		TalkerAlias:    stringField(w.TalkerAlias),
		Site:           stringField(w.Site),
		Channel:        stringField(w.Channel),
		Transcript:     stringField(w.Transcript),
		SystemLabel:    stringField(w.SystemLabel),
		TalkgroupLabel: stringField(w.TalkgroupLabel),
		TalkgroupName:  stringField(w.TalkgroupName),
		TalkgroupGroup: stringField(w.TalkgroupGroup),
		TalkgroupTag:   stringField(w.TalkgroupTag),
	}
	if c.ID <= 0 {
		return nil, errors.New("call without a valid id")
	}
	if len(w.Audio) > 0 && string(w.Audio) != "null" {
		audio, err := inlineAudio(w.Audio)
		if err != nil {
			return nil, fmt.Errorf("call %d: %w", c.ID, err)
		}
		c.InlineAudio = audio
	}
	return c, nil
}

// inlineAudio decodes a 1.1 CAL's audio: a base64 string, or the
// {"type":"Buffer","data":[…]} shape Node-era servers used.
func inlineAudio(raw json.RawMessage) ([]byte, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("inline audio is not valid base64: %w", err)
		}
		return b, nil
	}
	var buf struct {
		Data []byte `json:"-"`
		Raw  []int  `json:"data"`
	}
	if err := json.Unmarshal(raw, &buf); err != nil {
		return nil, fmt.Errorf("inline audio has an unknown shape: %w", err)
	}
	out := make([]byte, len(buf.Raw))
	for i, v := range buf.Raw {
		if v < 0 || v > 255 {
			return nil, errors.New("inline audio buffer holds a value outside 0–255")
		}
		out[i] = byte(v)
	}
	return out, nil
}

func parseTranscript(raw json.RawMessage) (*event.Transcript, error) {
	var t struct {
		CallID json.RawMessage `json:"callId"`
		Text   json.RawMessage `json:"text"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("malformed transcript: %w", err)
	}
	tr := &event.Transcript{CallID: intField(t.CallID), Text: stringField(t.Text)}
	if tr.CallID <= 0 {
		return nil, errors.New("transcript without a call id")
	}
	return tr, nil
}

func stringField(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// RowID is a server row id in scanner.config. It never fails a config: a
// value that is not a number (or a numeric string) reads as 0, unknown.
type RowID int64

// UnmarshalJSON implements json.Unmarshaler.
func (r *RowID) UnmarshalJSON(b []byte) error {
	*r = RowID(max(intField(b), 0))
	return nil
}

func intField(raw json.RawMessage) int64 {
	if len(raw) == 0 {
		return 0
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(strings.TrimSpace(s))
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil && f >= -9e18 && f <= 9e18 {
		return int64(f)
	}
	return 0
}

func floatField(raw json.RawMessage) float64 {
	var n json.Number
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil {
		return 0
	}
	f, _ := n.Float64()
	return f
}

// dateField reads unix seconds (or milliseconds) or an RFC 3339 string.
func dateField(raw json.RawMessage) int64 {
	if n := intField(raw); n != 0 {
		if n > 1e12 { // milliseconds
			n /= 1000
		}
		return n
	}
	if t, err := time.Parse(time.RFC3339, stringField(raw)); err == nil {
		return t.Unix()
	}
	return 0
}
