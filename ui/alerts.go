package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/alerts"
	"earshot/relay/quiet"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// The Alerts tab: how quiet hours stand (pause them, edit them) and the
// current server's alert rules (add, edit, remove). Every edit goes to the
// listening core as one change and is shown when the core's settings come
// back; a refusal is shown in the settings' own words.

// change sends one settings edit off the UI goroutine; done runs on it
// (with the window lock held) with the core's answer.
func (c *Controller) change(ch listening.Change, done func(error)) {
	c.background(20*time.Second, func(ctx context.Context) {
		err := c.opts.Core.ChangeSettings(ctx, ch)
		c.onUI(false, func() {
			if done != nil {
				done(err)
			}
			c.refreshLocked()
		})
	})
}

// settingsError words a refused change: the settings' own message without
// the name of the error kind before it.
func settingsError(err error) string {
	msg := err.Error()
	// "invalid alert rule: " and the like say nothing the dialog does not;
	// "an alert rule with that name exists: " does.
	for _, kind := range []error{alerts.ErrInvalid, quiet.ErrInvalid, listening.ErrInvalidChange} {
		msg = strings.TrimPrefix(msg, kind.Error()+": ")
	}
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// alertsTab is the window's Alerts tab.
type alertsTab struct {
	pw         *playerWindow
	quietLine  *widget.Label
	quietPause *keyButton
	heading    *widget.Label
	status     *widget.Label
	list       *keyList
	empty      *widget.Label
	rules      []alerts.Rule
	rev        uint64 // the settings revision shown
	content    fyne.CanvasObject

	// editor is the rule dialog open now (nil: none); quietEd the quiet
	// hours dialog. Tests drive them.
	editor  *ruleEditor
	quietEd *quietEditor
}

func newAlertsTab(pw *playerWindow) *alertsTab {
	a := &alertsTab{pw: pw, quietLine: widget.NewLabel(""), heading: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		status: widget.NewLabel(""), empty: widget.NewLabel("No alert rules yet. A rule tells you when a talkgroup is active, or when a call says certain words.")}
	a.quietLine.Wrapping = fyne.TextWrapWord
	a.status.Wrapping = fyne.TextWrapWord
	a.status.Importance = widget.DangerImportance
	a.status.Hide()
	a.empty.Wrapping = fyne.TextWrapWord
	a.heading.Truncation = fyne.TextTruncateEllipsis
	a.quietPause = newKeyButton(pw, "Pause for an hour", nil, a.togglePause)
	quietEdit := newKeyButton(pw, "Edit quiet hours…", nil, a.editQuiet)
	add := newKeyButton(pw, "Add rule…", theme.ContentAddIcon(), func() { a.editRule(nil) })
	add.Importance = widget.HighImportance
	a.list = newKeyList(pw, func() int { return len(a.rules) }, newRuleRow, func(i widget.ListItemID, o fyne.CanvasObject) {
		if i < len(a.rules) {
			a.bindRule(a.rules[i], o.(*fyne.Container))
		}
	})
	a.list.OnSelected = func(i widget.ListItemID) {
		a.list.UnselectAll()
		if i < len(a.rules) {
			r := a.rules[i]
			a.editRule(&r)
		}
	}
	quiet := container.NewBorder(nil, nil, widget.NewIcon(theme.VisibilityOffIcon()), container.NewHBox(a.quietPause, quietEdit), a.quietLine)
	top := container.NewVBox(quiet, widget.NewSeparator(), container.NewBorder(nil, nil, nil, add, a.heading), a.status)
	a.content = container.NewBorder(top, nil, nil, nil, container.NewStack(a.empty, a.list))
	return a
}

// newRuleRow is a rule's row: its name beside Edit and Remove, and under
// them what it does, across the whole row (beside the buttons it was cut
// short at the window's 640 px: "priority, to…").
func newRuleRow() fyne.CanvasObject {
	name := widget.NewLabelWithStyle("rule", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Truncation = fyne.TextTruncateEllipsis
	what := widget.NewLabel("calls on …")
	what.Truncation = fyne.TextTruncateEllipsis
	remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), nil)
	edit := widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), nil)
	return container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(edit, remove), name), what)
}

