//go:build !headless && windows

package app

import (
	"context"
	"sync"

	"earshot/ui/tray"
)

// startNotifications shows notifications as balloons from the tray icon,
// which Windows 10 and 11 show as toasts under Earshot's name (no
// AppUserModelID to register, no PowerShell to start). They carry no
// buttons: an alert's Replay is in the tray menu.
func (r *resident) startNotifications(ctx context.Context, wg *sync.WaitGroup) (stop func()) {
	b := tray.NewBalloons(r.log.With("part", "notify"))
	wg.Go(func() { b.Run(ctx) })
	r.note = b
	return func() {}
}
