package ui

import (
	"fmt"

	"fyne.io/fyne/v2"

	"earshot/relay/event"
)

// TrayState is what the tray icon shows at a glance.
type TrayState int

// Tray states.
const (
	TraySignedOut TrayState = iota
	TrayConnecting
	TrayIdle // live feed up, nothing playing
	TrayPlaying
	TrayPaused
	TrayError
)

func (s TrayState) String() string {
	return [...]string{"signed out", "connecting", "live", "playing", "paused", "problem"}[s]
}

// View is everything the tray (and the window's header) shows; the
// controller rebuilds it on every change.
type View struct {
	Backend   string // event.State…
	Reason    string // why the backend is not connected
	Server    string
	User      string
	SignedIn  bool // an account (or public server) is configured
	Call      *event.Call
	Paused    bool
	Live      bool
	Muted     bool
	Queue     int
	Device    string // audio device problem
	Listeners int
}

// TrayState derives the icon state from the view.
func (v View) TrayState() TrayState {
	switch {
	case v.Backend == event.StateSignedOut:
		return TraySignedOut
	case v.Device != "", v.Backend == event.StateRejected:
		return TrayError
	case v.Paused && v.Call != nil:
		return TrayPaused
	case v.Call != nil:
		return TrayPlaying
	case v.Backend == event.StateConnected:
		return TrayIdle
	}
	return TrayConnecting
}

// Tooltip is the tray's hover text: state, server, queue.
func (v View) Tooltip() string {
	s := "Earshot — " + v.TrayState().String()
	if v.Call != nil && !v.Paused {
		s += ": " + callTitle(*v.Call)
	}
	if v.Server != "" {
		s += "\n" + v.Server
	}
	s += fmt.Sprintf("\n%d in queue", v.Queue)
	return s
}

// Actions are what the tray menu's items do.
type Actions struct {
	OpenPlayer    func()
	ToggleLive    func()
	PauseResume   func()
	Skip          func()
	ToggleMute    func()
	HoldTalkgroup func()
	CopyStreamURL func()
	ManageTokens  func()
	SignIn        func()
	SignOut       func()
	Quit          func()
}

// TrayMenu builds the tray menu for v. It is a plain function so tests can
// read the items and trigger their actions directly.
func TrayMenu(v View, a Actions) *fyne.Menu {
	live := fyne.NewMenuItem("Live", a.ToggleLive)
	live.Checked = v.Live
	pause := fyne.NewMenuItem("Pause", a.PauseResume)
	if v.Paused {
		pause.Label = "Resume"
	}
	skip := fyne.NewMenuItem("Skip", a.Skip)
	skip.Disabled = v.Call == nil
	mute := fyne.NewMenuItem("Mute", a.ToggleMute)
	mute.Checked = v.Muted
	hold := fyne.NewMenuItem("Hold this talkgroup", a.HoldTalkgroup)
	hold.Disabled = v.Call == nil
	if v.Call != nil {
		hold.Label = "Hold " + callTitle(*v.Call)
	}
	account := fyne.NewMenuItem("Sign in…", a.SignIn)
	if v.SignedIn {
		account = fyne.NewMenuItem("Sign out", a.SignOut)
	}
	quit := fyne.NewMenuItem("Quit", a.Quit)
	quit.IsQuit = true
	return fyne.NewMenu("Earshot",
		fyne.NewMenuItem("Open player", a.OpenPlayer),
		fyne.NewMenuItemSeparator(),
		live, pause, skip, mute, hold,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Copy stream URL", a.CopyStreamURL),
		fyne.NewMenuItem("Manage tokens…", a.ManageTokens),
		account,
		fyne.NewMenuItemSeparator(),
		quit,
	)
}

// callTitle names a call's talkgroup for menus and notifications.
func callTitle(c event.Call) string {
	switch {
	case c.TalkgroupLabel != "":
		return c.TalkgroupLabel
	case c.TalkgroupName != "":
		return c.TalkgroupName
	}
	return fmt.Sprintf("TG %d", c.TalkgroupID)
}
