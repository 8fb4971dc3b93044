package ui

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/alerts"
	"earshot/relay/archive"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/priority"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// What the listening core asks of the player for alerts and priority.

func (f *fakePlayer) Queue() []event.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var q []event.Call
	for _, id := range f.queued {
		q = append(q, event.Call{ID: id})
	}
	return q
}

func (f *fakePlayer) EnqueueAt(c event.Call, pos int, tone bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pos < 0 || pos > len(f.queued) {
		pos = len(f.queued)
	}
	f.queued = slices.Insert(f.queued, pos, c.ID)
	return true
}

func (f *fakePlayer) Alert(id int64, tone, bump bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.queued, id)
}

func (f *fakePlayer) Interrupt(c event.Call, tone, requeue bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec("interrupt")
	f.st.Call = &c
}

func (f *fakePlayer) Regain() {}

func (f *fakePlayer) Unqueue(drop func(event.Call) bool) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	f.queued = slices.DeleteFunc(f.queued, func(id int64) bool {
		if drop(event.Call{ID: id}) {
			out = append(out, id)
			return true
		}
		return false
	})
	return out
}

// alertsWindow is the golden window on an in-process core with the
// catalogue (opts change the core's options).
func alertsWindow(t *testing.T, opts ...func(*listening.Options)) (*Controller, *listening.Core) {
	t.Helper()
	c, feed := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"}, opts...)
	core := coreOf(c)
	cat := catalog()
	before := core.Snapshot().DirRev
	feed.hub.Publish(event.Event{Type: event.TypeCatalog, Catalog: &cat})
	for core.Snapshot().DirRev == before {
		time.Sleep(2 * time.Millisecond)
	}
	c.refresh()
	return c, core
}

// tapButton taps the button labelled text in the window's dialogs.
func tapButton(t *testing.T, c *Controller, text string) {
	t.Helper()
	var found *widget.Button
	for _, o := range c.win.w.Canvas().Overlays().List() {
		walkObjects(o, func(o fyne.CanvasObject) {
			if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
				found = b
			}
		})
	}
	if found == nil {
		t.Fatalf("no button %q in the window's dialogs", text)
	}
	test.Tap(found)
}

func walkObjects(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, ch := range x.Objects {
			walkObjects(ch, f)
		}
	case fyne.Widget:
		for _, ch := range test.WidgetRenderer(x).Objects() {
			walkObjects(ch, f)
		}
	}
}

// The rule dialog adds a rule on talkgroups picked from the catalogue,
// checks it with the alert engine as it is typed, and says a taken name in
// the engine's words.
func TestRuleDialogAddsChecksAndRefuses(t *testing.T) {
	c, core := alertsWindow(t)
	a := c.win.extra.alerts
	c.Do(func() { a.editRule(nil) })
	ed := a.editor
	test.Type(ed.name, "Working fire")
	test.Type(ed.regex, "(unclosed")
	if ed.save.Disabled() == false || !strings.Contains(ed.problem.Text, "regular expression") && !strings.Contains(ed.problem.Text, "missing closing") {
		t.Fatalf("a bad regex: save enabled %v, problem %q", !ed.save.Disabled(), ed.problem.Text)
	}
	ed.regex.SetText("")
	test.Type(ed.words, "working fire, second alarm")
	c.Do(func() { ed.picker.set(player.Talkgroup{SystemID: 1, TalkgroupID: 101}, true) })
	test.Tap(ed.bump)
	if ed.save.Disabled() || ed.problem.Text != "" {
		t.Fatalf("a good rule: save disabled %v, problem %q", ed.save.Disabled(), ed.problem.Text)
	}
	test.Tap(ed.save)
	c.WaitIdle()
	rules := core.Snapshot().Settings.Alerts
	want := alerts.Rule{Name: "Working fire", Systems: []int64{1}, Talkgroups: []int64{101}, Words: []string{"working fire", "second alarm"}, Bump: true}
	if len(rules) != 1 || !reflect.DeepEqual(rules[0], want) {
		t.Fatalf("stored %+v, want %+v", rules, want)
	}
	if a.editor != nil {
		t.Fatal("the dialog is still open after the rule was stored")
	}
	if len(a.rules) != 1 {
		t.Fatalf("the tab lists %d rules", len(a.rules))
	}

	// A second rule of the same name: the core refuses, the dialog says so.
	c.Do(func() { a.editRule(nil) })
	ed = a.editor
	test.Type(ed.name, "working FIRE")
	test.Type(ed.words, "fire")
	test.Tap(ed.save)
	c.WaitIdle()
	if !strings.Contains(ed.problem.Text, "An alert rule with that name exists") || a.editor == nil {
		t.Fatalf("a taken name: problem %q, dialog open %v", ed.problem.Text, a.editor != nil)
	}
	tapButton(t, c, "Cancel")

	// Renamed in the dialog: stored under the new name, in its place.
	r := rules[0]
	c.Do(func() { a.editRule(&r) })
	ed = a.editor
	if got := ed.picker.Picked(); len(got) != 1 || got[0].TalkgroupID != 101 {
		t.Fatalf("the dialog shows the rule's talkgroups as %v", got)
	}
	ed.name.SetText("Fire")
	test.Tap(ed.save)
	c.WaitIdle()
	if rules := core.Snapshot().Settings.Alerts; len(rules) != 1 || rules[0].Name != "Fire" || rules[0].Talkgroups[0] != 101 {
		t.Fatalf("after renaming: %+v", rules)
	}
	// Remove asks first.
	c.Do(func() { a.remove("Fire") })
	tapButton(t, c, "Yes")
	c.WaitIdle()
	if rules := core.Snapshot().Settings.Alerts; len(rules) != 0 {
		t.Fatalf("after removing: %+v", rules)
	}
}

