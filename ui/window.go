package ui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
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
	progress   *widget.ProgressBar
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

	history   *keyList
	histItems []event.Call
	histRev   int    // the controller's history revision shown
	filterKey string // the player filter the talkgroup rows show

	tabs    *container.AppTabs
	search  *searchEntry
	group   *keySelect
	tgList  *keyList
	tgItems []tgRow
	tgRev   int // the controller's talkgroup revision shown

	root       *fyne.Container // the banner above the tabs
	banner     *fyne.Container // "playing the demo server", with Sign in…
	bannerText *widget.Label
	bannerBtn  *widget.Button
	lastErr    string // the player's LastError the history rows show
}

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
	colorIdle = color.NRGBA{0x8e, 0x8e, 0x93, 0xff}
	colorLive = color.NRGBA{0x00, 0x7a, 0xff, 0xff}
)

func newPlayerWindow(c *Controller) *playerWindow {
	pw := &playerWindow{c: c, w: c.app.NewWindow("Earshot")}
	p := c.opts.Player
	pw.state = widget.NewLabel("connecting…")
	pw.state.Importance = widget.LowImportance
	pw.led = canvas.NewCircle(colorIdle)
	pw.tg = widget.NewLabelWithStyle("Waiting for the first call…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	pw.tg.SizeName = theme.SizeNameHeadingText
	pw.tg.Truncation = fyne.TextTruncateEllipsis
	pw.system = widget.NewLabel("")
	pw.system.Truncation = fyne.TextTruncateEllipsis
	pw.meta = widget.NewLabel("")
	pw.meta.Truncation = fyne.TextTruncateEllipsis
	pw.transcript = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	pw.transcript.Wrapping = fyne.TextWrapWord
	pw.progress = widget.NewProgressBar()
	pw.progress.TextFormatter = func() string { return "" }
	pw.times = widget.NewLabel("")
	pw.queue = widget.NewLabel("queue 0")
	pw.problem = widget.NewLabel("")
	pw.problem.Importance = widget.DangerImportance
	pw.problem.Wrapping = fyne.TextWrapWord
	pw.filters = widget.NewLabel("")
	pw.filters.Importance = widget.LowImportance
	pw.filters.Wrapping = fyne.TextWrapWord

	act := c.Actions()
	pw.live = newKeyCheck(pw, "Live", func(on bool) {
		if !pw.updating {
			p.SetLive(on)
			c.savePrefs()
			c.refresh()
		}
	})
	pw.playBtn = newKeyButton(pw, "Pause", theme.MediaPauseIcon(), act.PauseResume)
	pw.playBtn.Importance = widget.HighImportance
	pw.skipBtn = newKeyButton(pw, "Skip", theme.MediaSkipNextIcon(), act.Skip)
	pw.replay = newKeyButton(pw, "Replay", theme.MediaSkipPreviousIcon(), func() { p.Replay(); c.refresh() })
	pw.holdSys = newKeyButton(pw, "Hold system", nil, func() {
		if f := p.Filter(); f.Hold != nil {
			p.ReleaseHold()
		} else if st := p.State(); st.Call != nil {
			p.HoldSystem(st.Call.SystemID, time.Time{})
		}
		c.refresh()
	})
	pw.holdTG = newKeyButton(pw, "Hold talkgroup", nil, act.HoldTalkgroup)
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
			p.SetVolume(v / 100)
		}
	}
	pw.volume.OnChangeEnded = func(float64) { c.savePrefs() }
	pw.mute = newKeyCheck(pw, "Mute", func(on bool) {
		if !pw.updating {
			p.SetMuted(on)
			c.savePrefs()
			c.refresh()
		}
	})

	ledBox := container.NewGridWrap(fyne.NewSize(22, 22), pw.led)
	title := container.NewBorder(nil, nil, container.NewCenter(ledBox), nil, pw.tg)
	now := container.NewVBox(title, pw.system, pw.meta, pw.transcript)
	transport := container.NewHBox(pw.replay, pw.playBtn, pw.skipBtn, layout.NewSpacer(), pw.live)
	holds := container.NewHBox(pw.holdSys, pw.holdTG, pw.avoid, pw.lift)
	vol := container.NewBorder(nil, nil, widget.NewIcon(theme.VolumeUpIcon()), pw.mute, pw.volume)
	header := container.NewBorder(nil, nil, pw.state, pw.queue)
	nowTab := container.NewVBox(header, widget.NewSeparator(), now,
		container.NewBorder(nil, nil, nil, pw.times, pw.progress),
		transport, holds, pw.filters, vol, pw.problem)

	pw.history = newKeyList(pw,
		func() int { return len(pw.histItems) },
		func() fyne.CanvasObject { return widget.NewLabel("00:00:00 — talkgroup (system)") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(pw.histItems) {
				h := pw.histItems[i]
				line := historyLine(h, c.opts.Location)
				if why := p.CallProblem(h.ID); why != "" {
					line += " — " + why
				}
				o.(*widget.Label).SetText(line)
			}
		})
	pw.history.OnSelected = func(i widget.ListItemID) {
		if i < len(pw.histItems) {
			p.Play(pw.histItems[i])
			c.refresh()
		}
		pw.history.UnselectAll()
	}

	pw.search = newSearchEntry(pw)
	pw.search.SetPlaceHolder("Search talkgroups, systems, groups, tags…")
	pw.search.OnChanged = func(string) {
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.reloadTalkgroups()
	}
	pw.group = newKeySelect(pw, []string{allGroups}, allGroups, nil)
	pw.group.SetSelected(allGroups)
	pw.group.OnChanged = func(string) {
		if pw.updating {
			return
		}
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.reloadTalkgroups()
	}
	pw.tgList = newKeyList(pw,
		func() int { return len(pw.tgItems) },
		func() fyne.CanvasObject {
			indent := canvas.NewRectangle(color.Transparent) // talkgroups sit under their system
			indent.SetMinSize(fyne.NewSize(theme.IconInlineSize(), 0))
			return container.NewBorder(nil, nil, indent, newKeyCheck(pw, "Notify", nil), newKeyCheck(pw, "talkgroup", nil))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { pw.bindTalkgroup(i, o.(*fyne.Container)) })
	selectShown := newKeyButton(pw, "Select shown", nil, func() { pw.selectShown(true) })
	clearShown := newKeyButton(pw, "Clear shown", nil, func() { pw.selectShown(false) })
	allBtn := newKeyButton(pw, "Hear everything", nil, func() {
		p.SetSelection(nil)
		c.savePrefs()
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.reloadTalkgroups()
	})
	tgTop := container.NewVBox(container.NewBorder(nil, nil, nil, pw.group, pw.search),
		container.NewHBox(selectShown, clearShown, allBtn))
	tgTab := container.NewBorder(tgTop, nil, nil, nil, pw.tgList)

	pw.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Now playing", theme.MediaPlayIcon(), container.NewPadded(nowTab)),
		container.NewTabItemWithIcon("History", theme.HistoryIcon(), pw.history),
		container.NewTabItemWithIcon("Talkgroups", theme.ListIcon(), tgTab),
	)
	pw.bannerText = widget.NewLabel("")
	pw.bannerText.Wrapping = fyne.TextWrapWord
	pw.bannerBtn = widget.NewButtonWithIcon("Sign in…", theme.LoginIcon(), c.ShowSignIn)
	pw.bannerBtn.Importance = widget.HighImportance
	pw.banner = container.NewBorder(nil, widget.NewSeparator(), widget.NewIcon(theme.InfoIcon()), container.NewCenter(pw.bannerBtn), pw.bannerText)
	pw.banner.Hide()
	pw.root = container.NewBorder(pw.banner, nil, nil, nil, pw.tabs)
	pw.w.SetContent(pw.root)
	pw.w.Resize(fyne.NewSize(640, 560))
	pw.w.SetCloseIntercept(c.closeIntercept)
	pw.w.Canvas().SetOnTypedKey(func(e *fyne.KeyEvent) { pw.shortcutKey(e) })
	pw.w.Canvas().SetOnTypedRune(func(r rune) { pw.shortcutRune(r) })
	return pw
}

