//go:build !headless && !windows && !darwin

package app

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/relay/alerts"
	"earshot/relay/backend/backendtest"
	"earshot/ui/dbustest"
	"earshot/ui/listening"
	"earshot/ui/notify"
	"earshot/ui/player"
)

// desktopNotifications plays a desktop's notification service
// (org.freedesktop.Notifications, with buttons) on a private bus and
// records what it shows.
type desktopNotifications struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	shown []shownNotice
}

type shownNotice struct {
	id          uint32
	title, body string
	actions     []string
}

func (d *desktopNotifications) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"actions", "body"}, nil
}

func (d *desktopNotifications) Notify(app string, replaces uint32, icon, title, body string, actions []string,
	hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := uint32(len(d.shown) + 1)
	if replaces != 0 {
		id = replaces
	}
	d.shown = append(d.shown, shownNotice{id, title, body, actions})
	return id, nil
}

func (d *desktopNotifications) find(prefix string) (shownNotice, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.shown {
		if strings.HasPrefix(n.title, prefix) {
			return n, true
		}
	}
	return shownNotice{}, false
}

// The case end to end: a rule on words, a call that plays before
// its transcript comes, the transcript from the server afterwards. The
// relay fires the rule, the desktop shows a notification naming the
// talkgroup and the words and saying the call already played, and its
// Replay button plays the call again.
func TestAlert_LateTranscriptNotifiesThatTheCallPlayedAndReplays(t *testing.T) {
	fake, env, out := signedIn(t, nil)
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "", "Fire", "Dispatch", "")
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	log := discardLogger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inst, err := startRelay(ctx, env, cfg, relayFlags{listen: "127.0.0.1:0"}, log, &savedSelection{dir: env.ConfigDir}, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	relayDone := make(chan error, 1)
	go func() { relayDone <- inst.wait() }()
	defer func() { cancel(); <-relayDone }()

	// The desktop: its notification service on a private session bus.
	svcConn, addr := dbustest.Connect(t)
	desk := &desktopNotifications{conn: svcConn}
	if err := svcConn.Export(desk, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if _, err := svcConn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	bus, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	note := notify.New(bus, "Earshot", log)

	// The player, on a sound device that takes what it is given.
	dev := &pullOutput{feed: make(chan io.Reader, 1)}
	p, err := player.New(player.Options{Audio: inst.Core, Output: dev})
	if err != nil {
		t.Fatal(err)
	}
	core := listening.New(listening.Options{Feed: inst.Core, Player: p, Notifier: note, Logger: log,
		Settings: &settingsStore{env: env, inst: inst, log: log},
		Account:  func() (string, string) { return residentAccounts{env: env}.Account() }})
	var mu sync.Mutex
	var started []int64 // calls as they started playing
	var playing int64
	p.OnChange(func(st player.State) {
		core.OnPlayerChange(st)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case st.Call == nil:
			playing = 0
		case st.Call.ID != playing:
			playing = st.Call.ID
			started = append(started, playing)
		}
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { note.Run(ctx) })
	wg.Go(func() { _ = p.Run(ctx) })
	wg.Go(func() { _ = core.Run(ctx) })
	wg.Go(func() {
		// Ten times faster than real time: a call plays long enough for
		// the player to say so.
		feed := <-dev.feed
		buf := make([]byte, 4800*player.FrameSize)
		for ctx.Err() == nil {
			if _, err := io.ReadFull(feed, buf); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	if err := core.ChangeSettings(ctx, listening.Change{Kind: listening.ChangeAlert,
		Rule: &alerts.Rule{Name: "Mayday", Words: []string{"mayday", "firefighter down"}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live feed", func() bool { return fake.Counters().WSAuthorized > 0 })
	// Once the relay's first history read has been answered, a call
	// added is live; one added before it would come as history, which a
	// fresh start does not play.
	waitFor(t, "the relay's first history read", func() bool {
		return core.Snapshot().Backend == "connected" && fake.Counters().HistoryRequests > 0
	})
	id := fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: backendtest.SynthWAV(1, 440, 8000)})
	played := func() bool {
		for _, h := range core.Snapshot().History {
			if h.Call.ID == id && h.Played {
				return p.State().Call == nil
			}
		}
		return false
	}
	waitFor(t, "the call played out", played)
	if _, ok := desk.find("Alert:"); ok {
		t.Fatal("an alert before the transcript said mayday")
	}

	fake.SetTranscript(id, "Engine 5, mayday mayday, firefighter down on the second floor")
	var n shownNotice
	waitFor(t, "the alert on the desktop", func() bool { var ok bool; n, ok = desk.find("Alert:"); return ok })
	if n.title != "Alert: Mayday — Fire Dispatch" {
		t.Errorf("title %q", n.title)
	}
	for _, want := range []string{"Harness County · ", "Heard “mayday”, “firefighter down”", "“Engine 5, mayday mayday, firefighter down on the second floor”", "It already played."} {
		if !strings.Contains(n.body, want) {
			t.Errorf("body %q lacks %q", n.body, want)
		}
	}
	if !slices.Equal(n.actions, []string{"default", "Replay", "0", "Replay"}) {
		t.Fatalf("buttons %q, want Replay", n.actions)
	}
	if h := core.Snapshot().History[0]; h.Call.ID != id || len(h.Call.Alerts) != 1 {
		t.Fatalf("the history does not mark the call: %+v", h)
	}

	// The listener presses Replay.
	if err := svcConn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", n.id, "0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call playing again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		plays := 0
		for _, c := range started {
			if c == id {
				plays++
			}
		}
		return plays == 2
	})
}
