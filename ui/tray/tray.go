// Package tray is Earshot's tray icon, tooltip and menu, drawn by the
// desktop's StatusNotifier host through fyne.io/systray directly (no Fyne
// driver, no GL: the resident process runs it). It renders the listening
// core's snapshots — the icon's colour, the tooltip and the menu's items
// are set only when what they show changed — and turns menu clicks into
// actions.
//
// It owns the tray's presentation only; it must not import Fyne.
package tray

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"

	"fyne.io/systray"

	"earshot/ui/listening"
)

// Actions are what the menu's items do.
type Actions struct {
	OpenPlayer    func()
	ToggleLive    func()
	PauseResume   func()
	Skip          func()
	ToggleMute    func()
	HoldTalkgroup func()
	// PlayCall plays a call of the history now (the latest alert's).
	PlayCall func(id int64)
	// PauseQuiet pauses quiet hours for d (0 resumes them).
	PauseQuiet    func(d time.Duration)
	CopyStreamURL func()
	ManageTokens  func()
	SignIn        func()
	SignOut       func()
	Quit          func()
	// Problem tells the user an action failed (a desktop notification);
	// nil says nothing.
	Problem func(title, body string)
	// Autostart reads and sets "Start Earshot when I log in" (the
	// desktop's log-in entry, app/autostart); nil leaves the item out.
	Autostart *Autostart
}

// Autostart is a setting the tray shows as a check item.
type Autostart struct {
	On  func() (bool, error)
	Set func(on bool) error
}

// Item is one menu item as the tray changes it.
type Item interface {
	SetTitle(string)
	Check()
	Uncheck()
	Enable()
	Disable()
	Clicked() <-chan struct{}
}

// Host is the StatusNotifier item: fyne.io/systray in the resident, a
// recorder in tests.
type Host interface {
	SetIcon(png []byte)
	SetTooltip(text string)
	AddItem(title string, checkable, checked bool) Item
	AddSeparator()
}

// model is what the menu shows of a snapshot.
type model struct {
	Live, Paused, Muted, Playing, Holding, SignedIn bool
	Title                                           string
	// The latest alert ("" and 0: none yet).
	Alert   string
	AlertID int64
	// Quiet hours: scheduled (there is something to pause), paused.
	QuietScheduled, QuietPaused bool
}

func modelOf(s *listening.Snapshot) model {
	m := model{Live: s.Live, Paused: s.Paused, Muted: s.Muted, Playing: s.Call != nil, Holding: s.Holding(), SignedIn: s.SignedIn,
		QuietScheduled: s.Quiet.Scheduled, QuietPaused: !s.Quiet.PausedUntil.IsZero()}
	if s.Call != nil {
		m.Title = s.Title
	}
	if a := s.LastAlert; a != nil {
		m.AlertID = a.CallID
		m.Alert = "Replay alert: " + strings.Join(a.Rules, ", ") + " — " + a.Title + " " + a.Time.Local().Format("15:04")
	}
	return m
}

// Tray is the menu built once; Show updates it in place.
type Tray struct {
	host  Host
	a     Actions
	items struct {
		open, live, pause, skip, mute, hold, alert, quiet, copy, tokens, autostart, account, quit Item
	}

	mu    sync.Mutex
	shown model
	valid bool
	icon  string // key of the icon shown
	tip   string
	icons map[string][]byte
	sets  uint64 // icon and tooltip sets so far (settle)
}

// New builds the menu on host.
func New(host Host, a Actions) *Tray {
	t := &Tray{host: host, a: a, icons: map[string][]byte{}}
	it := &t.items
	it.open = host.AddItem("Open player", false, false)
	host.AddSeparator()
	it.live = host.AddItem("Live", true, false)
	it.pause = host.AddItem("Pause", false, false)
	it.skip = host.AddItem("Skip", false, false)
	it.mute = host.AddItem("Mute", true, false)
	it.hold = host.AddItem("Hold this talkgroup", false, false)
	it.alert = host.AddItem(noAlert, false, false)
	host.AddSeparator()
	it.quiet = host.AddItem(quietOff, false, false)
	host.AddSeparator()
	it.copy = host.AddItem("Copy stream URL", false, false)
	it.tokens = host.AddItem("Manage tokens…", false, false)
	it.account = host.AddItem("Sign in…", false, false)
	host.AddSeparator()
	if a.Autostart != nil {
		it.autostart = host.AddItem("Start Earshot when I log in", true, false)
	}
	it.quit = host.AddItem("Quit", false, false)
	return t
}

