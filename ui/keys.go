package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Keyboard shortcuts reach the playback window wherever its focus is.
//
// Fyne hands a key to the focused widget, and to the canvas's handlers only
// while nothing is focused. Tapping a checkbox, slider, select or list row
// focuses it, so without care Space would then toggle the checkbox, ← and →
// would move the volume or pick an avoid time, and Space in the history
// would play a row. The window's non-text controls are therefore the thin
// wrappers below: they hand the shortcut keys to the window and keep the
// others (Tab, ↑ ↓, Enter) for themselves, so the controls stay usable from
// the keyboard. The search entry keeps every key for typing; Escape leaves
// it (and any other control), giving the keys back to the window.

// keyTarget takes the shortcut keys; each method reports whether the key
// was a shortcut.
type keyTarget interface {
	shortcutKey(e *fyne.KeyEvent) bool
	shortcutRune(r rune) bool
	unfocus()
}

// passKey is what every wrapper does with a key: Escape leaves the control,
// a shortcut goes to the window, Enter does the control's enter (if any)
// and any other key goes to the control's own handling (if any).
func passKey(keys keyTarget, e *fyne.KeyEvent, enter func(), other func(*fyne.KeyEvent)) {
	switch {
	case e.Name == fyne.KeyEscape:
		keys.unfocus()
	case keys.shortcutKey(e):
	case e.Name == fyne.KeyReturn || e.Name == fyne.KeyEnter:
		if enter != nil {
			enter()
		}
	case other != nil:
		other(e)
	}
}

// space is the key event a control's own handling takes as "activate"
// (a new one each time: handlers get a pointer).
func space() *fyne.KeyEvent { return &fyne.KeyEvent{Name: fyne.KeySpace} }

// keyCheck is a checkbox that passes shortcuts on; Enter toggles it.
type keyCheck struct {
	widget.Check
	keys keyTarget
}

func newKeyCheck(keys keyTarget, label string, changed func(bool)) *keyCheck {
	c := &keyCheck{keys: keys}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

func (c *keyCheck) TypedKey(e *fyne.KeyEvent) {
	passKey(c.keys, e, func() {
		if !c.Disabled() {
			c.SetChecked(!c.Checked)
		}
	}, nil)
}

func (c *keyCheck) TypedRune(r rune) { c.keys.shortcutRune(r) }

// keyButton is a button that passes shortcuts on; Enter presses it.
type keyButton struct {
	widget.Button
	keys keyTarget
}

func newKeyButton(keys keyTarget, label string, icon fyne.Resource, tapped func()) *keyButton {
	b := &keyButton{keys: keys}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

func (b *keyButton) TypedKey(e *fyne.KeyEvent) {
	passKey(b.keys, e, func() { b.Button.TypedKey(space()) }, nil)
}

func (b *keyButton) TypedRune(r rune) { b.keys.shortcutRune(r) }

// keySelect is a drop-down that passes shortcuts on (its own ← → would
// change the choice); Enter, ↑ and ↓ open it.
type keySelect struct {
	widget.Select
	keys keyTarget
}

func newKeySelect(keys keyTarget, options []string, placeHolder string, changed func(string)) *keySelect {
	s := &keySelect{keys: keys}
	s.Options, s.PlaceHolder, s.OnChanged = options, placeHolder, changed
	s.ExtendBaseWidget(s)
	return s
}

func (s *keySelect) TypedKey(e *fyne.KeyEvent) {
	passKey(s.keys, e, func() { s.Select.TypedKey(space()) }, s.Select.TypedKey)
}

func (s *keySelect) TypedRune(r rune) { s.keys.shortcutRune(r) }

// keySlider is a horizontal slider that passes shortcuts on (its own ← →
// would move it); ↑ and ↓ move it instead.
type keySlider struct {
	widget.Slider
	keys keyTarget
}

func newKeySlider(keys keyTarget, lo, hi float64) *keySlider {
	s := &keySlider{keys: keys}
	s.Min, s.Max, s.Step, s.Orientation = lo, hi, 1, widget.Horizontal
	s.ExtendBaseWidget(s)
	return s
}

func (s *keySlider) TypedKey(e *fyne.KeyEvent) {
	passKey(s.keys, e, nil, func(e *fyne.KeyEvent) {
		switch e.Name {
		case fyne.KeyUp:
			s.Slider.TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
		case fyne.KeyDown:
			s.Slider.TypedKey(&fyne.KeyEvent{Name: fyne.KeyLeft})
		}
	})
}

func (s *keySlider) TypedRune(r rune) { s.keys.shortcutRune(r) }

// keyList is a list that passes shortcuts on (its own Space would select
// the focused row); ↑ ↓ move through it and Enter selects.
type keyList struct {
	widget.List
	keys keyTarget
}

func newKeyList(keys keyTarget, length func() int, create func() fyne.CanvasObject, update func(widget.ListItemID, fyne.CanvasObject)) *keyList {
	l := &keyList{keys: keys}
	l.Length, l.CreateItem, l.UpdateItem = length, create, update
	l.ExtendBaseWidget(l)
	return l
}

func (l *keyList) TypedKey(e *fyne.KeyEvent) {
	passKey(l.keys, e, func() { l.List.TypedKey(space()) }, l.List.TypedKey)
}

func (l *keyList) TypedRune(r rune) { l.keys.shortcutRune(r) }

// searchEntry is a text entry: it keeps every key for typing, except
// Escape, which leaves it.
type searchEntry struct {
	widget.Entry
	keys keyTarget
}

func newSearchEntry(keys keyTarget) *searchEntry {
	e := &searchEntry{keys: keys}
	e.ExtendBaseWidget(e)
	return e
}

func (e *searchEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		e.keys.unfocus()
		return
	}
	e.Entry.TypedKey(k)
}
