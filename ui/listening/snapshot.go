package listening

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"earshot/relay/event"
	"earshot/ui/player"
)

// Snapshot is everything a view shows, at one moment: what is audible, the
// queue, the settings, the feed's state, the history and the talkgroups.
// The core builds a new one on every change and never modifies one it has
// published, so a view may keep it and read it from any goroutine. Views
// derive every word and colour they show from one snapshot (the methods
// below), so no two views can disagree.
type Snapshot struct {
	// Rev numbers the snapshots of one core: a later one has a larger Rev.
	Rev uint64 `json:"rev"`

	// The feed.
	Backend   string    `json:"backend"`          // event.State…
	Reason    string    `json:"reason,omitempty"` // why the backend is not connected, worded for people
	RetryAt   time.Time `json:"retryAt,omitzero"` // next connection attempt, while disconnected
	Problem   string    `json:"problem,omitempty"`
	Server    string    `json:"server,omitempty"`
	User      string    `json:"user,omitempty"`
	Listeners int       `json:"listeners,omitempty"` // while connected, as the server last said
	// SignedIn: an account (or a public server) is configured.
	SignedIn bool `json:"signedIn,omitempty"`
	// Demo: the relay plays the built-in demo server; DemoFlag: because
	// Earshot was started with --demo (not for want of an account).
	Demo     bool `json:"demo,omitempty"`
	DemoFlag bool `json:"demoFlag,omitempty"`

	// What is audible.
	Call  *event.Call `json:"call,omitempty"`
	Title string      `json:"title,omitempty"` // the playing call's talkgroup, from the current catalogue
	// Last is the call heard last (the playing one while one plays):
	// between calls the window shows it, and Hold and Avoid act on it, as
	// the OpenScanner listener's buttons do. LastTitle names its
	// talkgroup as Title does.
	Last          *event.Call   `json:"last,omitempty"`
	LastTitle     string        `json:"lastTitle,omitempty"`
	Replay        int           `json:"replay,omitempty"`
	Position      time.Duration `json:"position,omitempty"`
	Duration      time.Duration `json:"duration,omitempty"`
	Paused        bool          `json:"paused,omitempty"`
	Live          bool          `json:"live,omitempty"`
	Muted         bool          `json:"muted,omitempty"`
	Volume        float64       `json:"volume"`
	Queue         int           `json:"queue,omitempty"`
	Device        string        `json:"device,omitempty"`
	FFmpegMissing bool          `json:"ffmpegMissing,omitempty"`
	LastError     string        `json:"lastError,omitempty"`
	Filter        player.Filter `json:"filter"`
	// CatchUp is how far back calls missed during a drop are still
	// played when the feed comes back (0: never).
	CatchUp time.Duration `json:"catchUp"`

	// Lists; their revisions change only when they do, so a view (or the
	// window's channel) redraws or resends them only then.
	History    []HistoryEntry     `json:"-"`
	HistoryRev uint64             `json:"historyRev"`
	Directory  Directory          `json:"-"`
	DirRev     uint64             `json:"dirRev"`
	Notify     []player.Talkgroup `json:"notify,omitempty"`

	// What stands out: the settings in force (sent apart, when they
	// change), how quiet hours stand, and the latest alerted call.
	Settings    Settings   `json:"-"`
	SettingsRev uint64     `json:"settingsRev"`
	Quiet       QuietState `json:"quiet"`
	LastAlert   *AlertNote `json:"lastAlert,omitempty"`

	// Window says why the window program could not open a window when it
	// was last asked to ("" once one opened): the tray, which is all the
	// listener has then, says it.
	Window string `json:"window,omitempty"`
}

// HistoryEntry is one call of the history, newest first, with what became
// of it.
type HistoryEntry struct {
	Call event.Call `json:"call"`
	// Played: it was heard (started playing).
	Played bool `json:"played,omitempty"`
	// Held says why it went to the history only, not the live queue
	// ("from the server's history", "live is off", "talkgroup not
	// selected", …); "" when it was queued (or is older than this run).
	Held string `json:"held,omitempty"`
	// Problem says why it could not be played ("needs ffmpeg", …).
	Problem string `json:"problem,omitempty"`
	// Priority: a priority talkgroup's call, or one a priority alert rule
	// matched. Its alerts are Call.Alerts (late ones included).
	Priority bool `json:"priority,omitempty"`
	// Interrupted: a priority call cut it short.
	Interrupted bool `json:"interrupted,omitempty"`
}

// State is what the tray icon shows at a glance.
type State int

// States, in the order of the tray icons in assets/.
const (
	SignedOut State = iota
	Connecting
	Idle // live, feed up, nothing playing
	Playing
	Paused
	Problem
	Offline // the server cannot be reached; retrying
	LiveOff // feed up, live unticked, nothing playing
)

func (s State) String() string {
	return [...]string{"signed out", "connecting", "live", "playing", "paused", "problem", "server unreachable", "live off"}[s]
}

