package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/archive"
	"earshot/relay/priority"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// The Settings tab: how calls play (catch-up after a drop, loudness
// levelling, what a priority call does to the one it interrupts), the call
// archive, and starting Earshot at log-in. A switch applies at once; the
// archive's fields apply together with their button.

// catchUpChoice is one of the catch-up window's choices.
type catchUpChoice struct {
	label string
	d     time.Duration
}

// catchUpChoices are the catch-up window's choices.
var catchUpChoices = []catchUpChoice{
	{"never", 0}, {"30 seconds", 30 * time.Second}, {"1 minute", time.Minute}, {"2 minutes", 2 * time.Minute},
	{"5 minutes", 5 * time.Minute}, {"15 minutes", 15 * time.Minute}, {"1 hour", time.Hour},
}

// Words of the interruption choice.
const (
	interruptRequeue = "Play it again afterwards"
	interruptDrop    = "Drop it (it stays in the history)"
)

// settingsTab is the window's Settings tab.
type settingsTab struct {
	pw        *playerWindow
	catchUp   *keySelect
	levelling *keyCheck
	interrupt *widget.RadioGroup
	autostart *keyCheck
	status    *widget.Label

	archOn               *keyCheck
	archDir              *widget.Entry
	archDays, archMB     *widget.Entry
	archTGs              []player.Talkgroup
	archTGWords          *widget.Label
	archApply            *keyButton
	archStatus, archNote *widget.Label
	archDirty            bool // the listener changed the archive fields and has not applied them

	rev     uint64
	content fyne.CanvasObject
}

func newSettingsTab(pw *playerWindow) *settingsTab {
	st := &settingsTab{pw: pw, status: widget.NewLabel(""), archStatus: widget.NewLabel(""), archNote: widget.NewLabel(""),
		archDir: widget.NewEntry(), archDays: widget.NewEntry(), archMB: widget.NewEntry(), archTGWords: widget.NewLabel("")}
	c := pw.c
	var labels []string
	for _, ch := range catchUpChoices {
		labels = append(labels, ch.label)
	}
	st.catchUp = newKeySelect(pw, labels, "", func(choice string) {
		if pw.updating {
			return
		}
		for _, ch := range catchUpChoices {
			if ch.label == choice {
				c.after(func() { c.opts.Core.SetCatchUp(ch.d) })()
			}
		}
	})
	st.levelling = newKeyCheck(pw, "Bring every call to one loudness (EBU R128 levelling)", func(on bool) {
		if !pw.updating {
			st.apply(listening.Change{Kind: listening.ChangeLevelling, On: on})
		}
	})
	st.interrupt = widget.NewRadioGroup([]string{interruptRequeue, interruptDrop}, func(choice string) {
		if pw.updating || choice == "" {
			return
		}
		policy := priority.Requeue
		if choice == interruptDrop {
			policy = priority.Drop
		}
		st.apply(listening.Change{Kind: listening.ChangeOnInterrupt, OnInterrupt: policy})
	})
	st.interrupt.Required = true
	st.interrupt.Horizontal = true
	st.autostart = newKeyCheck(pw, "Start Earshot when I log in", func(bool) {
		if !pw.updating {
			c.ToggleAutostart()
		}
	})
	if c.opts.SetAutostart == nil {
		st.autostart.Hide()
	}
	st.status.Importance = widget.DangerImportance
	st.status.Wrapping = fyne.TextWrapWord

	st.archOn = newKeyCheck(pw, "Keep every call's audio and details (for export), beyond the audio cache", func(bool) {
		if !pw.updating {
			st.archDirty = true
		}
	})
	st.archDir.SetPlaceHolder("the archive folder in Earshot's data folder")
	st.archDays.SetPlaceHolder(strconv.Itoa(archive.DefaultDays))
	st.archMB.SetPlaceHolder(strconv.Itoa(archive.DefaultMB))
	for _, e := range []*widget.Entry{st.archDir, st.archDays, st.archMB} {
		e.OnChanged = func(string) {
			if !pw.updating {
				st.archDirty = true
			}
		}
	}
	st.archTGWords.Wrapping = fyne.TextWrapWord
	chooseTGs := newKeyButton(pw, "Choose…", nil, st.chooseArchiveTalkgroups)
	st.archApply = newKeyButton(pw, "Apply", theme.ConfirmIcon(), st.applyArchive)
	st.archStatus.Wrapping = fyne.TextWrapWord
	st.archNote.Wrapping = fyne.TextWrapWord
	st.archNote.Importance = widget.LowImportance

	heading := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	playing := widget.NewForm(
		widget.NewFormItem("After a drop, play what was missed within", st.catchUp),
	)
	// Days and size on one row, so the whole tab fits the 640×560 window.
	bounds := container.NewGridWithColumns(2,
		container.NewBorder(nil, nil, nil, widget.NewLabel("days,"), st.archDays),
		container.NewBorder(nil, nil, widget.NewLabel("up to"), widget.NewLabel("MB a server"), st.archMB))
	archForm := widget.NewForm(
		widget.NewFormItem("Folder", st.archDir),
		widget.NewFormItem("Keep for", bounds),
		widget.NewFormItem("Talkgroups", container.NewBorder(nil, nil, nil, chooseTGs, st.archTGWords)),
	)
	body := container.NewVBox(
		heading("Listening"), playing, st.levelling,
		widget.NewLabel("A call that a priority call cuts short:"), st.interrupt,
		st.autostart,
		widget.NewSeparator(),
		heading("Call archive"), st.archOn, archForm,
		container.NewBorder(nil, nil, nil, st.archApply, st.archStatus), st.archNote,
		st.status, layout.NewSpacer(),
	)
	st.status.Hide()
	st.archNote.Hide()
	st.content = container.NewVScroll(container.NewPadded(body))
	return st
}

