package ui

import (
	"fmt"
	"image/color"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
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
	meta       *widget.Label
	transcript *widget.Label
	progress   *widget.ProgressBar
	times      *widget.Label
	queue      *widget.Label
	problem    *widget.Label

	live     *widget.Check
	playBtn  *widget.Button
	skipBtn  *widget.Button
	replay   *widget.Button
	holdSys  *widget.Button
	holdTG   *widget.Button
	avoid    *widget.Select
	volume   *widget.Slider
	mute     *widget.Check
	updating bool

	history   *widget.List
	histItems []event.Call

	search  *widget.Entry
	tgList  *widget.List
	tgItems []player.Talkgroup
}

var avoidChoices = []string{"30 minutes", "60 minutes", "120 minutes", "until lifted"}

func newPlayerWindow(c *Controller) *playerWindow {
	pw := &playerWindow{c: c, w: c.app.NewWindow("Earshot")}
	p := c.opts.Player
	pw.state = widget.NewLabel("connecting…")
	pw.led = canvas.NewCircle(color.NRGBA{0x8e, 0x8e, 0x93, 0xff})
	pw.led.Resize(fyne.NewSize(18, 18))
	pw.tg = widget.NewLabelWithStyle("Waiting for the first call…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	pw.meta = widget.NewLabel("")
	pw.transcript = widget.NewLabel("")
	pw.transcript.Wrapping = fyne.TextWrapWord
	pw.progress = widget.NewProgressBar()
	pw.progress.TextFormatter = func() string { return "" }
	pw.times = widget.NewLabel("")
	pw.queue = widget.NewLabel("queue 0")
	pw.problem = widget.NewLabel("")
	pw.problem.Importance = widget.DangerImportance
	pw.problem.Wrapping = fyne.TextWrapWord

	act := c.Actions()
	pw.live = widget.NewCheck("Live", func(on bool) {
		if !pw.updating {
			p.SetLive(on)
			c.savePrefs()
			c.refresh()
		}
	})
	pw.playBtn = widget.NewButton("Pause", act.PauseResume)
	pw.skipBtn = widget.NewButton("Skip ▶▶", act.Skip)
	pw.replay = widget.NewButton("◀◀ Replay", func() { p.Replay(); c.refresh() })
	pw.holdSys = widget.NewButton("Hold system", func() {
		if f := p.Filter(); f.Hold != nil {
			p.ReleaseHold()
		} else if st := p.State(); st.Call != nil {
			p.HoldSystem(st.Call.SystemID, time.Time{})
		}
		c.refresh()
	})
	pw.holdTG = widget.NewButton("Hold talkgroup", act.HoldTalkgroup)
	pw.avoid = widget.NewSelect(avoidChoices, func(choice string) {
		if pw.updating || choice == "" {
			return
		}
		pw.avoidCurrent(choice)
		pw.updating = true
		pw.avoid.ClearSelected()
		pw.updating = false
	})
	pw.avoid.PlaceHolder = "Avoid talkgroup…"
	pw.volume = widget.NewSlider(0, 100)
	pw.volume.OnChanged = func(v float64) {
		if !pw.updating {
			p.SetVolume(v / 100)
		}
	}
	pw.volume.OnChangeEnded = func(float64) { c.savePrefs() }
	pw.mute = widget.NewCheck("Mute", func(on bool) {
		if !pw.updating {
			p.SetMuted(on)
			c.savePrefs()
			c.refresh()
		}
	})

	ledBox := container.NewGridWrap(fyne.NewSize(18, 18), pw.led)
	now := container.NewBorder(nil, nil, container.NewCenter(ledBox), nil,
		container.NewVBox(pw.tg, pw.meta, pw.transcript))
	controls := container.NewHBox(pw.live, pw.replay, pw.playBtn, pw.skipBtn, pw.queue)
	holds := container.NewHBox(pw.holdSys, pw.holdTG, pw.avoid)
	vol := container.NewBorder(nil, nil, widget.NewLabel("Volume"), pw.mute, pw.volume)
	nowTab := container.NewVBox(container.NewHBox(widget.NewLabel("Earshot"), pw.state), widget.NewSeparator(),
		now, container.NewBorder(nil, nil, nil, pw.times, pw.progress), controls, holds, vol, pw.problem)

	pw.history = widget.NewList(
		func() int { return len(pw.histItems) },
		func() fyne.CanvasObject { return widget.NewLabel("00:00:00 — talkgroup (system)") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(pw.histItems) {
				o.(*widget.Label).SetText(historyLine(pw.histItems[i]))
			}
		})
	pw.history.OnSelected = func(i widget.ListItemID) {
		if i < len(pw.histItems) {
			p.Play(pw.histItems[i])
			c.refresh()
		}
		pw.history.UnselectAll()
	}

	pw.search = widget.NewEntry()
	pw.search.SetPlaceHolder("Search talkgroups, groups, tags…")
	pw.search.OnChanged = func(string) {
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.reloadTalkgroups()
	}
	pw.tgList = widget.NewList(
		func() int { return len(pw.tgItems) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, widget.NewCheck("Notify", nil), widget.NewCheck("talkgroup", nil))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { pw.bindTalkgroup(i, o.(*fyne.Container)) })
	selectShown := widget.NewButton("Select shown", func() { pw.selectShown(true) })
	clearShown := widget.NewButton("Clear shown", func() { pw.selectShown(false) })
	allBtn := widget.NewButton("Hear everything", func() {
		p.SetSelection(nil)
		c.savePrefs()
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		pw.reloadTalkgroups()
	})
	tgTab := container.NewBorder(container.NewVBox(pw.search, container.NewHBox(selectShown, clearShown, allBtn)), nil, nil, nil, pw.tgList)

	tabs := container.NewAppTabs(
		container.NewTabItem("Now playing", container.NewPadded(nowTab)),
		container.NewTabItem("History", pw.history),
		container.NewTabItem("Talkgroups", tgTab),
	)
	pw.w.SetContent(tabs)
	pw.w.Resize(fyne.NewSize(620, 460))
	pw.w.SetCloseIntercept(c.closeIntercept)
	pw.w.Canvas().SetOnTypedKey(pw.onKey)
	pw.w.Canvas().SetOnTypedRune(pw.onRune)
	return pw
}

func historyLine(c event.Call) string {
	sys := c.SystemLabel
	if sys == "" {
		sys = fmt.Sprintf("system %d", c.SystemID)
	}
	line := time.Unix(c.DateTime, 0).Local().Format("15:04:05") + " — " + callTitle(c) + " (" + sys + ")"
	if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel {
		line += " · " + c.TalkgroupName
	}
	return line
}

// onKey handles the keyboard shortcuts: space play/pause, → skip,
// ← replay.
func (pw *playerWindow) onKey(e *fyne.KeyEvent) {
	a := pw.c.Actions()
	switch e.Name {
	case fyne.KeySpace:
		a.PauseResume()
	case fyne.KeyRight:
		a.Skip()
	case fyne.KeyLeft:
		pw.c.opts.Player.Replay()
		pw.c.refresh()
	}
}

// onRune handles H hold, A avoid, M mute, L live.
func (pw *playerWindow) onRune(r rune) {
	a := pw.c.Actions()
	switch r {
	case 'h', 'H':
		a.HoldTalkgroup()
	case 'a', 'A':
		pw.avoidCurrent("60 minutes")
	case 'm', 'M':
		a.ToggleMute()
	case 'l', 'L':
		a.ToggleLive()
	}
}

// avoidCurrent avoids the playing talkgroup for the chosen time and skips it.
func (pw *playerWindow) avoidCurrent(choice string) {
	p := pw.c.opts.Player
	st := p.State()
	if st.Call == nil {
		return
	}
	var until time.Time
	switch choice {
	case "30 minutes":
		until = pw.c.opts.Now().Add(30 * time.Minute)
	case "60 minutes":
		until = pw.c.opts.Now().Add(60 * time.Minute)
	case "120 minutes":
		until = pw.c.opts.Now().Add(120 * time.Minute)
	}
	p.AvoidTalkgroup(st.Call.SystemID, st.Call.TalkgroupID, until)
	p.Skip()
	pw.c.savePrefs()
	pw.c.refresh()
}

// update shows v and the player's state.
func (pw *playerWindow) update(v View, st player.State) {
	pw.updating = true
	defer func() { pw.updating = false }()
	state := v.TrayState().String()
	if v.Reason != "" && v.Backend != event.StateConnected {
		state += " — " + v.Reason
	}
	pw.state.SetText(state)
	if st.Call != nil {
		c := *st.Call
		pw.tg.SetText(callTitle(c))
		meta := []string{}
		if c.SystemLabel != "" {
			meta = append(meta, c.SystemLabel)
		}
		if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel {
			meta = append(meta, c.TalkgroupName)
		}
		meta = append(meta, time.Unix(c.DateTime, 0).Local().Format("Jan 2 15:04:05"))
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
		for _, h := range pw.c.History() {
			if h.ID == c.ID && h.Transcript != "" {
				text = h.Transcript
			}
		}
		pw.transcript.SetText(text)
		if led, ok := ParseLED(c.LEDColor); ok {
			pw.led.FillColor = led
		} else {
			pw.led.FillColor = color.NRGBA{0x00, 0x7a, 0xff, 0xff}
		}
	} else {
		pw.tg.SetText("Waiting for the next call…")
		pw.meta.SetText("")
		pw.transcript.SetText("")
		pw.led.FillColor = color.NRGBA{0x8e, 0x8e, 0x93, 0xff}
	}
	pw.led.Refresh()
	if st.Call != nil && st.Duration > 0 {
		pw.progress.SetValue(min(1, float64(st.Position)/float64(st.Duration)))
	} else {
		pw.progress.SetValue(0)
	}
	if st.Call != nil {
		pw.times.SetText(fmt.Sprintf("%s / %s", st.Position.Round(time.Second), st.Duration.Round(time.Second)))
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
	} else {
		pw.playBtn.SetText("Pause")
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
	problem := st.Device
	switch {
	case st.FFmpegMissing:
		problem = strings.TrimSpace(problem + " Some calls need ffmpeg to play (M4A/AAC, Ogg): install it (Debian: apt install ffmpeg).")
	case problem == "" && st.LastError != "":
		problem = st.LastError
	}
	pw.problem.SetText(problem)
	pw.histItems = pw.c.History()
	pw.history.Refresh()
	if len(pw.tgItems) != len(pw.c.talkgroupKeys()) {
		pw.reloadTalkgroups()
	}
}

// talkgroupKeys lists the talkgroups seen, sorted by system then label.
func (c *Controller) talkgroupKeys() []player.Talkgroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]player.Talkgroup, 0, len(c.talkgroups))
	for k := range c.talkgroups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := c.talkgroups[keys[i]], c.talkgroups[keys[j]]
		if a.SystemLabel != b.SystemLabel {
			return a.SystemLabel < b.SystemLabel
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return keys[i].TalkgroupID < keys[j].TalkgroupID
	})
	return keys
}

