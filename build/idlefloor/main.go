//go:build !headless

// Command idlefloor is the smallest Fyne tray app: a hidden window with a
// label and a tray menu, doing nothing. BenchmarkGUIIdle (app/) runs it
// beside Earshot under the same display and session bus, so Earshot's idle
// CPU and memory are reported next to the floor Fyne itself sets (Fyne
// 2.7's run loop wakes 60 times a second even when nothing changes:
// fyne-io/fyne#2506).
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("app.earshot.idlefloor")
	w := a.NewWindow("Idle floor")
	w.SetContent(widget.NewLabel("Nothing happens here."))
	if d, ok := a.(desktop.App); ok {
		d.SetSystemTrayMenu(fyne.NewMenu("Idle floor", fyne.NewMenuItem("Show", w.Show)))
	}
	a.Run()
}
