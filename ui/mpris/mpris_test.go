//go:build !windows && !darwin

package mpris

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"earshot/ui/dbustest"
)

// privateBus starts a session bus of the test's own and connects to it.
func privateBus(t *testing.T) (*dbus.Conn, string) { return dbustest.Connect(t) }

type fakePlayer struct {
	mu    sync.Mutex
	calls []string
	now   NowPlaying
}

func (f *fakePlayer) rec(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }
func (f *fakePlayer) PlayPause() {
	f.rec("PlayPause")
	f.mu.Lock()
	f.now.Paused = !f.now.Paused
	f.mu.Unlock()
}
func (f *fakePlayer) Play()     { f.rec("Play") }
func (f *fakePlayer) Pause()    { f.rec("Pause") }
func (f *fakePlayer) Next()     { f.rec("Next") }
func (f *fakePlayer) Previous() { f.rec("Previous") }
func (f *fakePlayer) Raise()    { f.rec("Raise") }
func (f *fakePlayer) Now() NowPlaying {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func TestMPRISOnAPrivateBus(t *testing.T) {
	server, addr := privateBus(t)
	fp := &fakePlayer{now: NowPlaying{Playing: true, CallID: 42, Title: "Fire Dispatch", Artist: "Harness County", Length: 4 * time.Second}}
	b, err := StartOn(server, fp, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A second connection plays the desktop widget.
	client, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	obj := client.Object(BusName, ObjectPath)
	// Desktop widgets follow PropertiesChanged.
	if err := client.AddMatchSignal(dbus.WithMatchObjectPath(ObjectPath),
		dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged")); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 16)
	client.Signal(signals)
	for _, m := range []string{"PlayPause", "Next", "Previous"} {
		if call := obj.Call(playerIface+"."+m, 0); call.Err != nil {
			t.Fatalf("%s: %v", m, call.Err)
		}
	}
	fp.mu.Lock()
	got := strings.Join(fp.calls, ",")
	fp.mu.Unlock()
	if got != "PlayPause,Next,Previous" {
		t.Fatalf("player got %s", got)
	}
	select {
	case sig := <-signals:
		if changed, _ := sig.Body[1].(map[string]dbus.Variant); changed["PlaybackStatus"].Value() != "Paused" {
			t.Fatalf("PropertiesChanged %v, want PlaybackStatus Paused", sig.Body)
		}
	case <-time.After(10 * time.Second): // a hang, not a timing assertion
		t.Fatal("no PropertiesChanged after PlayPause")
	}
	if call := client.Object(BusName, ObjectPath).Call(rootIface+".Raise", 0); call.Err != nil {
		t.Fatalf("Raise: %v", call.Err)
	}
	if cr, _ := obj.GetProperty(rootIface + ".CanRaise"); cr.Value() != true {
		t.Fatalf("CanRaise %v", cr.Value())
	}
	fp.mu.Lock()
	got = strings.Join(fp.calls, ",")
	fp.mu.Unlock()
	if !strings.HasSuffix(got, ",Raise") {
		t.Fatalf("Raise did not reach the player: %s", got)
	}
	v, err := obj.GetProperty(playerIface + ".Metadata")
	if err != nil {
		t.Fatal(err)
	}
	md := v.Value().(map[string]dbus.Variant)
	if md["xesam:title"].Value() != "Fire Dispatch" || md["xesam:artist"].Value().([]string)[0] != "Harness County" {
		t.Fatalf("metadata %v", md)
	}
	st, _ := obj.GetProperty(playerIface + ".PlaybackStatus")
	if st.Value() != "Paused" {
		t.Fatalf("status after PlayPause = %v, want Paused", st.Value())
	}
	id, _ := client.Object(BusName, ObjectPath).GetProperty(rootIface + ".Identity")
	if id.Value() != "Earshot" {
		t.Fatalf("Identity %v", id.Value())
	}
}
