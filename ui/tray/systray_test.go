package tray

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/ui/dbustest"
)

// sniWatcher plays a desktop panel's StatusNotifierWatcher and records who
// registers an item.
type sniWatcher struct{ registered chan string }

func (w *sniWatcher) RegisterStatusNotifierItem(sender dbus.Sender, _ string) *dbus.Error {
	w.registered <- string(sender)
	return nil
}

func (w *sniWatcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// signals counts the signals an item sends, by member.
type signals struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *signals) count(member string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[member]
}

func (s *signals) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for k, v := range s.n {
		m[k] = v
	}
	return m
}

// menuLabels reads the item's menu as a panel does (dbusmenu
// GetGroupProperties): label → id. (Not GetLayout: fyne.io/systray v1.12.2
// reads the menu's version there without the lock it writes it under, a
// data race of its own that -race would report.)
func menuLabels(t *testing.T, conn *dbus.Conn, item string) map[string]int32 {
	t.Helper()
	ids := make([]int32, 64)
	for i := range ids {
		ids[i] = int32(i)
	}
	var props []struct {
		ID    int32
		Props map[string]dbus.Variant
	}
	err := conn.Object(item, "/StatusNotifierItem/menu").
		Call("com.canonical.dbusmenu.GetGroupProperties", 0, ids, []string{}).Store(&props)
	if err != nil {
		t.Fatalf("GetGroupProperties: %v", err)
	}
	labels := map[string]int32{}
	for _, p := range props {
		if l, ok := p.Props["label"]; ok {
			labels[l.Value().(string)] = p.ID
		}
	}
	return labels
}

// childEnv marks the test process that runs the real tray:
// fyne.io/systray keeps its state in package variables and can run once
// per process, so TestSystrayOnTheBusSignalsChangesOnly runs it in a
// process of its own (and so again under -count).
const childEnv = "EARSHOT_SYSTRAY_CHILD"

// The real tray, fyne.io/systray on a session bus with a panel's watcher:
// the faults were a tooltip that went stale in panels (the property was
// set but NewToolTip never sent: fyne-io/systray#115) and a menu re-sent
// many times a second while a call played.
func TestSystrayOnTheBusSignalsChangesOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSystrayChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSystrayChild") {
		t.Fatalf("the tray's process: %v\n%s", err, out)
	}
}

// TestSystrayChild is TestSystrayOnTheBusSignalsChangesOnly's process.
func TestSystrayChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestSystrayOnTheBusSignalsChangesOnly in a process of its own")
	}
	conn, addr := dbustest.Connect(t)
	// fyne.io/systray uses the process's shared session-bus connection:
	// it must be this bus (and no test before this one opened another).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	w := &sniWatcher{registered: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}

	rec := newRecorder()
	s := playing(connected(), call(1, 101, "Fire Dispatch"))
	core := newFakeCore(s)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); Run(ctx, rec.actions(), core) }()
	defer func() { cancel(); <-ran }()
	var item string
	select {
	case item = <-w.registered:
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("the tray item never registered with the watcher")
	}

	sig := &signals{n: map[string]int{}}
	if err := conn.AddMatchSignal(dbus.WithMatchSender(item)); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 256)
	conn.Signal(ch)
	go func() {
		for s := range ch {
			if s.Sender == item {
				sig.mu.Lock()
				sig.n[s.Name[strings.LastIndexByte(s.Name, '.')+1:]]++
				sig.mu.Unlock()
			}
		}
	}()

	tooltip := func() string {
		v, err := conn.Object(item, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err != nil {
			return err.Error()
		}
		// (icon name, icon pixmaps, title, description): the text is the title.
		f, _ := v.Value().([]any)
		if len(f) < 3 {
			return ""
		}
		title, _ := f[2].(string)
		return title
	}
	eventually(t, "the tooltip names the playing talkgroup", func() bool {
		return strings.Contains(tooltip(), "playing: Fire Dispatch") && len(menuLabels(t, conn, item)) >= 10
	})
	if _, ok := menuLabels(t, conn, item)["Hold Fire Dispatch"]; !ok {
		t.Fatalf("menu %v", menuLabels(t, conn, item))
	}

	// Ten seconds of position ticks: nothing goes over the bus. (Signals
	// arrive asynchronously; a change sent after them flushes them: it is
	// seen only after every earlier one.)
	base := sig.snapshot()
	for i := 1; i <= 40; i++ {
		tick := *s
		tick.Rev += uint64(i)
		tick.Position = time.Duration(i) * 250 * time.Millisecond
		core.publish(&tick)
		time.Sleep(time.Millisecond)
	}
	paused := *s
	paused.Rev += 100
	paused.Paused = true
	core.publish(&paused)
	eventually(t, "the panel is told of the new tooltip (NewToolTip)", func() bool { return sig.count("NewToolTip") > base["NewToolTip"] })
	eventually(t, "the tooltip property says paused", func() bool { return strings.Contains(tooltip(), "paused") })
	eventually(t, "the paused icon is announced (NewIcon)", func() bool { return sig.count("NewIcon") > base["NewIcon"] })
	got := sig.snapshot()
	if n := got["NewToolTip"] - base["NewToolTip"]; n != 1 {
		t.Errorf("40 position ticks and a pause sent NewToolTip %d times, want once (for the pause)", n)
	}
	if n := got["NewIcon"] - base["NewIcon"]; n != 1 {
		t.Errorf("40 position ticks and a pause sent NewIcon %d times, want once", n)
	}
	// The pause renames one item (Pause → Resume): fyne.io/systray sends
	// ItemsPropertiesUpdated and, for panels that watch only that, one
	// LayoutUpdated.
	if n := got["LayoutUpdated"] - base["LayoutUpdated"]; n > 1 {
		t.Errorf("40 position ticks and a pause re-sent the menu layout %d times, want at most once", n)
	}
	if _, ok := menuLabels(t, conn, item)["Resume"]; !ok {
		t.Fatalf("paused menu %v", menuLabels(t, conn, item))
	}

	// A click in the panel's menu runs the action.
	open := menuLabels(t, conn, item)["Open player"]
	if err := conn.Object(item, "/StatusNotifierItem/menu").
		Call("com.canonical.dbusmenu.Event", 0, open, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		t.Fatalf("click Open player: %v", err)
	}
	rec.wait(t)
	if got := rec.list(); got != "open" {
		t.Fatalf("clicking Open player ran %q", got)
	}

	// A talkgroup name holding dbusmenu's access-key mark reaches the
	// panel escaped, so it shows as written (hostMenuTitle).
	marked := playing(connected(), call(2, 102, "FD_DISPATCH"))
	marked.Rev = paused.Rev + 1
	core.publish(marked)
	eventually(t, "the menu holds the escaped talkgroup name", func() bool {
		_, ok := menuLabels(t, conn, item)["Hold FD__DISPATCH"]
		return ok
	})
}