func (c *Controller) talkgroupInfo(t player.Talkgroup) tgInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.talkgroups[t]
}

func (c *Controller) notifyOn(t player.Talkgroup) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notify[t]
}

func (pw *playerWindow) reloadTalkgroups() {
	q := strings.ToLower(strings.TrimSpace(pw.search.Text))
	pw.tgItems = pw.tgItems[:0]
	for _, k := range pw.c.talkgroupKeys() {
		info := pw.c.talkgroupInfo(k)
		hay := strings.ToLower(strings.Join([]string{info.SystemLabel, info.Label, info.Name, info.Group, info.Tag, fmt.Sprint(k.TalkgroupID)}, " "))
		if q == "" || strings.Contains(hay, q) {
			pw.tgItems = append(pw.tgItems, k)
		}
	}
	pw.tgList.Refresh()
}

func selected(sel []player.Talkgroup, t player.Talkgroup) bool {
	if len(sel) == 0 {
		return true // an empty selection hears everything
	}
	for _, s := range sel {
		if s == t || (s.SystemID == t.SystemID && s.TalkgroupID == 0) {
			return true
		}
	}
	return false
}

func (pw *playerWindow) bindTalkgroup(i widget.ListItemID, row *fyne.Container) {
	if i >= len(pw.tgItems) {
		return
	}
	t := pw.tgItems[i]
	info := pw.c.talkgroupInfo(t)
	label := info.Label
	if label == "" {
		label = fmt.Sprintf("TG %d", t.TalkgroupID)
	}
	extra := []string{info.SystemLabel}
	if info.Group != "" {
		extra = append(extra, info.Group)
	}
	if info.Tag != "" {
		extra = append(extra, info.Tag)
	}
	var sel, notify *widget.Check
	for _, o := range row.Objects {
		if ch, ok := o.(*widget.Check); ok {
			if ch.Text == "Notify" {
				notify = ch
			} else {
				sel = ch
			}
		}
	}
	sel.OnChanged = nil
	sel.Text = label + "  (" + strings.Join(extra, " · ") + ")"
	sel.SetChecked(selected(pw.c.opts.Player.Filter().Selection, t))
	sel.OnChanged = func(on bool) { pw.setSelected([]player.Talkgroup{t}, on) }
	notify.OnChanged = nil
	notify.SetChecked(pw.c.notifyOn(t))
	notify.OnChanged = func(on bool) { pw.c.SetNotify(t, on) }
}

