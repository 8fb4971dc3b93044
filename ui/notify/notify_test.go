//go:build !windows && !darwin

package notify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/ui/dbustest"
)

// notificationService plays the desktop's org.freedesktop.Notifications
// and records what it was asked to show.
type notificationService struct {
	mu    sync.Mutex
	shown []shown
	next  uint32
	block chan struct{} // when set, Notify waits for it (a wedged service)
	got   chan struct{}
	// seen, when set, records each notification's id, actions and hints
	// (with mu held) before got is told.
	seen func(id uint32, actions []string, hints map[string]dbus.Variant)
}

type shown struct {
	app, icon, title, body string
	replaces               uint32
	expire                 int32
}

func (s *notificationService) Notify(app string, replaces uint32, icon, title, body string, actions []string,
	hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	s.next++
	s.shown = append(s.shown, shown{app: app, icon: icon, title: title, body: body, replaces: replaces, expire: expire})
	id := s.next
	if replaces != 0 && s.seen != nil {
		id = replaces // the spec: the same id, shown in place
	}
	if s.seen != nil {
		s.seen(id, actions, hints)
	}
	s.mu.Unlock()
	if s.got != nil {
		s.got <- struct{}{}
	}
	return id, nil
}

func (s *notificationService) list() []shown {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shown(nil), s.shown...)
}

// serve puts svc on a private bus and returns a connection of the
// notifier's own to that bus.
func serve(t *testing.T, svc *notificationService) *dbus.Conn {
	t.Helper()
	if svc == nil {
		_, client := serveObject(t, nil)
		return client
	}
	_, client := serveObject(t, svc)
	return client
}

// serveObject puts obj (nil: nothing) on a private bus as the
// notification service and returns its connection and one of the
// notifier's own.
func serveObject(t *testing.T, obj any) (svc, client *dbus.Conn) {
	t.Helper()
	conn, addr := dbustest.Connect(t)
	if obj != nil {
		if err := conn.Export(obj, path, service); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.RequestName(service, dbus.NameFlagDoNotQueue); err != nil {
			t.Fatal(err)
		}
	}
	client, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return conn, client
}

func TestSendShowsTheNotificationAndReturnsItsID(t *testing.T) {
	svc := &notificationService{next: 41}
	n := New(serve(t, svc), "Earshot", nil)
	id, err := n.Send(context.Background(), "Fire Dispatch", "Harness County: engine 5 respond")
	if err != nil {
		t.Fatal(err)
	}
	if id != 42 {
		t.Fatalf("id %d, want the service's 42", id)
	}
	got := svc.list()
	want := shown{app: "Earshot", icon: "earshot", title: "Fire Dispatch", body: "Harness County: engine 5 respond", expire: expire}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the service was asked to show %+v, want %+v", got, want)
	}
}

func TestWithoutANotificationServiceSendSaysSo(t *testing.T) {
	n := New(serve(t, nil), "Earshot", nil)
	_, err := n.Send(context.Background(), "Fire Dispatch", "")
	if err == nil || !strings.HasPrefix(err.Error(), "show a notification: ") {
		t.Fatalf("Send on a bus with no notification service: %v", err)
	}
}

// A wedged notification service must never hold up the listening core,
// which calls Notify as calls arrive: Notify returns at once, what does not
// fit is dropped, and Run shows the rest when the service answers.
func TestNotifyNeverWaitsForAWedgedService(t *testing.T) {
	svc := &notificationService{block: make(chan struct{}), got: make(chan struct{}, 64)}
	n := New(serve(t, svc), "Earshot", nil)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); n.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for i := range 3 * queued {
			n.Notify("call", strings.Repeat("x", i))
		}
	}()
	select {
	case <-returned:
	case <-time.After(20 * time.Second): // a hang guard: each Notify waiting would take 3 s
		t.Fatal("Notify waited for the wedged service")
	}
	close(svc.block) // the service answers again
	// Run shows one (taken before the queue filled) plus those queued.
	for i := 0; i < queued; i++ {
		select {
		case <-svc.got:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d notifications shown after the service came back", i)
		}
	}
	if n := len(svc.list()); n > queued+1 {
		t.Fatalf("%d notifications shown, want at most %d (the rest dropped)", n, queued+1)
	}
}

