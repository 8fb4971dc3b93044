//go:build !headless && (windows || darwin)

package app

import (
	"context"
	"sync"
)

// Windows and macOS have no session bus, so the resident never reaches for
// one (godbus would run dbus-launch, or ask launchd, and log a failure at
// every start). Notifications go through the platform's own way where one
// is simple (resident_windows.go, resident_darwin.go); media keys are not
// followed there yet: Windows' need the System Media Transport Controls
// (WinRT), macOS's its Now Playing centre (Apple's SDK). The tray icon and
// tooltip show every state.

func (r *resident) startMediaKeys(context.Context, *sync.WaitGroup) (stop func()) {
	r.log.Debug("media keys are not followed on this system")
	return func() {}
}
