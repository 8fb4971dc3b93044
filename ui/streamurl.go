package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// streamURLNote says why this window is open and how long the copy lasts.
const streamURLNote = "No clipboard program (xclip, xsel or wl-clipboard) is installed to keep a copy after " +
	"Earshot's windows close, so the URL is on the clipboard while this window is open. " +
	"Paste it now, or install one of them and copy again."

// ShowStreamURL opens a window with the live feed's URL and a Copy
// button, and copies it: the tray's Copy stream URL when no clipboard
// program can keep the copy (a copy on X11 or Wayland lasts as long as the
// process that made it, here this window's). Call it with uiMu held.
func (c *Controller) ShowStreamURL(u string) {
	w := c.app.NewWindow("Earshot — stream URL")
	intro := widget.NewLabel("The live feed's URL, with the tray's listen token (anyone given it can listen until the token is revoked):")
	intro.Wrapping = fyne.TextWrapWord
	entry := widget.NewEntry()
	entry.SetText(u)
	// Selectable, not editable: an edit is put back at once.
	entry.OnChanged = func(s string) {
		if s != u {
			entry.SetText(u)
		}
	}
	note := widget.NewLabel(streamURLNote)
	note.Wrapping = fyne.TextWrapWord
	copyBtn := widget.NewButton("Copy", func() { c.app.Clipboard().SetContent(u) })
	copyBtn.Importance = widget.HighImportance
	closeBtn := widget.NewButton("Close", w.Close)
	w.SetContent(container.NewBorder(container.NewVBox(intro, entry), container.NewHBox(layout.NewSpacer(), copyBtn, closeBtn),
		nil, nil, note))
	w.Resize(fyne.NewSize(560, 240))
	c.windowOpened(w, nil)
	c.app.Clipboard().SetContent(u)
	w.Show()
}