func historyLine(c event.Call, loc *time.Location) string {
	sys := c.SystemLabel
	if sys == "" {
		sys = fmt.Sprintf("system %d", c.SystemID)
	}
	line := time.Unix(c.DateTime, 0).In(loc).Format("15:04:05") + " — " + callTitle(c) + " (" + sys + ")"
	if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel {
		line += " · " + c.TalkgroupName
	}
	return line
}

// shortcutKey handles the keyboard shortcuts that are keys: space
// play/pause, → skip, ← replay. It reports whether e was one.
func (pw *playerWindow) shortcutKey(e *fyne.KeyEvent) bool {
	a := pw.c.Actions()
	switch e.Name {
	case fyne.KeySpace:
		a.PauseResume()
	case fyne.KeyRight:
		a.Skip()
	case fyne.KeyLeft:
		pw.c.opts.Player.Replay()
		pw.c.refresh()
	default:
		return false
	}
	return true
}

// shortcutRune handles H hold, A avoid, M mute, L live. A space is the
// Space key's character: the key already acted (a driver sends both).
func (pw *playerWindow) shortcutRune(r rune) bool {
	a := pw.c.Actions()
	switch r {
	case ' ':
	case 'h', 'H':
		a.HoldTalkgroup()
	case 'a', 'A':
		pw.avoidCurrent("60 minutes")
	case 'm', 'M':
		a.ToggleMute()
	case 'l', 'L':
		a.ToggleLive()
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
	p := pw.c.opts.Player
	st := p.State()
	if st.Call == nil {
		return
	}
	var until time.Time
	for _, ch := range avoidChoices() {
		if ch.label == choice && ch.d > 0 {
			until = pw.c.opts.Now().Add(ch.d)
		}
	}
	p.AvoidTalkgroup(st.Call.SystemID, st.Call.TalkgroupID, until)
	p.Skip()
	pw.c.savePrefs()
	pw.c.refresh()
}

// liftAvoids lifts every avoid.
func (pw *playerWindow) liftAvoids() {
	p := pw.c.opts.Player
	for _, a := range p.Filter().Avoids {
		p.Unavoid(a.SystemID, a.TalkgroupID)
	}
	pw.c.savePrefs()
	pw.c.refresh()
}

// filterLine says which holds and avoids are in force.
func (pw *playerWindow) filterLine(f player.Filter) string {
	name := func(t player.Talkgroup) string {
		info := pw.c.talkgroupInfo(t)
		if info.Label != "" {
			return info.Label
		}
		return fmt.Sprintf("TG %d", t.TalkgroupID)
	}
	until := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return " until " + t.In(pw.c.opts.Location).Format("15:04")
	}
	var parts []string
	if h := f.Hold; h != nil {
		if h.TalkgroupID == 0 {
			sys := pw.c.systemLabel(h.SystemID)
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

// update shows v and the player's state.
func (pw *playerWindow) update(v View, st player.State) {
	pw.updating = true
	defer func() { pw.updating = false }()
	state := v.TrayState().String()
	if v.Reason != "" && v.Backend != event.StateConnected {
		state += " — " + v.Reason
	}
	if v.Problem != "" {
		state += " — " + v.Problem
	}
	switch {
	case v.Demo:
		state += " · demo server"
	case v.Server != "":
		state += " · " + strings.TrimPrefix(strings.TrimPrefix(v.Server, "https://"), "http://")
	}
	if st.Replay > 0 {
		state += fmt.Sprintf(" · replaying %d back", st.Replay)
	}
	pw.state.SetText(state)
	if st.Call != nil {
		c := *st.Call
		pw.tg.SetText(callTitle(c))
		sys := c.SystemLabel
		if sys == "" {
			sys = fmt.Sprintf("System %d", c.SystemID)
		}
		if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel {
			sys += " · " + c.TalkgroupName
		}
		setShown(pw.system, sys)
		meta := []string{time.Unix(c.DateTime, 0).In(pw.c.opts.Location).Format("Mon Jan 2 15:04:05")}
		if c.Frequency > 0 {
			meta = append(meta, fmt.Sprintf("%.4f MHz", float64(c.Frequency)/1e6))
		}
		switch {
		case c.TalkerAlias != "":
			meta = append(meta, c.TalkerAlias)
		case c.Source != 0:
			meta = append(meta, fmt.Sprintf("unit %d", c.Source))
		}
		setShown(pw.meta, strings.Join(meta, " · "))
		text := c.Transcript
		for _, h := range pw.c.History() {
			if h.ID == c.ID && h.Transcript != "" {
				text = h.Transcript
			}
		}
		setShown(pw.transcript, text)
		if led, ok := ParseLED(c.LEDColor); ok {
			pw.led.FillColor = led
		} else {
			pw.led.FillColor = colorLive
		}
	} else {
		pw.tg.SetText("Waiting for the next call…")
		setShown(pw.system, "")
		setShown(pw.meta, "")
		setShown(pw.transcript, "")
		pw.led.FillColor = colorIdle
	}
	pw.led.Refresh()
	if st.Call != nil && st.Duration > 0 {
		pw.progress.SetValue(min(1, float64(st.Position)/float64(st.Duration)))
	} else {
		pw.progress.SetValue(0)
	}
	if st.Call != nil {
		pw.times.SetText(clock(st.Position) + " / " + clock(st.Duration))
	} else {
		pw.times.SetText("")
	}
	queue := fmt.Sprintf("queue %d", st.Queue)
	if v.Listeners > 0 {
		queue += fmt.Sprintf(" · %d listening", v.Listeners)
	}
	pw.queue.SetText(queue)
	if st.Paused {
		pw.playBtn.SetText("Play")
		pw.playBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		pw.playBtn.SetText("Pause")
		pw.playBtn.SetIcon(theme.MediaPauseIcon())
	}
	enable(pw.skipBtn, st.Call != nil || st.Queue > 0)
	enable(pw.holdTG, st.Call != nil || st.Filter.Hold != nil)
	enable(pw.holdSys, st.Call != nil || st.Filter.Hold != nil)
	enable(pw.lift, len(st.Filter.Avoids) > 0)
	if st.Call == nil {
		pw.avoid.Disable()
	} else {
		pw.avoid.Enable()
	}
	pw.live.SetChecked(st.Live)
	pw.mute.SetChecked(st.Muted)
	pw.volume.SetValue(st.Volume * 100)
	if f := st.Filter; f.Hold != nil {
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
	setShown(pw.filters, pw.filterLine(st.Filter))
	problem := st.Device
	switch {
	case st.FFmpegMissing:
		problem = strings.TrimSpace(problem + " " + ffmpegAdvice)
	case problem == "" && st.LastError != "":
		problem = st.LastError
	}
	setShown(pw.problem, problem)
	pw.showBanner(v)
	if rev := pw.c.historyRev(); rev != pw.histRev {
		pw.histRev = rev
		pw.histItems = pw.c.History()
		pw.history.Refresh()
	} else if st.LastError != pw.lastErr {
		pw.history.Refresh() // a call's row now says why it did not play
	}
	pw.lastErr = st.LastError
	filterKey := fmt.Sprint(st.Filter)
	_, tgRev := pw.c.directory()
	switch {
	case tgRev != pw.tgRev:
		pw.reloadTalkgroups()
	case filterKey != pw.filterKey:
		pw.tgList.Refresh() // the rows show selection and avoids
	}
	pw.filterKey = filterKey
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
// it does, and offers to sign in to a real one.
func (pw *playerWindow) showBanner(v View) {
	switch {
	case pw.c.opts.Demo:
		pw.bannerText.SetText("Playing the built-in demo server (Earshot was started with --demo): the calls are made up.")
		pw.bannerBtn.Hide()
	case v.Demo:
		pw.bannerText.SetText("Playing the built-in demo server: the calls are made up. Sign in to your OpenScanner server to hear its feed.")
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
