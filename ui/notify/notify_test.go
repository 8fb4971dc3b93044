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
	conn, addr := dbustest.Connect(t)
	if svc != nil {
		if err := conn.Export(svc, path, service); err != nil {
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
	return client
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
