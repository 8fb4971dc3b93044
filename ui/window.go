package ui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// playerWindow is the playback window.
type playerWindow struct {
	c *Controller
	w fyne.Window

	state      *widget.Label
	led        *canvas.Circle
	tg         *widget.Label
	system     *widget.Label
	meta       *widget.Label
	transcript *widget.Label
	progress   *callProgress
	times      *widget.Label
	queue      *widget.Label
	problem    *widget.Label
	filters    *widget.Label

	live     *keyCheck
	playBtn  *keyButton
	skipBtn  *keyButton
	replay   *keyButton
	holdSys  *keyButton
	holdTG   *keyButton
	avoid    *keySelect
	lift     *keyButton
	volume   *keySlider
	mute     *keyCheck
	updating bool

	hist      *historyView
	past      *searchView
	histRev   uint64 // the history revision shown
	histKey   string // what else the history rows show: the playing call, the filter
	filterKey string // the filter the talkgroup rows show
	snap      *listening.Snapshot

	tabs    *container.AppTabs
	search  *searchEntry
	group   *keySelect
	tgList  *keyList
	tgNone  *widget.Label     // says why the checklist is empty
	tgText  map[string]string // the search text typed for each server
	tgKey   string            // the server the search text is for
	tgItems []tgRow
	tgRev   uint64 // the talkgroups' revision shown
	dir     listening.Directory
	more    *widget.Button // Copy stream URL, tokens, account, quit

	extra *standout // alerts, quiet hours, talkgroup volumes, settings (standout.go)

	root       *fyne.Container // the banner above the tabs
	banner     *fyne.Container // "playing the demo server", with Sign in…
	bannerText *widget.Label
	bannerBtn  *widget.Button
}

// The playback window's tabs, in order.
const (
	tabNow = iota
	tabHistory
	tabSearch
	tabTalkgroups
	tabAlerts   // standout.tabs
	tabSettings // standout.tabs
)

// avoidChoice is one entry of the "Avoid talkgroup" choice.
type avoidChoice struct {
	label string
	d     time.Duration // 0: until lifted
}

func avoidChoices() []avoidChoice {
	return []avoidChoice{{"30 minutes", 30 * time.Minute}, {"60 minutes", 60 * time.Minute},
		{"120 minutes", 120 * time.Minute}, {"until lifted", 0}}
}

// allGroups is the group/tag choice that shows every talkgroup.
const allGroups = "All"

var (
	colorIdle   = color.NRGBA{0x8e, 0x8e, 0x93, 0xff}
	colorLive   = color.NRGBA{0x00, 0x7a, 0xff, 0xff}
	colorPaused = color.NRGBA{0xaf, 0x52, 0xde, 0xff}
)