func (a *alertsTab) bindRule(r alerts.Rule, row *fyne.Container) {
	top := row.Objects[0].(*fyne.Container)
	top.Objects[0].(*widget.Label).SetText(r.Name)
	buttons := top.Objects[1].(*fyne.Container)
	buttons.Objects[0].(*widget.Button).OnTapped = func() { a.editRule(&r) }
	buttons.Objects[1].(*widget.Button).OnTapped = func() { a.remove(r.Name) }
	row.Objects[1].(*widget.Label).SetText(describeRule(r, a.pw.snap.Directory))
}

// update shows snapshot s (the window lock held).
func (a *alertsTab) update(s *listening.Snapshot) {
	c := a.pw.c
	a.quietLine.SetText(quietWords(s, c.opts.Now(), c.opts.Location))
	switch {
	case !s.Quiet.PausedUntil.IsZero():
		a.quietPause.SetText("Resume")
		a.quietPause.Enable()
	case s.Quiet.Scheduled:
		a.quietPause.SetText("Pause for an hour")
		a.quietPause.Enable()
	default:
		a.quietPause.SetText("Pause for an hour")
		a.quietPause.Disable()
	}
	a.heading.SetText("Alert rules for " + serverWords(s))
	if s.SettingsRev == a.rev && len(s.Settings.Alerts) == len(a.rules) {
		return
	}
	a.rev = s.SettingsRev
	a.rules = s.Settings.Alerts
	if len(a.rules) == 0 {
		a.empty.Show()
	} else {
		a.empty.Hide()
	}
	a.list.Refresh()
}

func serverWords(s *listening.Snapshot) string {
	if s.Demo {
		return "the demo server"
	}
	return s.ServerName()
}

// quietWords says how quiet hours stand: in force or paused, else when
// they are.
func quietWords(s *listening.Snapshot, now time.Time, loc *time.Location) string {
	if line := s.QuietLineAt(now, loc); line != "" {
		return line + "."
	}
	h := s.Settings.QuietHours
	if !s.Quiet.Scheduled {
		return "Quiet hours are off."
	}
	text := "Quiet hours: " + quietSchedule(h)
	if !s.Quiet.Until.IsZero() {
		text += " (next from " + s.Quiet.Until.In(loc).Format("Mon 15:04") + ")"
	}
	return text + "."
}

// weekdays are quiet.Hours' day keys, Monday first, with their names.
var weekdays = [...]struct{ key, short, long string }{
	{"mon", "Mon", "Monday"}, {"tue", "Tue", "Tuesday"}, {"wed", "Wed", "Wednesday"}, {"thu", "Thu", "Thursday"},
	{"fri", "Fri", "Friday"}, {"sat", "Sat", "Saturday"}, {"sun", "Sun", "Sunday"},
}

// quietSchedule sums a schedule up: days with the same spans together
// ("Mon–Fri 22:00-07:00; Sat, Sun 23:00-09:00"), and what passes.
func quietSchedule(h quiet.Hours) string {
	spansOf := func(key string) string {
		for k, v := range h.Days {
			if strings.EqualFold(k, key) {
				return strings.Join(v, ", ")
			}
		}
		return ""
	}
	var parts []string
	for i := 0; i < len(weekdays); {
		spans := spansOf(weekdays[i].key)
		j := i + 1
		for j < len(weekdays) && spansOf(weekdays[j].key) == spans {
			j++
		}
		if spans != "" {
			days := weekdays[i].short
			switch j - i {
			case 1:
			case 2:
				days += ", " + weekdays[j-1].short
			default:
				days += "–" + weekdays[j-1].short
			}
			parts = append(parts, days+" "+spans)
		}
		i = j
	}
	if pass := listening.QuietPasses(h.AllowPriority, h.AllowAlerts); pass != "" {
		parts = append(parts, pass)
	}
	return strings.Join(parts, "; ")
}

