//go:build !headless

// Command idlefloor is the smallest Fyne tray app: a hidden window with a
// label and a tray menu, doing nothing. BenchmarkResident (app/) runs it
// beside Earshot under the same display and session bus, so Earshot's
// figures are reported next to the floor Fyne itself sets (Fyne 2.7's run
// loop wakes 60 times a second even when nothing changes:
// fyne-io/fyne#2506). With -show its window is shown, at the playback
// window's size: the floor for a Fyne process with a window open.
package main

import (
	"flag"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

func main() {
	show := flag.Bool("show", false, "show the window (640×560)")
	flag.Parse()
	a := app.NewWithID("app.earshot.idlefloor")
	w := a.NewWindow("Idle floor")
	w.SetContent(widget.NewLabel("Nothing happens here."))
	if d, ok := a.(desktop.App); ok {
		d.SetSystemTrayMenu(fyne.NewMenu("Idle floor", fyne.NewMenuItem("Show", w.Show)))
	}
	if *show {
		w.Resize(fyne.NewSize(640, 560))
		w.Show()
	}
	a.Run()
}
