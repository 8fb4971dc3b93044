// Package notify shows desktop notifications through the freedesktop
// notification service (org.freedesktop.Notifications on the session bus),
// without any GUI toolkit: the resident process uses it.
//
// It owns only the D-Bus call; what to say is its callers'.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	service = "org.freedesktop.Notifications"
	path    = "/org/freedesktop/Notifications"
	// timeout bounds one notification: a wedged service must not hold
	// up the caller for long.
	timeout = 3 * time.Second
	// expire is how long a notification stays (ms).
	expire = 8000
)

// Notifier sends notifications on a session bus.
type Notifier struct {
	conn *dbus.Conn
	app  string
	log  *slog.Logger
}

// New uses conn (a session bus) and names the app appName.
func New(conn *dbus.Conn, appName string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{conn: conn, app: appName, log: log}
}

// Send shows one notification and returns its id.
func (n *Notifier) Send(ctx context.Context, title, body string) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var id uint32
	call := n.conn.Object(service, path).CallWithContext(ctx, service+".Notify", 0,
		n.app, uint32(0), "earshot", title, body, []string{}, map[string]dbus.Variant{}, int32(expire))
	if call.Err != nil {
		return 0, fmt.Errorf("show a notification: %w", call.Err)
	}
	if err := call.Store(&id); err != nil {
		return 0, fmt.Errorf("show a notification: %w", err)
	}
	return id, nil
}

// Notify shows a notification; a failure is logged, not returned (a
// desktop without a notification service still plays).
func (n *Notifier) Notify(title, body string) {
	if _, err := n.Send(context.Background(), title, body); err != nil {
		n.log.Info("could not show a notification", "err", err)
	}
}
