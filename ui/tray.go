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
	Problem   string // something to act on while the feed runs (event.Status.Problem)
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
	Demo      bool // the relay plays the built-in demo server
	Holding   bool // a hold (talkgroup or system) is in force
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
	switch {
	case v.Demo: // its address is a throwaway loopback port: name it instead
		s += "\nthe built-in demo server"
	case v.Server != "":
		s += "\n" + v.Server
	}
	if v.Problem != "" {
		s += "\n" + v.Problem
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
	t := newTrayMenu(a)
	t.show(v)
	return t.menu
}

// trayModel is what the tray menu shows of a View.
type trayModel struct {
	Live, Paused, Muted, Playing, Holding, SignedIn bool
	Title                                           string // the playing call's talkgroup
}

func trayModelOf(v View) trayModel {
	m := trayModel{Live: v.Live, Paused: v.Paused, Muted: v.Muted, Playing: v.Call != nil, Holding: v.Holding, SignedIn: v.SignedIn}
	if v.Call != nil {
		m.Title = callTitle(*v.Call)
	}
	return m
}

// trayMenu is the tray's menu, built once; show updates its items in
// place.
type trayMenu struct {
	menu                                   *fyne.Menu
	live, pause, skip, mute, hold, account *fyne.MenuItem
	a                                      Actions
	shown                                  trayModel
	valid                                  bool // shown is what the items say
}

func newTrayMenu(a Actions) *trayMenu {
	t := &trayMenu{a: a,
		live: fyne.NewMenuItem("Live", a.ToggleLive), pause: fyne.NewMenuItem("Pause", a.PauseResume),
		skip: fyne.NewMenuItem("Skip", a.Skip), mute: fyne.NewMenuItem("Mute", a.ToggleMute),
		hold: fyne.NewMenuItem("Hold this talkgroup", a.HoldTalkgroup), account: fyne.NewMenuItem("Sign in…", a.SignIn),
	}
	quit := fyne.NewMenuItem("Quit", a.Quit)
	quit.IsQuit = true
	t.menu = fyne.NewMenu("Earshot",
		fyne.NewMenuItem("Open player", a.OpenPlayer),
		fyne.NewMenuItemSeparator(),
		t.live, t.pause, t.skip, t.mute, t.hold,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Copy stream URL", a.CopyStreamURL),
		fyne.NewMenuItem("Manage tokens…", a.ManageTokens),
		t.account,
		fyne.NewMenuItemSeparator(),
		quit,
	)
	return t
}

// show makes the items say what v shows and reports whether that changed
// anything (the menu then needs refreshing).
func (t *trayMenu) show(v View) bool {
	m := trayModelOf(v)
	if t.valid && m == t.shown {
		return false
	}
	t.shown, t.valid = m, true
	t.live.Checked = m.Live
	t.pause.Label = "Pause"
	if m.Paused {
		t.pause.Label = "Resume"
	}
	t.skip.Disabled = !m.Playing
	t.mute.Checked = m.Muted
	switch {
	case m.Holding:
		t.hold.Label = "Release hold"
	case m.Playing:
		t.hold.Label = "Hold " + m.Title
	default:
		t.hold.Label = "Hold this talkgroup"
	}
	t.hold.Disabled = !m.Playing && !m.Holding
	if m.SignedIn {
		t.account.Label, t.account.Action = "Sign out", t.a.SignOut
	} else {
		t.account.Label, t.account.Action = "Sign in…", t.a.SignIn
	}
	return true
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
