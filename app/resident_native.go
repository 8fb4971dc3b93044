//go:build !headless && (windows || darwin)

package app

import (
	"context"
	"sync"
)

// Windows and macOS have no session bus, so the resident never reaches for
// one (godbus would run dbus-launch, or ask launchd, and log a failure at
// every start): no notifications and no media keys there yet. Windows'
// toasts need an AppUserModelID registered for Earshot and its media keys
// the System Media Transport Controls (WinRT); macOS's need its SDK. The
// tray icon and tooltip still show every state.

func (r *resident) startNotifications(context.Context, *sync.WaitGroup) (stop func()) {
	r.log.Debug("desktop notifications are not shown on this system")
	return func() {}
}

func (r *resident) startMediaKeys(context.Context, *sync.WaitGroup) (stop func()) {
	r.log.Debug("media keys are not followed on this system")
	return func() {}
}