func TestSendGivesUpOnAServiceThatNeverAnswers(t *testing.T) {
	svc := &notificationService{block: make(chan struct{})}
	defer close(svc.block)
	n := New(serve(t, svc), "Earshot", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := n.Send(ctx, "Fire Dispatch", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a wedged service: %v, want the deadline", err)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	n := New(serve(t, &notificationService{}), "Earshot", nil)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); n.Run(ctx) }()
	cancel()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// actionService is a notification service that offers actions and
// markup, as GNOME's and KDE's do, and can press a button.
type actionService struct {
	notificationService
	conn    *dbus.Conn
	actions map[uint32][]string
	hints   map[uint32]map[string]dbus.Variant
}

func (s *actionService) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"actions", "body", "body-markup"}, nil
}

// press emits ActionInvoked for a notification, as the desktop does when
// the listener clicks a button.
func (s *actionService) press(t *testing.T, id uint32, key string) {
	t.Helper()
	if err := s.conn.Emit(path, service+".ActionInvoked", id, key); err != nil {
		t.Fatal(err)
	}
}

func serveActions(t *testing.T) (*actionService, *Notifier, func()) {
	t.Helper()
	svc := &actionService{notificationService: notificationService{got: make(chan struct{}, 16)},
		actions: map[uint32][]string{}, hints: map[uint32]map[string]dbus.Variant{}}
	svc.seen = func(id uint32, actions []string, hints map[string]dbus.Variant) {
		svc.actions[id], svc.hints[id] = actions, hints
	}
	var client *dbus.Conn
	svc.conn, client = serveObject(t, svc)
	n := New(client, "Earshot", nil)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); n.Run(ctx) }()
	return svc, n, func() { cancel(); <-ran }
}

func (s *notificationService) wait(t *testing.T) shown {
	t.Helper()
	select {
	case <-s.got:
	case <-time.After(20 * time.Second): // a hang guard
		t.Fatal("no notification shown")
	}
	l := s.list()
	return l[len(l)-1]
}

// The alert's Replay: the button and a click on the notification both run
// the action; a notification of another program's id runs nothing.
func TestChosenActionRuns(t *testing.T) {
	svc, n, stop := serveActions(t)
	defer stop()
	pressed := make(chan string, 4)
	n.Show(Notice{Title: "Alert: Mayday — Fire Dispatch", Body: "already played", Key: "call-42",
		Actions: []Action{{Label: "Replay", Do: func() { pressed <- "replay" }}}})
	svc.wait(t)
	svc.mu.Lock()
	id := svc.next
	got := svc.actions[id]
	svc.mu.Unlock()
	if strings.Join(got, ",") != "default,Replay,0,Replay" {
		t.Fatalf("actions offered: %q", got)
	}
	svc.press(t, id+100, "0") // someone else's
	svc.press(t, id, "0")
	svc.press(t, id, "default")
	for _, want := range []string{"replay", "replay"} {
		select {
		case p := <-pressed:
			if p != want {
				t.Fatalf("ran %q", p)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the pressed action did not run")
		}
	}
	select {
	case p := <-pressed:
		t.Fatalf("another program's notification ran %q", p)
	case <-time.After(100 * time.Millisecond):
	}
}

// A second rule firing for the same call replaces its notification; an
// urgent one stays until dismissed; a transcript's "<" is not markup.
func TestKeyedNoticesReplaceAndTextIsEscaped(t *testing.T) {
	svc, n, stop := serveActions(t)
	defer stop()
	n.Show(Notice{Title: "Alert: Fire", Body: "units <respond> & stage", Key: "call-7"})
	first := svc.wait(t)
	n.Show(Notice{Title: "Alert: Fire, Mayday", Body: "mayday", Key: "call-7", Urgent: true})
	second := svc.wait(t)
	n.Show(Notice{Title: "Other", Body: "x", Key: "call-8"})
	third := svc.wait(t)
	if first.body != "units &lt;respond&gt; &amp; stage" {
		t.Errorf("body sent as %q", first.body)
	}
	if first.replaces != 0 || second.replaces != 1 || third.replaces != 0 {
		t.Errorf("replaces: %d, %d, %d; want 0, 1 (the first), 0", first.replaces, second.replaces, third.replaces)
	}
	svc.mu.Lock()
	urgency := svc.hints[1]["urgency"]
	svc.mu.Unlock()
	if second.expire != 0 || urgency.Value() != byte(2) {
		t.Errorf("an urgent notice: expire %d, urgency %v", second.expire, urgency)
	}
}
