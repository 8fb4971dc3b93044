// Command systrayfloor is the smallest tray program without Fyne: a
// fyne.io/systray item with Earshot's menu and icon, doing nothing. The
// resident benchmark (app/, BenchmarkResidentIdle) runs it beside Earshot
// and build/idlefloor under the same display and session bus, so Earshot's
// resident process is measured against what a tray icon itself costs.
// It ends on SIGTERM or SIGINT, or from its Quit item.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"fyne.io/systray"

	"earshot/assets"
)

func main() {
	systray.Run(func() {
		systray.SetTitle("Tray floor")
		systray.SetIcon(assets.TrayPNG(2))
		systray.SetTooltip("Tray floor — a tray icon doing nothing")
		for _, title := range []string{"Open player", "Live", "Pause", "Skip", "Mute", "Hold this talkgroup",
			"Copy stream URL", "Manage tokens…", "Sign in…"} {
			systray.AddMenuItem(title, "")
		}
		quit := systray.AddMenuItem("Quit", "")
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			select {
			case <-quit.ClickedCh:
			case <-stop:
			}
			systray.Quit()
		}()
	}, nil)
}
