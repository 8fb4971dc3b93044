// Package ipc is the private channel between the resident Earshot process
// and the window process it starts: the child's standard input and output,
// inherited at start (no listening socket, no secret to exchange, and it
// works the same on Windows). Each message is one line of JSON, at most
// MaxMessage bytes.
//
// The resident pushes the listening core's snapshots (and the history and
// talkgroups when they change) and tells the window what to show; the
// window sends commands, each with a request id when it needs an answer
// (sign-in, tokens), and gets a reply with a typed error.
//
// It owns the message shapes, their framing and their validation: what
// arrives is untrusted until Decode accepted it. It must not import Fyne.
// Messages can carry secrets (a password on its way to sign in, a new
// stream token on its way to be shown once): nothing here logs a message.
package ipc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"earshot/relay/event"
	"earshot/relay/tokens"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// DebugEnv, set in the window process's environment, makes it log its
// debug lines too (the resident sets it when it runs with -v).
const DebugEnv = "EARSHOT_WINDOW_DEBUG"

// MaxMessage caps one message (a full history and a large catalogue fit
// many times over).
const MaxMessage = 16 << 20

// Message types, resident → window.
const (
	TypeSnapshot  = "snapshot"  // Snapshot
	TypeHistory   = "history"   // History, Rev
	TypeDirectory = "directory" // Directory, Rev
	TypeShow      = "show"      // Show: what to bring forward (Text with ShowStartup, ShowStreamURL)
	TypeReply     = "reply"     // ID, Error or the answer's fields
	TypeTokens    = "tokens"    // Tokens: the token list changed
	TypeSettings  = "settings"  // Settings, Rev: the settings in force changed
)

// Message types, window → resident.
const (
	TypeCommand = "command" // Command (and ID when it wants a reply)
)

// What TypeShow brings forward.
const (
	ShowPlayer  = "player"
	ShowSignIn  = "signin"
	ShowTokens  = "tokens"
	ShowStartup = "startup-error" // Text: why Earshot could not start
	// ShowStreamURL shows Text, the live feed's URL, with a Copy button:
	// what the tray's Copy stream URL does when no clipboard program can
	// keep the copy (ui/clipboard).
	ShowStreamURL = "stream-url"
)

// Commands a window sends.
const (
	CmdLive           = "live" // On
	CmdToggleLive     = "toggleLive"
	CmdTogglePause    = "togglePause"
	CmdSkip           = "skip"
	CmdReplay         = "replay"
	CmdPlay           = "play"   // Call
	CmdVolume         = "volume" // Volume, Save
	CmdMute           = "mute"   // On
	CmdToggleMute     = "toggleMute"
	CmdHoldTalkgroup  = "holdTalkgroup"
	CmdHoldSystem     = "holdSystem"
	CmdAvoid          = "avoid" // Seconds (0: until lifted)
	CmdLiftAvoids     = "liftAvoids"
	CmdSelection      = "selection" // Talkgroups
	CmdNotify         = "notify"    // Talkgroup, On
	CmdCatchUp        = "catchUp"   // Seconds
	CmdQuit           = "quit"      // quit Earshot itself
	CmdAccount        = "account"   // → Server, User: the account, or when none the one signed out of last
	CmdProbe          = "probe"     // Server → Public
	CmdSignIn         = "signIn"    // Server, User, Password, Remember
	CmdSignOut        = "signOut"
	CmdTokensList     = "tokens.list"      // → Tokens
	CmdTokensCreate   = "tokens.create"    // Name, Scope, Seconds → Token, Info
	CmdTokensRevoke   = "tokens.revoke"    // TokenID
	CmdTokensRotate   = "tokens.rotate"    // TokenID, Seconds (grace) → Token, Info
	CmdTokensRotateAl = "tokens.rotateAll" // Seconds (grace)
	CmdStreamURL      = "streamURL"        // → URL
	CmdBaseURL        = "baseURL"          // → URL
	CmdCopy           = "copy"             // Text: put on the desktop's clipboard, to stay after the window closes
	CmdAutostart      = "autostart"        // → On: Earshot starts when the user logs in
	CmdSetAutostart   = "autostart.set"    // On
	CmdShown          = "shown"            // Show: the window asked for is on screen
	CmdClosing        = "closing"          // the last window closed: the window process is ending
	CmdSettings       = "settings"         // Change: one edit of the settings (an error reply says why it was refused)
	CmdPauseQuiet     = "pauseQuiet"       // Seconds: pause quiet hours for that long (0 resumes them)
	// CmdCannotShow: the window process cannot open a window (no display,
	// the graphics library failed to start) and is ending; Text says why,
	// worded for the listener. It shows nothing asked of it.
	CmdCannotShow = "cannotShow"
)