// setSelected adds or removes talkgroups from the selection. Unchecking
// one while everything is heard selects all the others.
func (pw *playerWindow) setSelected(ts []player.Talkgroup, on bool) {
	pw.c.uiMu.Lock()
	defer pw.c.uiMu.Unlock()
	p := pw.c.opts.Player
	cur := p.Filter().Selection
	set := map[player.Talkgroup]bool{}
	if len(cur) == 0 {
		for _, k := range pw.c.talkgroupKeys() {
			set[k] = true
		}
	} else {
		for _, s := range cur {
			set[s] = true
		}
	}
	for _, t := range ts {
		if on {
			set[t] = true
		} else {
			delete(set, t)
		}
	}
	next := make([]player.Talkgroup, 0, len(set))
	for k := range set {
		next = append(next, k)
	}
	sort.Slice(next, func(i, j int) bool {
		return next[i].SystemID < next[j].SystemID || (next[i].SystemID == next[j].SystemID && next[i].TalkgroupID < next[j].TalkgroupID)
	})
	p.SetSelection(next)
	pw.c.savePrefs()
	pw.tgList.Refresh()
}

func (pw *playerWindow) selectShown(on bool) {
	pw.c.uiMu.Lock()
	shown := append([]player.Talkgroup(nil), pw.tgItems...)
	pw.c.uiMu.Unlock()
	pw.setSelected(shown, on)
}