// describeRule says what a rule does, naming talkgroups from the
// catalogue.
func describeRule(r alerts.Rule, d listening.Directory) string {
	where := "Any talkgroup"
	if len(r.Systems) > 0 || len(r.Talkgroups) > 0 {
		var names []string
		for _, tg := range r.Talkgroups {
			name := fmt.Sprintf("TG %d", tg)
			for _, sys := range d.Systems {
				k := player.Talkgroup{SystemID: sys.ID, TalkgroupID: tg}
				if _, ok := d.Info[k]; ok && (len(r.Systems) == 0 || slices.Contains(r.Systems, sys.ID)) {
					name = d.TalkgroupLabel(k)
					break
				}
			}
			names = append(names, name)
		}
		if len(r.Talkgroups) == 0 {
			for _, sys := range r.Systems {
				names = append(names, "all of "+d.SystemLabel(sys))
			}
		}
		where = strings.Join(names, ", ")
	}
	var says []string
	for _, w := range r.Words {
		says = append(says, "“"+w+"”")
	}
	if r.Regex != "" {
		says = append(says, "/"+r.Regex+"/")
	}
	out := where
	if len(says) > 0 {
		out += " · saying " + strings.Join(says, " or ")
	}
	var acts []string
	if r.Priority {
		acts = append(acts, "priority")
	}
	if r.Tone {
		acts = append(acts, "tone")
	}
	if r.Bump {
		acts = append(acts, "plays next")
	}
	if len(acts) > 0 {
		out += " · " + strings.Join(acts, ", ")
	}
	return out
}

func (a *alertsTab) togglePause() {
	s := a.pw.snap
	if !s.Quiet.PausedUntil.IsZero() {
		a.pw.c.after(func() { a.pw.c.opts.Core.PauseQuietHours(0) })()
		return
	}
	a.pw.c.after(func() { a.pw.c.opts.Core.PauseQuietHours(listening.QuietPause) })()
}

// remove asks, then removes the rule named name.
func (a *alertsTab) remove(name string) {
	dialog.ShowConfirm("Remove the alert rule?", fmt.Sprintf("Remove “%s”? Calls it matched keep their marks.", name), func(ok bool) {
		if !ok {
			return
		}
		a.pw.c.change(listening.Change{Kind: listening.ChangeAlertRemove, RuleName: name}, func(err error) {
			if err != nil {
				setShown(a.status, "Could not remove “"+name+"”: "+settingsError(err))
				return
			}
			setShown(a.status, "")
		})
	}, a.pw.w)
}

// ruleEditor is the dialog that adds or edits a rule.
type ruleEditor struct {
	old                  string // the rule's name before the edit ("": a new rule)
	orig                 alerts.Rule
	name, words, regex   *widget.Entry
	priority, tone, bump *widget.Check
	picker               *tgPicker
	mixed, problem       *widget.Label
	save, cancel         *widget.Button
	dlg                  *dialog.CustomDialog
	extraSys, extraTGs   []int64 // the rule's ids the catalogue does not list
	submitted            bool    // Save was pressed: say what is wrong even with no name yet
}