// State is the snapshot's state. Paused wins over everything but a
// sign-out or a broken sound device: a paused Earshot never looks live.
func (s *Snapshot) State() State {
	switch {
	case s.Backend == event.StateSignedOut:
		return SignedOut
	case s.Device != "", s.Backend == event.StateRejected:
		return Problem
	case s.Paused:
		return Paused
	case s.Call != nil:
		return Playing
	case s.Backend == event.StateDisconnected:
		return Offline
	case s.Backend == event.StateConnected && !s.Live:
		return LiveOff
	case s.Backend == event.StateConnected:
		return Idle
	}
	return Connecting
}

// ServerName is the server as people name it: its host, or "the demo
// server".
func (s *Snapshot) ServerName() string {
	if s.Demo {
		return "the built-in demo server"
	}
	if u, err := url.Parse(s.Server); err == nil && u.Host != "" {
		return u.Host + strings.TrimRight(u.Path, "/")
	}
	return s.Server
}

// Connection says, in words, how the feed stands when it is not simply up:
// "" while connected.
func (s *Snapshot) Connection() string {
	switch s.Backend {
	case event.StateConnected, "":
		return ""
	case event.StateConnecting:
		return "Connecting to " + s.ServerName() + "…"
	case event.StateSignedOut:
		return "Signed out: " + s.ServerName() + " no longer accepts the stored sign-in. Sign in again."
	case event.StateStopped:
		return "Not connected to " + s.ServerName() + "."
	case event.StateRejected:
		msg := s.ServerName() + " refused the connection"
		if s.Reason != "" {
			msg += " (" + s.Reason + ")"
		}
		return msg + "; trying again later."
	}
	msg := "Cannot reach " + s.ServerName()
	if s.Reason != "" {
		msg += ": " + s.Reason
	}
	if !s.RetryAt.IsZero() {
		msg += "; trying again at " + s.RetryAt.Local().Format("15:04:05")
	}
	return msg + "."
}

// Headline is the window's big line: the playing call's talkgroup, or what
// Earshot is doing instead.
func (s *Snapshot) Headline() string {
	if s.Call != nil {
		return s.Title
	}
	waiting := ""
	if s.Queue == 1 {
		waiting = " · 1 call waiting"
	} else if s.Queue > 1 {
		waiting = fmt.Sprintf(" · %d calls waiting", s.Queue)
	}
	switch s.State() {
	case SignedOut:
		return "Signed out"
	case Paused:
		return "Paused" + waiting
	case Offline:
		return "Cannot reach the server"
	case Connecting:
		return "Connecting…"
	case LiveOff:
		return "Live is off: new calls go to the history" + waiting
	case Problem:
		if s.Device != "" {
			return "No sound" + waiting
		}
		return "The server refused the connection"
	}
	return "Waiting for the next call…" + waiting
}

// StatusLine is the window's status line: the state, why, and where.
func (s *Snapshot) StatusLine() string {
	line := s.State().String()
	if c := s.Connection(); c != "" {
		line += " — " + c
	}
	if s.Problem != "" {
		line += " — " + s.Problem
	}
	if s.Connection() == "" {
		line += " · " + s.ServerName()
	}
	if s.Replay > 0 {
		line += fmt.Sprintf(" · replaying %d back", s.Replay)
	}
	if s.Quiet.Active {
		line += " · quiet hours"
	}
	return line
}

// QueueLine is the queue and listener count.
func (s *Snapshot) QueueLine() string {
	q := fmt.Sprintf("queue %d", s.Queue)
	if s.Listeners > 0 && s.Backend == event.StateConnected {
		q += fmt.Sprintf(" · %d listening", s.Listeners)
	}
	return q
}

// Tooltip is the tray's hover text: state, what plays, server, queue.
func (s *Snapshot) Tooltip() string {
	t := "Earshot — " + s.State().String()
	if s.Call != nil {
		t += ": " + s.Title
	}
	if c := s.Connection(); c != "" {
		t += "\n" + c
	} else {
		t += "\n" + s.ServerName()
	}
	if s.Problem != "" {
		t += "\n" + s.Problem
	}
	if s.Device != "" {
		t += "\n" + s.Device
	}
	if s.Window != "" {
		t += "\n" + s.Window
	}
	if q := s.QuietLine(); q != "" {
		t += "\n" + q
	}
	switch {
	case s.Paused && s.Queue > 0:
		t += fmt.Sprintf("\n%d waiting (paused)", s.Queue)
	default:
		t += fmt.Sprintf("\n%d in queue", s.Queue)
	}
	return t
}

// Holding reports whether a hold is in force.
func (s *Snapshot) Holding() bool { return s.Filter.Hold != nil }

// NotifyOn reports whether t is a "notify me" talkgroup.
func (s *Snapshot) NotifyOn(t player.Talkgroup) bool {
	for _, n := range s.Notify {
		if n == t {
			return true
		}
	}
	return false
}

// CallTitle names a call's talkgroup for menus and notifications, from the
// call's own labels (the core's Title prefers the current catalogue).
func CallTitle(c event.Call) string {
	switch {
	case c.TalkgroupLabel != "":
		return c.TalkgroupLabel
	case c.TalkgroupName != "":
		return c.TalkgroupName
	}
	return fmt.Sprintf("TG %d", c.TalkgroupID)
}

// FFmpegAdvice is the one clear message for a missing ffmpeg.
const FFmpegAdvice = "Some calls need ffmpeg to play (M4A/AAC, Ogg): install it (Debian: apt install ffmpeg)."
