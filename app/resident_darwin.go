//go:build !headless && darwin

package app

import (
	"context"
	"sync"
)

// startNotifications: none on macOS yet (its notification centre needs
// Apple's SDK, as the tray there does).
func (r *resident) startNotifications(context.Context, *sync.WaitGroup) (stop func()) {
	r.log.Debug("desktop notifications are not shown on this system")
	return func() {}
}