func newPlayerWindow(c *Controller) *playerWindow {
	pw := &playerWindow{c: c, w: c.app.NewWindow("Earshot"), snap: c.opts.Core.Snapshot()}
	core := c.opts.Core
	pw.state = widget.NewLabel("connecting…")
	pw.led = canvas.NewCircle(colorIdle)
	pw.tg = widget.NewLabelWithStyle("Waiting for the first call…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	pw.tg.SizeName = theme.SizeNameHeadingText
	pw.system = widget.NewLabel("")
	pw.meta = widget.NewLabel("")
	pw.transcript = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	pw.progress = newCallProgress()
	pw.times = widget.NewLabel("")
	pw.times.Alignment = fyne.TextAlignTrailing
	pw.queue = widget.NewLabel("queue 0")
	pw.problem = widget.NewLabel("")
	pw.problem.Importance = widget.DangerImportance
	pw.problem.Wrapping = fyne.TextWrapWord
	pw.filters = widget.NewLabel("")

	pw.live = newKeyCheck(pw, "Live", func(on bool) {
		if !pw.updating {
			core.SetLive(on)
			c.refresh()
		}
	})
	pw.playBtn = newKeyButton(pw, "Pause", theme.MediaPauseIcon(), c.after(core.TogglePause))
	pw.playBtn.Importance = widget.HighImportance
	pw.skipBtn = newKeyButton(pw, "Skip", theme.MediaSkipNextIcon(), c.after(core.Skip))
	pw.replay = newKeyButton(pw, "Replay", theme.MediaSkipPreviousIcon(), c.after(core.Replay))
	pw.holdSys = newKeyButton(pw, "Hold system", nil, c.after(core.ToggleHoldSystem))
	pw.holdTG = newKeyButton(pw, "Hold talkgroup", nil, c.after(core.ToggleHoldTalkgroup))
	var labels []string
	for _, ch := range avoidChoices() {
		labels = append(labels, ch.label)
	}
	pw.avoid = newKeySelect(pw, labels, "Avoid talkgroup…", func(choice string) {
		if pw.updating || choice == "" {
			return
		}
		pw.avoidCurrent(choice)
		pw.updating = true
		pw.avoid.ClearSelected()
		pw.updating = false
	})
	pw.lift = newKeyButton(pw, "Lift avoids", nil, pw.liftAvoids)
	pw.volume = newKeySlider(pw, 0, 100)
	pw.volume.OnChanged = func(v float64) {
		if !pw.updating {
			core.SetVolume(v/100, false)
		}
	}
	pw.volume.OnChangeEnded = func(v float64) {
		if !pw.updating {
			core.SetVolume(v/100, true)
		}
	}
	pw.mute = newKeyCheck(pw, "Mute", func(on bool) {
		if !pw.updating {
			core.SetMuted(on)
			c.refresh()
		}
	})

	// Every line of the now-playing block keeps its height whether a call
	// plays or not (between calls it shows the last one heard), so the
	// controls below never move under the pointer.
	ledBox := container.NewGridWrap(fyne.NewSize(22, 22), pw.led)
	title := container.NewBorder(nil, nil, container.NewCenter(ledBox), nil, steadyLines(pw.tg, 1))
	now := container.NewVBox(title, steadyLines(pw.system, 1), steadyLines(pw.meta, 1), steadyLines(pw.transcript, 2))
	// Play and Pause swap on one button: it keeps the wider one's width.
	playBox := container.New(steadyLayout{width: pw.playBtn.MinSize().Width}, pw.playBtn)
	transport := container.NewHBox(pw.replay, playBox, pw.skipBtn, layout.NewSpacer(), pw.live)
	holds := container.NewHBox(pw.holdSys, pw.holdTG, pw.avoid, pw.lift)
	pw.extra = newStandout(pw)
	vol := container.NewBorder(nil, nil, widget.NewIcon(theme.VolumeUpIcon()), container.NewHBox(pw.mute, pw.extra.trim), pw.volume)
	pw.more = widget.NewButtonWithIcon("", theme.MoreVerticalIcon(), pw.showMore)
	header := container.NewBorder(nil, nil, nil, container.NewHBox(pw.queue, pw.more), steadyLines(pw.state, 1))
	progress := container.NewBorder(nil, nil, nil, steadyWidth(pw.times, progressLabelWidth), pw.progress)
	nowTab := container.NewVBox(header, widget.NewSeparator(), now, progress,
		transport, holds, steadyLines(pw.filters, 1), vol, pw.extra.now, pw.problem)

	pw.hist = newHistoryView(pw)
	pw.past = newSearchView(pw)

	pw.search = newSearchEntry(pw)
	pw.search.SetPlaceHolder("Search talkgroups, systems, groups, tags…")
	pw.search.OnChanged = pw.tgSearchChanged
	pw.group = newKeySelect(pw, []string{allGroups}, allGroups, nil)
	pw.group.SetSelected(allGroups)
	pw.group.OnChanged = pw.tgGroupChanged
	pw.tgList = newKeyList(pw,
		func() int { return len(pw.tgItems) },
		func() fyne.CanvasObject {
			indent := canvas.NewRectangle(color.Transparent) // talkgroups sit under their system
			indent.SetMinSize(fyne.NewSize(theme.IconInlineSize(), 0))
			return container.NewBorder(nil, nil, indent, container.NewHBox(newTGTrim(pw, ""), newKeyCheck(pw, "Notify", nil)), newFitCheck(pw))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { pw.bindTalkgroup(i, o.(*fyne.Container)) })
	selectShown := newKeyButton(pw, "Select shown", nil, func() { pw.selectShown(true) })
	clearShown := newKeyButton(pw, "Clear shown", nil, func() { pw.selectShown(false) })
	allBtn := newKeyButton(pw, "Hear everything", nil, func() {
		core.SetSelection(nil)
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.snap = core.Snapshot()
		pw.reloadTalkgroups()
	})
	tgTop := container.NewVBox(container.NewBorder(nil, nil, nil, pw.group, pw.search),
		container.NewHBox(selectShown, clearShown, allBtn))
	pw.tgNone = widget.NewLabel("")
	pw.tgNone.Wrapping = fyne.TextWrapWord
	pw.tgNone.Hide()
	pw.tgText = map[string]string{}
	tgTab := container.NewBorder(container.NewVBox(tgTop, pw.tgNone), nil, nil, nil, pw.tgList)

	pw.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Now playing", theme.MediaPlayIcon(), container.NewPadded(nowTab)),
		container.NewTabItemWithIcon("History", theme.HistoryIcon(), pw.hist.content),
		container.NewTabItemWithIcon("Search", theme.SearchIcon(), pw.past.content),
		container.NewTabItemWithIcon("Talkgroups", theme.ListIcon(), tgTab),
	)
	for _, tab := range pw.extra.tabs() {
		pw.tabs.Append(tab)
	}
	if c.opts.Past == nil {
		pw.tabs.Items[tabSearch].Content = container.NewCenter(widget.NewLabel("Searching past calls is not available."))
	}
	pw.bannerText = widget.NewLabel("")
	pw.bannerText.Wrapping = fyne.TextWrapWord
	pw.bannerBtn = widget.NewButtonWithIcon("Sign in…", theme.LoginIcon(), c.ShowSignIn)
	pw.bannerBtn.Importance = widget.HighImportance
	// No separator under it: the tabs' bar sets it apart, and the window
	// has no height to spare (the alert and quiet-hours line).
	pw.banner = container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), container.NewCenter(pw.bannerBtn), pw.bannerText)
	pw.banner.Hide()
	pw.root = container.NewBorder(pw.banner, nil, nil, nil, pw.tabs)
	pw.w.SetContent(pw.root)
	pw.w.Resize(fyne.NewSize(640, 560))
	pw.w.SetCloseIntercept(c.closeIntercept)
	pw.w.SetFixedSize(false)
	pw.w.Canvas().SetOnTypedKey(func(e *fyne.KeyEvent) { pw.shortcutKey(e) })
	pw.w.Canvas().SetOnTypedRune(func(r rune) { pw.shortcutRune(r) })
	// Ctrl+W (⌘W) closes the window as its close button does.
	pw.w.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault},
		func(fyne.Shortcut) { c.closeIntercept() })
	// Ctrl+S (⌘S) saves the chosen search result's audio.
	pw.w.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault},
		func(fyne.Shortcut) {
			if pw.tabs.SelectedIndex() == tabSearch {
				pw.past.saveSelected()
			}
		})
	return pw
}

