//go:build !headless && darwin

package app

import (
	"context"
	"sync"

	"earshot/ui/tray"
)

// startNotifications shows notifications in the macOS notification centre
// (through osascript: see tray.NewBalloons). They carry no buttons: an
// alert's Replay is in the tray menu.
func (r *resident) startNotifications(ctx context.Context, wg *sync.WaitGroup) (stop func()) {
	b := tray.NewBalloons(r.log.With("part", "notify"))
	wg.Go(func() { b.Run(ctx) })
	r.note = b
	return func() {}
}