// ExitCannotShow is the window process's exit status when it could not open
// a window (it said why on its channel and its standard error): the
// resident tells the listener and does not start it again until a window
// is asked for again.
const ExitCannotShow = 3

// CannotOpen starts every reason a CmdCannotShow gives.
const CannotOpen = "Earshot cannot open a window: "

// DisplayRefused is in a CmdCannotShow's reason when the display answered
// and still refused the window: an X server can turn a client away for a
// moment (seen right after another client of it was killed), so the
// resident asks once more before telling the listener.
const DisplayRefused = "did not let it"

// MaxReason caps the text of a CmdCannotShow.
const MaxReason = 1024

// Message is one message either way. Which fields are set depends on Type
// (and Command).
type Message struct {
	Type string `json:"type"`
	ID   uint64 `json:"id,omitempty"`

	Snapshot  *listening.Snapshot      `json:"snapshot,omitempty"`
	History   []listening.HistoryEntry `json:"history,omitempty"`
	Directory *listening.Directory     `json:"directory,omitempty"`
	Settings  *listening.Settings      `json:"settings,omitempty"`
	Rev       uint64                   `json:"rev,omitempty"`
	Show      string                   `json:"show,omitempty"`
	Text      string                   `json:"text,omitempty"`

	Command    string             `json:"command,omitempty"`
	On         bool               `json:"on,omitempty"`
	Call       int64              `json:"call,omitempty"`
	Volume     float64            `json:"volume,omitempty"`
	Save       bool               `json:"save,omitempty"`
	Seconds    float64            `json:"seconds,omitempty"`
	Talkgroups []player.Talkgroup `json:"talkgroups,omitempty"`
	Talkgroup  *player.Talkgroup  `json:"talkgroup,omitempty"`
	Server     string             `json:"server,omitempty"`
	User       string             `json:"user,omitempty"`
	Password   string             `json:"password,omitempty"`
	Remember   bool               `json:"remember,omitempty"`
	Name       string             `json:"name,omitempty"`
	Scope      string             `json:"scope,omitempty"`
	TokenID    string             `json:"tokenId,omitempty"`
	Change     *listening.Change  `json:"change,omitempty"`

	Error  *Error        `json:"error,omitempty"`
	Public bool          `json:"public,omitempty"`
	Token  string        `json:"token,omitempty"`
	Info   *tokens.Info  `json:"info,omitempty"`
	Tokens []tokens.Info `json:"tokens,omitempty"`
	URL    string        `json:"url,omitempty"`

	// Past calls (past.go).
	Search   *Search       `json:"search,omitempty"`
	Calls    []event.Call  `json:"calls,omitempty"`
	Next     string        `json:"next,omitempty"`
	Path     string        `json:"path,omitempty"`
	Request  uint64        `json:"request,omitempty"`
	Progress *Progress     `json:"progress,omitempty"`
	Export   *ExportResult `json:"export,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
}

// Kinds of Error: what went wrong, so a window can act on it without
// knowing the relay's packages.
const (
	KindCredentials    = "credentials"     // the server refused the user name or password
	KindRateLimited    = "rate_limited"    // too many failed sign-ins: wait
	KindNotOpenScanner = "not_openscanner" // the address is not an OpenScanner server
	KindTLSUntrusted   = "tls_untrusted"
	KindNotHTTPS       = "not_https"
	KindUnreachable    = "unreachable"
	KindNeedsAccount   = "needs_account" // no public access: a user name is needed
	KindNotFound       = "not_found"
	KindInvalid        = "invalid"
	KindUnavailable    = "unavailable" // the resident cannot do it now
	KindOther          = "other"
)

// Error is a failed request, worded for the person at the window.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// IsKind reports whether err is an *Error of that kind.
func IsKind(err error, kind string) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

// Bounds on what a message may hold.
const (
	maxText       = 64 << 10
	maxField      = 4096
	maxTalkgroups = 100000
	maxSeconds    = 366 * 24 * 3600
)

// ErrTooLong means a message was longer than MaxMessage.
var ErrTooLong = errors.New("ipc: message too long")

// Decode parses and validates one message.
func Decode(line []byte) (Message, error) {
	if len(line) > MaxMessage {
		return Message{}, ErrTooLong
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return Message{}, fmt.Errorf("ipc: not a message: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Validate checks a message's type and bounds.
func (m *Message) Validate() error {
	bad := func(what string) error { return fmt.Errorf("ipc: %s message: %s", m.Type, what) }
	for _, s := range []string{m.Server, m.User, m.Password, m.Name, m.Scope, m.TokenID, m.Show, m.Command, m.URL, m.Token, m.Path, m.Next} {
		if len(s) > maxField {
			return bad("a field is too long")
		}
	}
	if len(m.Text) > maxText {
		return bad("text too long")
	}
	if len(m.Talkgroups) > maxTalkgroups || len(m.History) > listening.MaxHistory {
		return bad("too many items")
	}
	if m.Seconds < 0 || m.Seconds > maxSeconds || m.Seconds != m.Seconds {
		return bad("seconds out of range")
	}
	switch m.Type {
	case TypeSnapshot:
		if m.Snapshot == nil {
			return bad("no snapshot")
		}
		if v := m.Snapshot.Volume; v < 0 || v > 1 || v != v {
			return bad("volume out of range")
		}
	case TypeHistory, TypeTokens, TypeProgress:
	case TypeReply:
		return m.validateReplyCalls()
	case TypeDirectory:
		if m.Directory == nil {
			return bad("no directory")
		}
	case TypeSettings:
		if m.Settings == nil {
			return bad("no settings")
		}
		if err := m.Settings.Validate(); err != nil {
			return bad(err.Error())
		}
	case TypeShow:
		switch m.Show {
		case ShowPlayer, ShowSignIn, ShowTokens, ShowStartup:
		case ShowStreamURL:
			if m.Text == "" {
				return bad("no URL")
			}
		default:
			return bad("unknown window")
		}
	case TypeCommand:
		return m.validateCommand()
	default:
		return fmt.Errorf("ipc: unknown message type %q", m.Type)
	}
	return nil
}

func (m *Message) validateCommand() error {
	bad := func(what string) error { return fmt.Errorf("ipc: command %q: %s", m.Command, what) }
	switch m.Command {
	case CmdLive, CmdToggleLive, CmdTogglePause, CmdSkip, CmdReplay, CmdMute, CmdToggleMute, CmdHoldTalkgroup,
		CmdHoldSystem, CmdAvoid, CmdLiftAvoids, CmdSelection, CmdCatchUp, CmdQuit, CmdAccount, CmdSignOut,
		CmdTokensList, CmdTokensRotateAl, CmdStreamURL, CmdBaseURL, CmdClosing, CmdAutostart, CmdSetAutostart,
		CmdPauseQuiet:
	case CmdPlay:
		if m.Call <= 0 {
			return bad("no call")
		}
	case CmdVolume:
		if m.Volume < 0 || m.Volume > 1 || m.Volume != m.Volume {
			return bad("volume out of range")
		}
	case CmdNotify:
		if m.Talkgroup == nil {
			return bad("no talkgroup")
		}
	case CmdProbe, CmdSignIn:
		if m.Server == "" {
			return bad("no server")
		}
	case CmdTokensCreate:
		if m.Name == "" || m.Scope == "" {
			return bad("a name and a scope are needed")
		}
	case CmdTokensRevoke, CmdTokensRotate:
		if m.TokenID == "" {
			return bad("no token id")
		}
	case CmdCopy:
		if m.Text == "" {
			return bad("nothing to copy")
		}
	case CmdShown:
		if m.Show == "" {
			return bad("no window")
		}
	case CmdCannotShow:
		if m.Text == "" || len(m.Text) > MaxReason {
			return bad(fmt.Sprintf("the reason must be 1 to %d bytes", MaxReason))
		}
	case CmdSettings:
		if m.Change == nil {
			return bad("no change")
		}
		if err := m.Change.Check(); err != nil {
			return bad(err.Error())
		}
	default:
		if ok, err := m.validatePast(); ok {
			return err
		}
		return bad("unknown command")
	}
	return nil
}

// Duration is Seconds as a duration.
func (m *Message) Duration() time.Duration {
	return time.Duration(m.Seconds * float64(time.Second))
}

// Conn is one end of the channel: Send writes messages (safe from any
// goroutine), Receive reads them (from one goroutine).
type Conn struct {
	r *bufio.Reader
	w io.Writer

	mu sync.Mutex // serializes Send
}

// NewConn makes a channel end reading r and writing w.
func NewConn(r io.Reader, w io.Writer) *Conn {
	return &Conn{r: bufio.NewReaderSize(r, 64<<10), w: w}
}

// Send writes one message.
func (c *Conn) Send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("ipc: encode a %s message: %w", m.Type, err)
	}
	if len(b) > MaxMessage {
		return ErrTooLong
	}
	b = append(b, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.w.Write(b)
	return err
}

// Receive reads and validates the next message. A message that is too
// long or invalid is an error: the channel's other end is broken (or not
// Earshot), and the caller ends the channel.
func (c *Conn) Receive() (Message, error) {
	var line []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxMessage+1 {
			return Message{}, ErrTooLong
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return Message{}, err
	}
	return Decode(line[:len(line)-1])
}