// tgSearchChanged shows the talkgroups the search text finds.
func (pw *playerWindow) tgSearchChanged(string) {
	pw.c.uiMu.Lock()
	defer pw.c.uiMu.Unlock()
	pw.reloadTalkgroups()
}

// tgGroupChanged shows the talkgroups of the group or tag chosen.
func (pw *playerWindow) tgGroupChanged(string) {
	if pw.updating {
		return
	}
	pw.c.uiMu.Lock()
	defer pw.c.uiMu.Unlock()
	pw.reloadTalkgroups()
}

// shortcutKey handles the keyboard shortcuts that are keys: space
// play/pause, → skip, ← replay. It reports whether e was one.
func (pw *playerWindow) shortcutKey(e *fyne.KeyEvent) bool {
	core := pw.c.opts.Core
	switch e.Name {
	case fyne.KeySpace:
		pw.c.after(core.TogglePause)()
	case fyne.KeyRight:
		pw.c.after(core.Skip)()
	case fyne.KeyLeft:
		pw.c.after(core.Replay)()
	default:
		return false
	}
	return true
}

// shortcutRune handles H hold, A avoid, M mute, L live. A space is the
// Space key's character: the key already acted (a driver sends both).
func (pw *playerWindow) shortcutRune(r rune) bool {
	core := pw.c.opts.Core
	switch r {
	case ' ':
	case 'h', 'H':
		pw.c.after(core.ToggleHoldTalkgroup)()
	case 'a', 'A':
		pw.avoidCurrent("60 minutes")
	case 'm', 'M':
		pw.c.after(core.ToggleMute)()
	case 'l', 'L':
		pw.c.after(core.ToggleLive)()
	default:
		return false
	}
	return true
}

// unfocus gives the keys back to the window's shortcuts.
func (pw *playerWindow) unfocus() { pw.w.Canvas().Unfocus() }

// avoidCurrent avoids the playing talkgroup for the chosen time (an
// avoidChoices label) and skips it.
func (pw *playerWindow) avoidCurrent(choice string) {
	var d time.Duration
	for _, ch := range avoidChoices() {
		if ch.label == choice {
			d = ch.d
		}
	}
	pw.c.after(func() { pw.c.opts.Core.AvoidPlaying(d) })()
}

// liftAvoids lifts every avoid.
func (pw *playerWindow) liftAvoids() { pw.c.after(pw.c.opts.Core.LiftAvoids)() }