// showText sets a note's text and shows it only while it says something,
// so an empty note takes no room (the tab fits the window unscrolled).
func showText(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// apply sends a switch's change; a refusal is said under the tab, and the
// next snapshot puts the switch back.
func (st *settingsTab) apply(ch listening.Change) {
	st.pw.c.change(ch, func(err error) {
		if err != nil {
			showText(st.status, "Not changed: "+settingsError(err))
			st.rev = 0 // show the settings in force again
			return
		}
		showText(st.status, "")
	})
}

// update shows snapshot s (the window lock held, pw.updating set by
// standout.update).
func (st *settingsTab) update(s *listening.Snapshot) {
	for _, ch := range catchUpChoices {
		if ch.d == s.CatchUp && st.catchUp.Selected != ch.label {
			st.catchUp.SetSelected(ch.label)
		}
	}
	if !slices.ContainsFunc(catchUpChoices, func(ch catchUpChoice) bool { return ch.d == s.CatchUp }) {
		st.catchUp.PlaceHolder = fmt.Sprintf("%v", s.CatchUp)
		st.catchUp.ClearSelected()
	}
	st.autostart.SetChecked(st.pw.c.autostart)
	if s.Demo {
		showText(st.archNote, "The demo server's calls are made up, so they are not archived: these settings apply to your own server once you sign in.")
	} else {
		showText(st.archNote, "")
	}
	if s.SettingsRev == st.rev {
		return
	}
	st.rev = s.SettingsRev
	set := s.Settings
	st.levelling.SetChecked(set.Levelling)
	if set.OnInterrupt == priority.Drop {
		st.interrupt.SetSelected(interruptDrop)
	} else {
		st.interrupt.SetSelected(interruptRequeue)
	}
	if !st.archDirty {
		st.showArchive(set.Archive)
	}
}

// showArchive fills the archive's fields.
func (st *settingsTab) showArchive(a archive.Settings) {
	st.archOn.SetChecked(a.Enabled)
	st.archDir.SetText(a.Dir)
	st.archDays.SetText(numberOrEmpty(int64(a.MaxDays)))
	st.archMB.SetText(numberOrEmpty(a.MaxMB))
	st.archTGs = slices.Clone(a.Talkgroups)
	st.sayArchiveTalkgroups()
	if a.Enabled {
		st.archStatus.SetText(fmt.Sprintf("On: calls are kept for %d days, up to %d MB a server.", int(a.MaxAge().Hours()/24), a.MaxBytes()>>20))
	} else {
		st.archStatus.SetText("Off: no call is archived.")
	}
}

func numberOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func (st *settingsTab) sayArchiveTalkgroups() {
	st.archTGWords.SetText(pickedWords(st.archTGs, st.pw.snap.Directory, "every talkgroup"))
}

// archiveFields reads the archive's fields.
func (st *settingsTab) archiveFields() (archive.Settings, error) {
	a := archive.Settings{Enabled: st.archOn.Checked, Dir: strings.TrimSpace(st.archDir.Text), Talkgroups: st.archTGs}
	num := func(e *widget.Entry, what string) (int64, error) {
		t := strings.TrimSpace(e.Text)
		if t == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %q is not a whole number", what, t)
		}
		return n, nil
	}
	days, err := num(st.archDays, "keep for")
	if err != nil {
		return a, err
	}
	mb, err := num(st.archMB, "up to")
	if err != nil {
		return a, err
	}
	if days > archive.MaxDays {
		return a, fmt.Errorf("keep for: at most %d days", archive.MaxDays)
	}
	a.MaxDays, a.MaxMB = int(days), mb
	return a, a.Validate()
}

// applyArchive sends the archive's fields as one change.
func (st *settingsTab) applyArchive() {
	a, err := st.archiveFields()
	if err != nil {
		st.archStatus.SetText("Not applied: " + settingsError(err))
		return
	}
	st.archApply.Disable()
	st.pw.c.change(listening.Change{Kind: listening.ChangeArchive, Archive: &a}, func(err error) {
		st.archApply.Enable()
		if err != nil {
			st.archStatus.SetText("Not applied: " + settingsError(err))
			return
		}
		st.archDirty = false
		st.rev = 0
	})
}

// chooseArchiveTalkgroups picks the talkgroups the archive keeps.
func (st *settingsTab) chooseArchiveTalkgroups() {
	p := newTGPicker(st.pw.snap.Directory, st.archTGs)
	hint := widget.NewLabel("Tick the systems or talkgroups to keep; none ticked keeps every call.")
	hint.Wrapping = fyne.TextWrapWord
	content := container.NewBorder(hint, nil, nil, nil, p.content)
	dialog.ShowCustomConfirm("Talkgroups to archive", "Use these", "Cancel", content, func(ok bool) {
		if !ok {
			return
		}
		st.archTGs = p.Picked()
		st.archDirty = true
		st.sayArchiveTalkgroups()
	}, st.pw.w)
	// Dialogs size to their content; the list needs room.
	for _, o := range st.pw.w.Canvas().Overlays().List() {
		o.Resize(fyne.NewSize(520, 480))
	}
}