// editRule opens the rule dialog on r (nil: a new rule).
func (a *alertsTab) editRule(r *alerts.Rule) {
	pw := a.pw
	ed := &ruleEditor{name: widget.NewEntry(), words: widget.NewEntry(), regex: widget.NewEntry(),
		priority: widget.NewCheck("Priority: it interrupts other calls, and may pass quiet hours", nil),
		tone:     widget.NewCheck("Play a short tone before it", nil),
		bump:     widget.NewCheck("Play it next (ahead of the calls waiting)", nil),
		mixed:    widget.NewLabel(""), problem: widget.NewLabel("")}
	title := "New alert rule"
	if r != nil {
		ed.old, ed.orig = r.Name, *r
		title = "Alert rule “" + r.Name + "”"
		ed.name.SetText(r.Name)
		ed.words.SetText(strings.Join(r.Words, ", "))
		ed.regex.SetText(r.Regex)
		ed.priority.SetChecked(r.Priority)
		ed.tone.SetChecked(r.Tone)
		ed.bump.SetChecked(r.Bump)
	}
	picks, extraSys, extraTGs := picksOf(ed.orig, pw.snap.Directory)
	ed.extraSys, ed.extraTGs = extraSys, extraTGs
	ed.picker = newTGPicker(pw.snap.Directory, picks)
	// Examples say so: a bare "engine \d+" in an empty field read as the
	// rule's own pattern.
	ed.name.SetPlaceHolder("e.g. Mayday")
	ed.words.SetPlaceHolder("none, or e.g. mayday, structure fire")
	ed.regex.SetPlaceHolder(`none, or e.g. engine \d+`)
	ed.problem.Importance = widget.DangerImportance
	ed.problem.Wrapping = fyne.TextWrapWord
	ed.mixed.Wrapping = fyne.TextWrapWord
	ed.mixed.Importance = widget.WarningImportance
	for _, e := range []*widget.Entry{ed.name, ed.words, ed.regex} {
		e.OnChanged = func(string) { ed.validate() }
	}
	ed.picker.onChanged = ed.validate
	ed.cancel = widget.NewButton("Cancel", func() { ed.dlg.Hide() })
	ed.save = widget.NewButtonWithIcon("Save", theme.ConfirmIcon(), func() { a.saveRule(ed) })
	ed.save.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem("Name", ed.name),
		&widget.FormItem{Text: "Saying", Widget: ed.words, HintText: "Whole words or phrases, any case, commas between"},
		&widget.FormItem{Text: "Or matching", Widget: ed.regex, HintText: "A regular expression (RE2), any case"},
		&widget.FormItem{Text: "Calls on", Widget: container.New(steadyLayout{height: 230}, ed.picker.content),
			HintText: "None ticked: calls on any system and talkgroup"},
		widget.NewFormItem("Then", container.NewVBox(ed.priority, ed.tone, ed.bump)),
	)
	hint := widget.NewLabel("With words or an expression, only calls whose transcript says one fire the rule. Transcripts often come after the call: the alert follows then, and says when the call already played.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	a.editor = ed
	ed.dlg = showForm(pw.w, title, container.NewVBox(form, ed.mixed, hint), ed.problem, ed.cancel, ed.save,
		fyne.NewSize(600, 640), func() {
			if a.editor == ed {
				a.editor = nil
			}
		})
	ed.validate()
}

// showForm shows a dialog of body (scrolling if the window is small) with
// problem, cancel and save under it, as large as want or as the window
// allows; closed runs when it closes.
func showForm(w fyne.Window, title string, body fyne.CanvasObject, problem *widget.Label, cancel, save *widget.Button,
	want fyne.Size, closed func()) *dialog.CustomDialog {
	buttons := container.NewBorder(nil, nil, nil, container.NewHBox(cancel, save), problem)
	d := dialog.NewCustomWithoutButtons(title, container.NewBorder(nil, buttons, nil, nil, container.NewVScroll(body)), w)
	d.SetOnClosed(closed)
	have := w.Canvas().Size()
	d.Resize(fyne.NewSize(min(want.Width, have.Width-24), min(want.Height, have.Height-24)))
	d.Show()
	return d
}

