//go:build !windows && !darwin

package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	service = "org.freedesktop.Notifications"
	path    = "/org/freedesktop/Notifications"
	// timeout bounds one notification: a wedged service must not hold
	// up the caller for long.
	timeout = 3 * time.Second
	// expire is how long a notification stays (ms); an urgent one stays
	// until it is dismissed (0).
	expire = 8000
)

// queued bounds the notifications waiting to be shown: a burst beyond it
// (a wedged service, a storm of "notify me" calls) is dropped, not held.
const queued = 8

// Bounds on what the notifier remembers of notifications on screen: their
// actions (until the service says one closed) and the ids of keyed ones.
const (
	maxWithActions = 64
	maxKeys        = 64
	// maxText caps a title or body handed to the service.
	maxTitle = 200
	maxBody  = 2000
)

// Notifier sends notifications on a session bus. Notify and Show never
// block their caller (the listening core calls them as calls arrive): Run
// shows what they queued and carries out the actions chosen.
type Notifier struct {
	conn  *dbus.Conn
	app   string
	log   *slog.Logger
	queue chan Notice

	// Only Run's goroutine (and Send, which Run calls) touches these.
	caps    map[string]bool // the service's capabilities, once asked
	actions map[uint32][]Action
	order   []uint32 // ids in actions, oldest first
	keys    map[string]uint32
	keyLRU  []string
}

// New uses conn (a session bus) and names the app appName.
func New(conn *dbus.Conn, appName string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{conn: conn, app: appName, log: log, queue: make(chan Notice, queued),
		actions: map[uint32][]Action{}, keys: map[string]uint32{}}
}

// Send shows one plain notification and returns its id. It waits for the
// service's answer (at most a few seconds). It is for a notifier whose Run
// is not running (Run's goroutine owns what the notifier remembers).
func (n *Notifier) Send(ctx context.Context, title, body string) (uint32, error) {
	return n.show(ctx, Notice{Title: title, Body: body})
}

// capabilities asks the service what it can do (once; a failure is asked
// again next time).
func (n *Notifier) capabilities(ctx context.Context) map[string]bool {
	if n.caps != nil {
		return n.caps
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var list []string
	if err := n.conn.Object(service, path).CallWithContext(ctx, service+".GetCapabilities", 0).Store(&list); err != nil {
		n.log.Debug("the notification service did not say what it can do", "err", err)
		return map[string]bool{}
	}
	n.caps = map[string]bool{}
	for _, c := range list {
		n.caps[c] = true
	}
	return n.caps
}

// show sends m and remembers its actions and key.
func (n *Notifier) show(ctx context.Context, m Notice) (uint32, error) {
	caps := n.capabilities(ctx)
	body := clip(m.Body, maxBody)
	if caps["body-markup"] {
		// The body may hold what a server sent (a transcript): a "<"
		// in it must not be taken for markup.
		body = escapeMarkup(body)
	}
	var actions []string
	if len(m.Actions) > 0 && caps["actions"] {
		actions = append(actions, "default", m.Actions[0].Label)
		for i, a := range m.Actions {
			actions = append(actions, fmt.Sprint(i), a.Label)
		}
	}
	hints := map[string]dbus.Variant{}
	timeoutMS := int32(expire)
	if m.Urgent {
		hints["urgency"] = dbus.MakeVariant(byte(2))
		timeoutMS = 0
	}
	replaces := uint32(0)
	if m.Key != "" {
		replaces = n.keys[m.Key]
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var id uint32
	call := n.conn.Object(service, path).CallWithContext(ctx, service+".Notify", 0,
		n.app, replaces, "earshot", clip(m.Title, maxTitle), body, nonNil(actions), hints, timeoutMS)
	if call.Err != nil {
		return 0, fmt.Errorf("show a notification: %w", call.Err)
	}
	if err := call.Store(&id); err != nil {
		return 0, fmt.Errorf("show a notification: %w", err)
	}
	if replaces != 0 && replaces != id {
		n.forget(replaces)
	}
	if len(actions) > 0 {
		n.remember(id, m.Actions)
	}
	if m.Key != "" {
		n.keep(m.Key, id)
	}
	return id, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// remember keeps a notice's actions until it closes (or too many newer
// ones have actions).
func (n *Notifier) remember(id uint32, actions []Action) {
	if _, ok := n.actions[id]; !ok {
		n.order = append(n.order, id)
	}
	n.actions[id] = actions
	for len(n.order) > maxWithActions {
		delete(n.actions, n.order[0])
		n.order = n.order[1:]
	}
}

func (n *Notifier) forget(id uint32) {
	delete(n.actions, id)
	n.order = slices.DeleteFunc(n.order, func(x uint32) bool { return x == id })
}

// keep remembers the id shown for key.
func (n *Notifier) keep(key string, id uint32) {
	n.keyLRU = slices.DeleteFunc(n.keyLRU, func(k string) bool { return k == key })
	n.keyLRU = append(n.keyLRU, key)
	n.keys[key] = id
	for len(n.keyLRU) > maxKeys {
		delete(n.keys, n.keyLRU[0])
		n.keyLRU = n.keyLRU[1:]
	}
}

// Notify queues a plain notification (Show).
func (n *Notifier) Notify(title, body string) { n.Show(Notice{Title: title, Body: body}) }

// Show queues a notification for Run and returns at once; one that does
// not fit is dropped, and a failure is logged, not returned (a desktop
// without a notification service still plays).
func (n *Notifier) Show(m Notice) {
	select {
	case n.queue <- m:
	default:
		n.log.Info("dropped a notification: too many waiting", "title", m.Title)
	}
}

// Run shows the queued notifications, one at a time, and carries out the
// actions the listener chooses, until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	signals := make(chan *dbus.Signal, 16)
	if err := n.conn.AddMatchSignalContext(ctx, dbus.WithMatchInterface(service), dbus.WithMatchObjectPath(path)); err != nil {
		n.log.Info("notification actions unavailable", "err", err)
	} else {
		n.conn.Signal(signals)
		defer n.conn.RemoveSignal(signals)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-n.queue:
			if _, err := n.show(ctx, m); err != nil {
				n.log.Info("could not show a notification", "err", err)
			}
		case s := <-signals:
			n.signal(s)
		}
	}
}

// signal handles the service's ActionInvoked and NotificationClosed.
func (n *Notifier) signal(s *dbus.Signal) {
	if s == nil || s.Path != path || len(s.Body) < 2 {
		return
	}
	id, ok := s.Body[0].(uint32)
	if !ok {
		return
	}
	switch s.Name {
	case service + ".ActionInvoked":
		key, _ := s.Body[1].(string)
		acts := n.actions[id]
		i := 0
		if key != "default" {
			if _, err := fmt.Sscan(key, &i); err != nil {
				return
			}
		}
		if i >= 0 && i < len(acts) && acts[i].Do != nil {
			acts[i].Do()
		}
	case service + ".NotificationClosed":
		n.forget(id)
	}
}

// clip cuts s to at most max bytes, on a character boundary, marking the
// cut.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeMarkup makes text show as written where the service reads markup.
func escapeMarkup(s string) string { return markupEscaper.Replace(s) }