// Titles of the items that say what there is not.
const (
	noAlert  = "No alerts yet"
	quietOff = "Quiet hours are off"
)

// Show makes the icon, tooltip and items say what s shows, touching only
// what changed: a playing call's position ticks several times a second,
// and every change is a D-Bus signal the panel acts on.
func (t *Tray) Show(s *listening.Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if key, icon := iconFor(s, t.icons); key != t.icon {
		t.icon = key
		t.host.SetIcon(icon)
		t.sets++
	}
	if tip := s.Tooltip(); tip != t.tip {
		t.tip = tip
		t.host.SetTooltip(tip)
		t.sets++
	}
	m := modelOf(s)
	old, first := t.shown, !t.valid
	if !first && m == old {
		return
	}
	t.shown, t.valid = m, true
	it := &t.items
	if first || m.Live != old.Live {
		check(it.live, m.Live)
	}
	if first || m.Paused != old.Paused {
		if m.Paused {
			it.pause.SetTitle("Resume")
		} else {
			it.pause.SetTitle("Pause")
		}
	}
	if first || m.Playing != old.Playing {
		enable(it.skip, m.Playing)
	}
	if first || m.Muted != old.Muted {
		check(it.mute, m.Muted)
	}
	if first || m.Holding != old.Holding || m.Playing != old.Playing || m.Title != old.Title {
		switch {
		case m.Holding:
			it.hold.SetTitle("Release hold")
		case m.Playing:
			it.hold.SetTitle("Hold " + m.Title)
		default:
			it.hold.SetTitle("Hold this talkgroup")
		}
		enable(it.hold, m.Playing || m.Holding)
	}
	if first || m.SignedIn != old.SignedIn {
		if m.SignedIn {
			it.account.SetTitle("Sign out")
		} else {
			it.account.SetTitle("Sign in…")
		}
	}
	if first || m.Alert != old.Alert {
		if m.Alert == "" {
			it.alert.SetTitle(noAlert)
		} else {
			it.alert.SetTitle(m.Alert)
		}
		enable(it.alert, m.Alert != "")
	}
	if first || m.QuietScheduled != old.QuietScheduled || m.QuietPaused != old.QuietPaused {
		switch {
		case m.QuietPaused:
			it.quiet.SetTitle("Resume quiet hours")
		case m.QuietScheduled:
			it.quiet.SetTitle("Pause quiet hours for an hour")
		default:
			it.quiet.SetTitle(quietOff)
		}
		enable(it.quiet, m.QuietPaused || m.QuietScheduled)
	}
}

// shownIconTooltip is the tooltip and icon Show last set (false: none
// yet), and how many sets there have been: the host's own copy may be
// compared with them only while that number stays the same.
func (t *Tray) shownIconTooltip() (tip string, icon []byte, sets uint64, shown bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tip, t.icons[t.icon], t.sets, t.icon != ""
}

// reassert sets the icon and tooltip shown again, for a host that may have
// lost them (settle).
func (t *Tray) reassert() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.icon == "" {
		return
	}
	t.host.SetIcon(t.icons[t.icon])
	t.host.SetTooltip(t.tip)
	t.sets += 2
}

// showAutostart ticks the autostart item as the log-in entry stands (the
// entry is the truth: `earshot autostart` may change it too).
func (t *Tray) showAutostart() {
	on, err := t.a.Autostart.On()
	check(t.items.autostart, err == nil && on)
}

func check(i Item, on bool) {
	if on {
		i.Check()
	} else {
		i.Uncheck()
	}
}

func enable(i Item, on bool) {
	if on {
		i.Enable()
	} else {
		i.Disable()
	}
}

// Watcher is the listening core as the tray follows it.
type Watcher interface {
	Snapshot() *listening.Snapshot
	listening.Watchable
}