// picksOf is what a rule's systems and talkgroups are in the catalogue's
// terms, and the ids it does not list.
func picksOf(r alerts.Rule, d listening.Directory) (picks []player.Talkgroup, extraSys, extraTGs []int64) {
	if len(r.Talkgroups) == 0 {
		for _, sys := range r.Systems {
			picks = append(picks, player.Talkgroup{SystemID: sys})
		}
		return picks, nil, nil
	}
	foundTG, foundSys := map[int64]bool{}, map[int64]bool{}
	for _, k := range d.Keys() {
		if slices.Contains(r.Talkgroups, k.TalkgroupID) && (len(r.Systems) == 0 || slices.Contains(r.Systems, k.SystemID)) {
			picks = append(picks, k)
			foundTG[k.TalkgroupID], foundSys[k.SystemID] = true, true
		}
	}
	for _, tg := range r.Talkgroups {
		if !foundTG[tg] {
			extraTGs = append(extraTGs, tg)
		}
	}
	for _, sys := range r.Systems {
		if !foundSys[sys] {
			extraSys = append(extraSys, sys)
		}
	}
	return picks, extraSys, extraTGs
}

// rule is the rule as the dialog stands.
func (ed *ruleEditor) rule() alerts.Rule {
	r := alerts.Rule{Name: strings.TrimSpace(ed.name.Text), Regex: strings.TrimSpace(ed.regex.Text),
		Words: alerts.ParseWords(ed.words.Text), Priority: ed.priority.Checked, Tone: ed.tone.Checked, Bump: ed.bump.Checked}
	if !ed.picker.touched {
		r.Systems, r.Talkgroups = ed.orig.Systems, ed.orig.Talkgroups
		return r
	}
	systems, tgs := map[int64]bool{}, map[int64]bool{}
	for _, t := range ed.picker.Picked() {
		systems[t.SystemID] = true
		if t.TalkgroupID != 0 {
			tgs[t.TalkgroupID] = true
		}
	}
	for _, id := range ed.extraSys {
		systems[id] = true
	}
	for _, id := range ed.extraTGs {
		tgs[id] = true
	}
	for id := range systems {
		r.Systems = append(r.Systems, id)
	}
	for id := range tgs {
		r.Talkgroups = append(r.Talkgroups, id)
	}
	return alerts.Normalize(r)
}

// validate checks the rule with the alert engine's own validation as it
// is typed, and says what is wrong in its words.
func (ed *ruleEditor) validate() {
	r := ed.rule()
	err := alerts.Validate(alerts.Normalize(r))
	ed.mixed.SetText("")
	whole, some := false, false
	for _, t := range ed.picker.Picked() {
		whole = whole || t.TalkgroupID == 0
		some = some || t.TalkgroupID != 0
	}
	if whole && some {
		ed.mixed.SetText("A rule matches a call by its system and its talkgroup number together: with a whole system and talkgroups ticked, only those talkgroup numbers are heard in that system. Make one rule per system to hear a system whole.")
	}
	// A rule without a name yet is not an error worth shouting about.
	if err != nil && (r.Name != "" || ed.submitted) {
		ed.problem.SetText(settingsError(err))
	} else {
		ed.problem.SetText("")
	}
	if err != nil {
		ed.save.Disable()
	} else {
		ed.save.Enable()
	}
}

// saveRule sends the dialog's rule to the core; the dialog closes once it
// is stored, or says why it was refused.
func (a *alertsTab) saveRule(ed *ruleEditor) {
	ed.submitted = true
	r := ed.rule()
	if err := alerts.Validate(alerts.Normalize(r)); err != nil {
		ed.problem.SetText(settingsError(err))
		return
	}
	ed.save.Disable()
	a.pw.c.change(listening.Change{Kind: listening.ChangeAlert, RuleName: ed.old, Rule: &r}, func(err error) {
		ed.save.Enable()
		if err != nil {
			ed.problem.SetText(settingsError(err))
			return
		}
		ed.dlg.Hide()
	})
}