// The quiet hours dialog takes spans past midnight, refuses a bad one in
// relay/quiet's words, and the Alerts tab's button pauses them.
func TestQuietHoursDialogAndPause(t *testing.T) {
	c, core := alertsWindow(t)
	a := c.win.extra.alerts
	if !a.quietPause.Disabled() {
		t.Fatal("Pause is offered with no quiet hours")
	}
	c.Do(a.editQuiet)
	q := a.quietEd
	test.Tap(q.on)
	test.Type(q.days[0], "22:00-07:00")
	test.Type(q.days[1], "25:00-07:00")
	if !q.save.Disabled() || !strings.Contains(q.problem.Text, "is not a time such as 07:30") {
		t.Fatalf("a bad span: save enabled %v, problem %q", !q.save.Disabled(), q.problem.Text)
	}
	q.days[1].SetText("")
	test.Tap(q.allowAlerts)
	test.Tap(q.save)
	c.WaitIdle()
	h := core.Snapshot().Settings.QuietHours
	if !h.Enabled || !h.AllowAlerts || h.AllowPriority || len(h.Days) != 1 || h.Days["mon"][0] != "22:00-07:00" {
		t.Fatalf("stored %+v", h)
	}
	c.refresh()
	if a.quietPause.Disabled() || !strings.Contains(a.quietLine.Text, "Mon 22:00-07:00; alerts pass") {
		t.Fatalf("the tab: pause disabled %v, %q", a.quietPause.Disabled(), a.quietLine.Text)
	}
	test.Tap(a.quietPause)
	if p := core.Snapshot().Quiet.PausedUntil; p.IsZero() {
		t.Fatal("Pause did not pause quiet hours")
	}
	if a.quietPause.Text != "Resume" {
		t.Fatalf("the button says %q while paused", a.quietPause.Text)
	}
	test.Tap(a.quietPause)
	if p := core.Snapshot().Quiet.PausedUntil; !p.IsZero() {
		t.Fatal("Resume did not resume quiet hours")
	}
}

// A talkgroup's priority and volume, from its Talkgroups row and from the
// now-playing block.
func TestTalkgroupPriorityAndVolumeFromTheWindow(t *testing.T) {
	c, core := alertsWindow(t)
	pw := c.win
	var trim *tgTrim
	for i, r := range pw.tgItems {
		if r.key == (player.Talkgroup{SystemID: 2, TalkgroupID: 201}) {
			row := pw.tgList.CreateItem().(*fyne.Container)
			pw.bindTalkgroup(i, row)
			walkObjects(row, func(o fyne.CanvasObject) {
				if x, ok := o.(*tgTrim); ok {
					trim = x
				}
			})
		}
	}
	if trim == nil {
		t.Fatal("no trim in PD North's row")
	}
	test.Tap(trim.priority)
	c.WaitIdle()
	if !core.Snapshot().Settings.IsPriority(player.Talkgroup{SystemID: 2, TalkgroupID: 201}) {
		t.Fatal("the row's Priority did not make PD North a priority talkgroup")
	}
	// The now-playing block acts on the playing call's talkgroup (101).
	np := pw.extra.trim
	if np.t != (player.Talkgroup{SystemID: 1, TalkgroupID: 101}) || np.volume.Disabled() || np.volume.Text != "TG 0 dB" {
		t.Fatalf("the now-playing trim is on %v, says %q", np.t, np.volume.Text)
	}
	test.Tap(np.volume)
	vol := np.popped
	if vol == nil || vol.label.Text != "Fire Dispatch volume" {
		t.Fatal("the volume button popped up no slider for Fire Dispatch")
	}
	vol.slider.SetValue(-6) // as a drag ends there
	c.WaitIdle()
	if db := core.Snapshot().Settings.VolumeOf(player.Talkgroup{SystemID: 1, TalkgroupID: 101}); db != -6 {
		t.Fatalf("Fire Dispatch's offset is %v dB, want -6", db)
	}
	c.refresh()
	if vol.value.Text != "−6 dB" || np.volume.Text != "TG −6 dB" {
		t.Fatalf("the slider says %q, the block %q", vol.value.Text, np.volume.Text)
	}
	test.Tap(vol.reset)
	c.WaitIdle()
	if db := core.Snapshot().Settings.VolumeOf(player.Talkgroup{SystemID: 1, TalkgroupID: 101}); db != 0 {
		t.Fatalf("after reset the offset is %v dB", db)
	}
}