// Follow shows the core's snapshots and runs the items' actions until ctx
// ends.
func (t *Tray) Follow(ctx context.Context, core Watcher) {
	var wg sync.WaitGroup
	defer wg.Wait()
	it := &t.items
	click := func(i Item, f func()) {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-i.Clicked():
					if f != nil {
						f()
					}
				}
			}
		})
	}
	click(it.open, t.a.OpenPlayer)
	click(it.live, t.a.ToggleLive)
	click(it.pause, t.a.PauseResume)
	click(it.skip, t.a.Skip)
	click(it.mute, t.a.ToggleMute)
	click(it.hold, t.a.HoldTalkgroup)
	click(it.alert, func() {
		t.mu.Lock()
		id := t.shown.AlertID
		t.mu.Unlock()
		if id != 0 && t.a.PlayCall != nil {
			t.a.PlayCall(id)
		}
	})
	click(it.quiet, func() {
		t.mu.Lock()
		paused := t.shown.QuietPaused
		t.mu.Unlock()
		if t.a.PauseQuiet == nil {
			return
		}
		if paused {
			t.a.PauseQuiet(0)
		} else {
			t.a.PauseQuiet(listening.QuietPause)
		}
	})
	click(it.copy, t.a.CopyStreamURL)
	click(it.tokens, t.a.ManageTokens)
	click(it.account, func() {
		t.mu.Lock()
		signedIn := t.shown.SignedIn
		t.mu.Unlock()
		if signedIn {
			t.a.SignOut()
		} else {
			t.a.SignIn()
		}
	})
	click(it.quit, t.a.Quit)
	if as := t.a.Autostart; as != nil {
		t.showAutostart()
		click(it.autostart, func() {
			on, err := as.On()
			if err == nil {
				err = as.Set(!on)
			}
			if err != nil && t.a.Problem != nil {
				t.a.Problem("Earshot could not change “Start Earshot when I log in”", err.Error())
			}
			t.showAutostart()
		})
	}
	listening.Follow(ctx, core, func() { t.Show(core.Snapshot()) })
}

// windowsTooltipUnits is what Windows keeps of a tray tooltip:
// NOTIFYICONDATA's szTip holds 128 UTF-16 units with the terminating NUL.
const windowsTooltipUnits = 127

// hostTooltip is a tooltip as the tray of goos takes it. fyne.io/systray
// on Windows copies the text into szTip without a bound: a longer one lost
// its terminating NUL, and one with a NUL in it (a server's label) was
// refused, leaving the old tooltip up. There it is cut to fit, with "…",
// and NULs are dropped; the others take it as it is.
func hostTooltip(goos, s string) string {
	if goos != "windows" {
		return s
	}
	return clipUTF16(s, windowsTooltipUnits)
}

// Systray is the Host of the real tray (fyne.io/systray). Its functions
// may be called only between Run's start and its end.
type Systray struct{}

func (Systray) SetIcon(png []byte)  { systray.SetIcon(hostIcon(runtime.GOOS, png)) }
func (Systray) SetTooltip(s string) { systray.SetTooltip(hostTooltip(runtime.GOOS, s)) }
func (Systray) AddSeparator()       { systray.AddSeparator() }
func (Systray) AddItem(title string, checkable, checked bool) Item {
	title = hostMenuTitle(runtime.GOOS, title)
	if checkable {
		return systrayItem{systray.AddMenuItemCheckbox(title, "", checked)}
	}
	return systrayItem{systray.AddMenuItem(title, "")}
}

type systrayItem struct{ *systray.MenuItem }

func (i systrayItem) SetTitle(s string) { i.MenuItem.SetTitle(hostMenuTitle(runtime.GOOS, s)) }

// hostMenuTitle is a menu item's text as the tray of goos shows it
// literally. Titles carry the server's talkgroup names ("Hold Fire & EMS",
// "Hold FD_DISPATCH"): Windows' menus take "&" for an access key's mark
// and a tab for the start of a shortcut column, and fyne.io/systray there
// refuses text with a NUL (the item kept its old title); dbusmenu (Linux,
// the BSDs) takes "_" for the mark. macOS shows text as it is.
func hostMenuTitle(goos, s string) string {
	switch goos {
	case "windows":
		return strings.NewReplacer("&", "&&", "\t", " ", "\x00", "").Replace(s)
	case "darwin":
		return s
	}
	return strings.ReplaceAll(s, "_", "__")
}

func (i systrayItem) Clicked() <-chan struct{} { return i.ClickedCh }

// trayTitle is the item's title (the name panels list it under).
const trayTitle = "Earshot"

// Run shows the tray, follows core's snapshots and runs the menu's
// actions until ctx ends. It runs fyne.io/systray's own loop on the calling
// goroutine, which on Windows and macOS must be the main one (the one the
// package locked to its thread at start). Call it once per process, and on
// Linux only with a session bus: fyne.io/systray panics at its end without
// one.
func Run(ctx context.Context, a Actions, core Watcher) {
	systray.Run(func() {
		systray.SetTitle(trayTitle)
		t := New(Systray{}, a)
		go func() {
			settled := make(chan struct{})
			go func() { defer close(settled); settle(ctx, t) }()
			t.Follow(ctx, core)
			<-settled
			// The tray stops changing before it is taken down:
			// fyne.io/systray panics when an icon is set after its end
			// closed the bus connection.
			systray.Quit()
		}()
	}, nil)
}
