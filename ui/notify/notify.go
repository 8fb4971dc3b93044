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

// queued bounds the notifications waiting to be shown: a burst beyond it
// (a wedged service, a storm of "notify me" calls) is dropped, not held.
const queued = 8

// Notifier sends notifications on a session bus. Notify never blocks its
// caller (the listening core calls it as calls arrive): Run shows what it
// queued.
type Notifier struct {
	conn  *dbus.Conn
	app   string
	log   *slog.Logger
	queue chan note
}

type note struct{ title, body string }

// New uses conn (a session bus) and names the app appName.
func New(conn *dbus.Conn, appName string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{conn: conn, app: appName, log: log, queue: make(chan note, queued)}
}

// Send shows one notification and returns its id. It waits for the
// service's answer (at most a few seconds).
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

// Notify queues a notification for Run and returns at once; one that does
// not fit is dropped, and a failure is logged, not returned (a desktop
// without a notification service still plays).
func (n *Notifier) Notify(title, body string) {
	select {
	case n.queue <- note{title, body}:
	default:
		n.log.Info("dropped a notification: too many waiting", "title", title)
	}
}

// Run shows the queued notifications, one at a time, until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-n.queue:
			if _, err := n.Send(ctx, m.title, m.body); err != nil {
				n.log.Info("could not show a notification", "err", err)
			}
		}
	}
}