// filterLine says which holds and avoids are in force.
func (pw *playerWindow) filterLine(f player.Filter) string {
	name := func(t player.Talkgroup) string { return pw.snap.Directory.TalkgroupLabel(t) }
	until := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return " until " + pw.c.times.Short(t.In(pw.c.opts.Location))
	}
	var parts []string
	if h := f.Hold; h != nil {
		if h.TalkgroupID == 0 {
			sys := pw.snap.Directory.SystemLabel(h.SystemID)
			parts = append(parts, "Holding "+sys+until(h.Until))
		} else {
			parts = append(parts, "Holding "+name(h.Talkgroup)+until(h.Until))
		}
	}
	if len(f.Avoids) > 0 {
		var names []string
		for _, a := range f.Avoids {
			names = append(names, name(a.Talkgroup)+until(a.Until))
		}
		parts = append(parts, "Avoiding "+strings.Join(names, ", "))
	}
	return strings.Join(parts, " · ")
}

// update shows snapshot s.
func (pw *playerWindow) update(s *listening.Snapshot) {
	pw.updating = true
	defer func() { pw.updating = false }()
	pw.snap = s
	pw.state.SetText(s.StatusLine())
	pw.showCall(s)
	fraction, times := 0.0, ""
	if s.Call != nil {
		fraction, times = progressOf(s.Position, s.Duration)
	}
	pw.progress.SetValue(fraction)
	pw.times.SetText(times)
	pw.queue.SetText(s.QueueLine())
	if s.Paused {
		pw.playBtn.SetText("Play")
		pw.playBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		pw.playBtn.SetText("Pause")
		pw.playBtn.SetIcon(theme.MediaPauseIcon())
	}
	// Hold and Avoid act on the playing call, and between calls on the
	// last one heard, as the OpenScanner listener's buttons do.
	target := s.Call != nil || s.Last != nil
	enable(pw.skipBtn, s.Call != nil || s.Queue > 0)
	enable(pw.holdTG, target || s.Filter.Hold != nil)
	enable(pw.holdSys, target || s.Filter.Hold != nil)
	enable(pw.avoid, target)
	enable(pw.lift, len(s.Filter.Avoids) > 0)
	pw.live.SetChecked(s.Live)
	pw.mute.SetChecked(s.Muted)
	pw.volume.SetValue(s.Volume * 100)
	if f := s.Filter; f.Hold != nil {
		if f.Hold.TalkgroupID == 0 {
			pw.holdSys.SetText("Release hold")
			pw.holdTG.SetText("Hold talkgroup")
		} else {
			pw.holdSys.SetText("Hold system")
			pw.holdTG.SetText("Release hold")
		}
	} else {
		pw.holdSys.SetText("Hold system")
		pw.holdTG.SetText("Hold talkgroup")
	}
	pw.filters.SetText(pw.filterLine(s.Filter))
	problem := s.Device
	switch {
	case s.FFmpegMissing:
		problem = strings.TrimSpace(problem + " " + listening.FFmpegAdvice)
	case problem == "" && s.LastError != "":
		problem = s.LastError
	}
	if c := s.Connection(); c != "" && s.Backend != event.StateConnecting {
		// The status line is cut to the window's width; the whole reason
		// is here, where it can wrap.
		problem = strings.TrimSpace(c + " " + problem)
	}
	setShown(pw.problem, problem)
	pw.showBanner(s)
	histKey := fmt.Sprint(s.Filter.Selection, s.Call != nil, serverKey(s))
	if s.Call != nil {
		histKey += fmt.Sprint(s.Call.ID)
	}
	if s.HistoryRev != pw.histRev || histKey != pw.histKey {
		pw.histRev, pw.histKey = s.HistoryRev, histKey
		pw.hist.update(s)
		pw.past.list.Refresh() // the playing and not-ticked marks
	}
	pw.past.update(s)
	if key := serverKey(s); key != pw.tgKey {
		// Each server has its own search text: the demo's never hides
		// a real server's talkgroups.
		pw.tgText[pw.tgKey] = pw.search.Text
		pw.tgKey = key
		pw.search.OnChanged, pw.group.OnChanged = nil, nil
		pw.search.SetText(pw.tgText[key])
		pw.group.SetSelected(listening.AllGroups)
		pw.search.OnChanged, pw.group.OnChanged = pw.tgSearchChanged, pw.tgGroupChanged
		pw.tgRev = 0 // reload below
	}
	filterKey := fmt.Sprint(s.Filter, s.Notify)
	switch {
	case s.DirRev != pw.tgRev || len(s.Directory.Systems) != len(pw.dir.Systems):
		pw.reloadTalkgroups()
	case filterKey != pw.filterKey:
		pw.tgList.Refresh() // the rows show selection, avoids and notify
	}
	pw.filterKey = filterKey
	pw.extra.update(s)
}

