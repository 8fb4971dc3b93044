// Package ui is Earshot's desktop interface: the tray icon and menu, the
// playback window, and the sign-in and token windows, built with Fyne.
//
// It owns presentation only. It reads the live feed through the relay's Go
// API (Feed), plays through the player (Player), signs in and manages tokens
// through the same operations as the command line (Accounts, TokenOps), and
// never talks to OpenScanner itself. Every UI change made from a goroutine
// goes through fyne.Do.
package ui

import (
	"context"
	"time"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/player"
)

// Feed is the relay core as the UI uses it (*relay.Relay implements it).
type Feed interface {
	Subscribe(queueLen int) *hub.Subscriber
	Calls(q relay.Query) []event.Call
	Status() relay.Report
	// Catalog is the server's systems and talkgroups (zero until the server
	// sent them); events of type event.TypeCatalog announce changes.
	Catalog() event.Catalog
}

// Player is the call player as the UI drives it (*player.Player
// implements it).
type Player interface {
	State() player.State
	Enqueue(c event.Call) bool
	Play(c event.Call)
	SetLive(on bool)
	TogglePause()
	Skip()
	Replay()
	SetVolume(v float64)
	SetMuted(m bool)
	ToggleMute()
	HoldTalkgroup(systemID, talkgroupID int64, until time.Time)
	HoldSystem(systemID int64, until time.Time)
	ReleaseHold()
	AvoidTalkgroup(systemID, talkgroupID int64, until time.Time)
	Unavoid(systemID, talkgroupID int64)
	SetSelection(tgs []player.Talkgroup)
	Filter() player.Filter
	// CallProblem says why a call could not be played ("needs ffmpeg",
	// …), or "" when it had none.
	CallProblem(id int64) string
}

var _ Player = (*player.Player)(nil)

// Accounts signs in and out, as `earshot login` and `earshot logout` do.
type Accounts interface {
	// Account is the configured server and user ("" when none).
	Account() (server, user string)
	// Probe tells whether server is an OpenScanner server with public
	// access.
	Probe(ctx context.Context, server string) (publicAccess bool, err error)
	// SignIn signs in (user "" for a public-access server) and keeps the
	// sign-in in the keyring.
	SignIn(ctx context.Context, server, user, password string, remember bool) error
	// SignOut revokes the session on the server and forgets the keyring items.
	SignOut(ctx context.Context) error
}

// TokenOps manages stream tokens, as `earshot token …` does.
type TokenOps interface {
	List(ctx context.Context) ([]tokens.Info, error)
	Create(ctx context.Context, name, scope string, ttl time.Duration) (string, tokens.Info, error)
	Revoke(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string, grace time.Duration) (string, tokens.Info, error)
	RotateAll(ctx context.Context, grace time.Duration) error
	// BaseURL is the relay's address, e.g. http://127.0.0.1:7373.
	BaseURL() string
}

// Prefs keeps the listener's settings across restarts.
type Prefs interface {
	// Load decodes the setting named key into v and reports whether one
	// was stored.
	Load(key string, v any) bool
	// Save stores v as the setting named key.
	Save(key string, v any)
}

// Preference keys.
const (
	prefLive      = "live"
	prefVolume    = "volume"
	prefMuted     = "muted"
	prefFilter    = "filter"
	prefNotify    = "notify"
	maxHistory    = 200
	notifyPerTGIn = time.Minute
)
