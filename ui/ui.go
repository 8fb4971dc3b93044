// Package ui is Earshot's windows: the playback window, sign-in and stream
// tokens, built with Fyne. They run in the window process, which the
// resident Earshot process starts when a window is opened and which ends
// when the last window closes.
//
// It owns presentation only. Everything it shows comes from the listening
// core's snapshots (Core; in the window process, the resident's core over
// the private channel of ui/ipc); every button sends a command. It never
// talks to the relay, the player or OpenScanner itself, and it holds no
// listening state. Every UI change made from a goroutine goes through
// fyne.Do (Controller.onUI).
package ui

import (
	"context"
	"time"

	"earshot/relay/tokens"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// Core is the listening core as the windows use it: its snapshots and its
// commands. *listening.Core and *ipc.Client implement it.
type Core interface {
	Snapshot() *listening.Snapshot
	Watch() (<-chan struct{}, func())
	SetLive(on bool)
	ToggleLive()
	TogglePause()
	Skip()
	Replay()
	Play(id int64) error
	SetVolume(v float64, save bool)
	SetMuted(m bool)
	ToggleMute()
	ToggleHoldTalkgroup()
	ToggleHoldSystem()
	AvoidPlaying(d time.Duration)
	LiftAvoids()
	SetSelection(tgs []player.Talkgroup)
	SetNotify(t player.Talkgroup, on bool)
	SetCatchUp(d time.Duration)
	// ChangeSettings makes one edit of the settings (alert rules,
	// priority, volumes, quiet hours, …); its error says why it was
	// refused, in the settings' own words.
	ChangeSettings(ctx context.Context, ch listening.Change) error
	// PauseQuietHours pauses quiet hours for d (0 resumes them).
	PauseQuietHours(d time.Duration)
}

var (
	_ Core = (*listening.Core)(nil)
	_ Core = (*ipc.Client)(nil)
)

// Accounts signs in and out (ipc.Accounts; *ipc.Client implements it).
type Accounts = ipc.Accounts

// TokenOps is token administration plus the relay's address for the URLs
// a new token is shown with.
type TokenOps interface {
	tokens.Admin
	// BaseURL is the relay's address, e.g. http://127.0.0.1:7373.
	BaseURL() string
}

var _ TokenOps = (*ipc.Client)(nil)

// StreamURLFunc returns a ready live-feed URL with a listen token.
type StreamURLFunc func(ctx context.Context) (string, error)
