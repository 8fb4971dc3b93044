//go:build !windows && !darwin

package tray

import (
	"errors"
	"unsafe"
)

const notifyIconDataSize = unsafe.Sizeof(notifyIconData{})

// showBalloon: balloons are the Windows notification area's; elsewhere
// notifications go through the platform's own service (ui/notify).
func showBalloon(string, string, bool) error {
	return errors.New("balloons are shown on Windows only")
}