// quietEditor is the quiet hours dialog: a line of spans per weekday and
// what passes.
type quietEditor struct {
	on                         *widget.Check
	days                       [len(weekdays)]*widget.Entry
	allowPriority, allowAlerts *widget.Check
	problem                    *widget.Label
	save                       *widget.Button
	dlg                        *dialog.CustomDialog
	zone                       string
}

func (a *alertsTab) editQuiet() {
	pw := a.pw
	h := pw.snap.Settings.QuietHours
	q := &quietEditor{on: widget.NewCheck("Quiet hours on", nil),
		allowPriority: widget.NewCheck("Priority talkgroups and priority rules play and notify", nil),
		allowAlerts:   widget.NewCheck("Calls an alert rule matches play and notify", nil),
		problem:       widget.NewLabel(""), zone: h.Zone}
	q.on.SetChecked(h.Enabled)
	q.allowPriority.SetChecked(h.AllowPriority)
	q.allowAlerts.SetChecked(h.AllowAlerts)
	q.problem.Importance = widget.DangerImportance
	q.problem.Wrapping = fyne.TextWrapWord
	form := widget.NewForm()
	for i, d := range weekdays {
		e := widget.NewEntry()
		for k, v := range h.Days {
			if strings.EqualFold(k, d.key) {
				e.SetText(strings.Join(v, ", "))
			}
		}
		e.SetPlaceHolder("none, or e.g. 22:00-07:00")
		e.OnChanged = func(string) { q.validate() }
		q.days[i] = e
		form.Append(d.long, e)
	}
	q.on.OnChanged = func(bool) { q.validate() }
	copyMonday := widget.NewButton("Copy Monday to every day", func() {
		for _, e := range q.days[1:] {
			e.SetText(q.days[0].Text)
		}
	})
	hint := widget.NewLabel("Spans in 24-hour time, commas between them. A span whose end comes before its start runs past midnight into the next day; 00:00-00:00 is the whole day. While quiet hours are on, calls are not played and notifications wait until they end.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	q.save = widget.NewButtonWithIcon("Save", theme.ConfirmIcon(), func() { a.saveQuiet(q) })
	q.save.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { q.dlg.Hide() })
	body := container.NewVBox(q.on, form, container.NewHBox(copyMonday), q.allowPriority, q.allowAlerts, hint)
	a.quietEd = q
	q.dlg = showForm(pw.w, "Quiet hours", body, q.problem, cancel, q.save, fyne.NewSize(580, 640), func() {
		if a.quietEd == q {
			a.quietEd = nil
		}
	})
	q.validate()
}

// hours is the schedule as the dialog stands.
func (q *quietEditor) hours() quiet.Hours {
	h := quiet.Hours{Enabled: q.on.Checked, AllowPriority: q.allowPriority.Checked, AllowAlerts: q.allowAlerts.Checked, Zone: q.zone}
	for i, d := range weekdays {
		var spans []string
		for _, s := range strings.Split(q.days[i].Text, ",") {
			if s = strings.Join(strings.Fields(s), ""); s != "" {
				spans = append(spans, s)
			}
		}
		if len(spans) > 0 {
			if h.Days == nil {
				h.Days = map[string][]string{}
			}
			h.Days[d.key] = spans
		}
	}
	return h
}

// validate checks the schedule with relay/quiet's own rules and words.
func (q *quietEditor) validate() {
	if _, err := quiet.Compile(q.hours(), nil); err != nil {
		q.problem.SetText(settingsError(err))
		q.save.Disable()
		return
	}
	q.problem.SetText("")
	q.save.Enable()
}

func (a *alertsTab) saveQuiet(q *quietEditor) {
	h := q.hours()
	q.save.Disable()
	a.pw.c.change(listening.Change{Kind: listening.ChangeQuietHours, QuietHours: &h}, func(err error) {
		q.save.Enable()
		if err != nil {
			q.problem.SetText(settingsError(err))
			return
		}
		q.dlg.Hide()
	})
}
