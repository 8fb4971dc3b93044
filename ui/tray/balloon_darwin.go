//go:build darwin

package tray

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unsafe"
)

const notifyIconDataSize = unsafe.Sizeof(notifyIconData{})

// showBalloon shows a notification in the macOS notification centre
// (osascript; see macNoticeScript). The centre lists it under Script
// Editor's name: a signed Earshot.app would be needed to show its own.
func showBalloon(title, body string, urgent bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a hang guard
	defer cancel()
	out, err := exec.CommandContext(ctx, "osascript", osascriptArgs(title, body, urgent)...).CombinedOutput()
	if err == nil {
		return nil
	}
	if said := strings.TrimSpace(string(out)); said != "" {
		err = fmt.Errorf("%w: %s", err, said)
	}
	return fmt.Errorf("the macOS notification centre refused a notification (osascript: %w)", err)
}
