package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// StartupErrorWindow is what a desktop launch shows when Earshot cannot
// start its relay (the port is taken, another process holds the account,
// the keyring is locked…): launched from a menu, nothing reads stderr, and
// the app would otherwise end without a word. It says what happened and
// offers Quit; closing it quits too.
func StartupErrorWindow(a fyne.App, err error) fyne.Window {
	w := a.NewWindow("Earshot")
	title := widget.NewLabelWithStyle("Earshot could not start", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	msg := widget.NewLabel(err.Error())
	msg.Wrapping = fyne.TextWrapWord
	quit := widget.NewButton("Quit", a.Quit)
	quit.Importance = widget.HighImportance
	w.SetContent(container.NewBorder(title, container.NewHBox(layout.NewSpacer(), quit), nil, nil, msg))
	w.Resize(fyne.NewSize(520, 220))
	w.SetOnClosed(a.Quit)
	return w
}