// showCall fills the now-playing lines: the playing call, or between
// calls what Earshot is doing and the last call heard (what Hold and
// Avoid act on then).
func (pw *playerWindow) showCall(s *listening.Snapshot) {
	c, title := s.Call, s.Title
	if c == nil {
		pw.tg.SetText(s.Headline())
		pw.led.FillColor = colorIdle
		if s.State() == listening.Paused {
			pw.led.FillColor = colorPaused
		}
		pw.led.Refresh()
		if s.Last == nil {
			pw.system.SetText("")
			pw.meta.SetText("")
			pw.transcript.SetText("")
			return
		}
		c, title = s.Last, s.LastTitle
	} else {
		pw.tg.SetText(title)
		if led, ok := listening.ParseLED(c.LEDColor); ok {
			pw.led.FillColor = led
		} else {
			pw.led.FillColor = colorLive
		}
		pw.led.Refresh()
	}
	sys := c.SystemLabel
	if sys == "" {
		sys = s.Directory.SystemLabel(c.SystemID)
	}
	if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel && c.TalkgroupName != title {
		sys += " · " + c.TalkgroupName
	}
	if c.TalkgroupTag != "" {
		sys += " · " + c.TalkgroupTag
	}
	if c != s.Call {
		sys = "Last call: " + title + " · " + sys
	}
	pw.system.SetText(sys)
	meta := []string{pw.c.times.When(time.Unix(c.DateTime, 0).In(pw.c.opts.Location), pw.c.opts.Now())}
	if c.Frequency > 0 {
		meta = append(meta, fmt.Sprintf("%.4f MHz", float64(c.Frequency)/1e6))
	}
	switch {
	case c.TalkerAlias != "":
		meta = append(meta, c.TalkerAlias)
	case c.Source != 0:
		meta = append(meta, fmt.Sprintf("unit %d", c.Source))
	}
	pw.meta.SetText(strings.Join(meta, " · "))
	text := c.Transcript
	for _, h := range s.History {
		if h.Call.ID == c.ID && h.Call.Transcript != "" {
			text = h.Call.Transcript
		}
	}
	pw.transcript.SetText(text)
}

// setShown sets a label's text and hides it while empty, so empty lines
// take no room.
func setShown(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func enable(b fyne.Disableable, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// clock formats a call's position or length as m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// showBanner says, while the relay plays the built-in demo server, that
// it does, and offers to sign in to a real one. It takes one line at the
// window's 640 px: a second one left no room for the alert and quiet-hours
// line, and the window grew.
func (pw *playerWindow) showBanner(s *listening.Snapshot) {
	switch {
	case s.DemoFlag:
		pw.bannerText.SetText("Playing the built-in demo server (--demo): the calls are made up.")
		pw.bannerBtn.Hide()
	case s.Demo:
		pw.bannerText.SetText("Playing the built-in demo server: the calls are made up.")
		pw.bannerBtn.Show()
	default:
		if pw.banner.Visible() {
			pw.banner.Hide()
			pw.root.Refresh() // a container's Hide and Show do not lay its parent out again
		}
		return
	}
	if !pw.banner.Visible() {
		pw.banner.Show()
		pw.root.Refresh()
	}
}

// showMore pops up what the tray menu offers besides playback, so it is
// reachable without a tray too.
func (pw *playerWindow) showMore() {
	c := pw.c
	var items []*fyne.MenuItem
	if c.opts.StreamURL != nil {
		items = append(items, fyne.NewMenuItem("Copy stream URL", c.CopyStreamURL))
	}
	items = append(items, fyne.NewMenuItem("Manage tokens…", c.ShowTokens))
	if pw.snap.SignedIn {
		items = append(items, fyne.NewMenuItem("Sign out", c.SignOut))
	} else {
		items = append(items, fyne.NewMenuItem("Sign in…", c.ShowSignIn))
	}
	items = append(items, fyne.NewMenuItemSeparator())
	if c.opts.Autostart != nil {
		c.uiMu.Lock()
		on := c.autostart
		c.uiMu.Unlock()
		auto := fyne.NewMenuItem("Start Earshot when I log in", c.ToggleAutostart)
		auto.Checked = on
		items = append(items, auto)
	}
	items = append(items, fyne.NewMenuItem("Quit Earshot", c.opts.QuitEarshot))
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(pw.more)
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), pw.w.Canvas(), pos.Add(fyne.NewPos(0, pw.more.Size().Height)))
}