// The Settings tab's switches apply at once; the archive's fields apply
// with their button, and a bad folder is refused in words.
func TestSettingsTabAppliesSwitchesAndTheArchive(t *testing.T) {
	c, core := alertsWindow(t)
	st := c.win.extra.settings
	// One at a time, as a listener clicks: each waits for the core's
	// answer (the test's taps do not run on the window's goroutine).
	test.Tap(st.levelling)
	c.WaitIdle()
	st.interrupt.SetSelected(interruptDrop)
	c.WaitIdle()
	st.catchUp.SetSelected("5 minutes")
	c.WaitIdle()
	s := core.Snapshot()
	if s.Settings.Levelling || s.Settings.OnInterrupt != priority.Drop || s.CatchUp != 5*time.Minute {
		t.Fatalf("levelling %v, onInterrupt %v, catch-up %v", s.Settings.Levelling, s.Settings.OnInterrupt, s.CatchUp)
	}
	test.Tap(st.archOn)
	test.Type(st.archDir, "relative/folder")
	test.Tap(st.archApply)
	c.WaitIdle()
	if !strings.HasPrefix(st.archStatus.Text, "Not applied: Dir: ") || core.Snapshot().Settings.Archive.Enabled {
		t.Fatalf("a relative folder: %q, archive %+v", st.archStatus.Text, core.Snapshot().Settings.Archive)
	}
	dir := t.TempDir()
	st.archDir.SetText(dir)
	st.archDays.SetText("7")
	st.archTGs = []player.Talkgroup{{SystemID: 2}}
	test.Tap(st.archApply)
	c.WaitIdle()
	want := archive.Settings{Enabled: true, Dir: dir, MaxDays: 7, Talkgroups: []filter.Talkgroup{{SystemID: 2}}}
	if got := core.Snapshot().Settings.Archive; !reflect.DeepEqual(got, want) {
		t.Fatalf("archive %+v, want %+v", got, want)
	}
	c.refresh()
	if st.archStatus.Text != "On: calls are kept for 7 days, up to 4096 MB a server." {
		t.Fatalf("the tab says %q", st.archStatus.Text)
	}
}

// An empty field of the rule dialog showed a bare example ("engine \d+"
// under "Or matching" of a rule on words only), which read as the rule's
// own pattern. Examples say they are examples.
func TestRuleDialogExamplesReadAsExamples(t *testing.T) {
	c, _ := alertsWindow(t)
	a := c.win.extra.alerts
	c.Do(func() { a.editRule(nil) })
	ed := a.editor
	for what, e := range map[string]*widget.Entry{"name": ed.name, "saying": ed.words, "or matching": ed.regex} {
		if !strings.HasPrefix(e.PlaceHolder, "e.g. ") && !strings.HasPrefix(e.PlaceHolder, "none, or e.g. ") {
			t.Errorf("the empty %s field shows %q, which reads as a value", what, e.PlaceHolder)
		}
	}
}

// Every setting is in sight in the 640×560 window, with no scrolling:
// "Start Earshot when I log in" used to sit below the fold.
func TestSettingsTabFitsTheWindow(t *testing.T) {
	c, _ := alertsWindow(t)
	st := c.win.extra.settings
	st.autostart.Show() // as when the desktop can start Earshot at log-in
	c.win.tabs.SelectIndex(tabSettings)
	c.win.w.Content().Refresh()
	scroll := st.content.(*container.Scroll)
	if need, have := scroll.Content.MinSize().Height, scroll.Size().Height; need > have {
		t.Fatalf("the Settings tab needs %.0f px and has %.0f: it scrolls", need, have)
	}
	// A refusal is said under the switches, and takes room only then.
	showText(st.status, "Not changed: something")
	if !st.status.Visible() {
		t.Fatal("the refusal is not shown")
	}
	showText(st.status, "")
	if st.status.Visible() {
		t.Fatal("an empty note takes room")
	}
}
