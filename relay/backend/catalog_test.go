package backend

import (
	"reflect"
	"testing"

	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// TestCatalogIsAnnouncedOnceAndAgainOnlyWhenItChanges runs a session on
// every server generation: the first scanner.config becomes a catalog
// event with the systems and talkgroups, a new talkgroup announces a new
// catalog, and the same config resent after a reconnect announces nothing.
func TestCatalogIsAnnouncedOnceAndAgainOnlyWhenItChanges(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run([]string{"1.3", "1.2", "1.1"}[gen], func(t *testing.T) {
			srv := fake(t, backendtest.Options{Generation: gen})
			srv.SetSystemLED(1, "red")
			s, _ := signedIn(t, srv, Options{})
			col := run(t, s)
			col.waitFor(t, "a catalog", func(c *collector) bool { return len(c.catalogs) == 1 })
			want := event.Catalog{Systems: []event.System{{ID: 1, Label: "Harness County", LEDColor: "red",
				Talkgroups: []event.Talkgroup{{ID: 101, Label: "Fire Dispatch", Name: "Fire Dispatch Main",
					Group: "Fire", Tag: "Dispatch", LEDColor: "#ff0000"}}}}}
			col.mu.Lock()
			got := col.catalogs[0]
			col.mu.Unlock()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("catalog = %+v\nwant %+v", got, want)
			}

			srv.AddTalkgroup(1, 102, "Fire Tac 2", "", "Fire", "Tactical", "")
			col.waitFor(t, "a second catalog", func(c *collector) bool { return len(c.catalogs) == 2 })
			col.mu.Lock()
			got = col.catalogs[1]
			col.mu.Unlock()
			if tg, sys, ok := got.Talkgroup(1, 102); !ok || tg.Label != "Fire Tac 2" || tg.Tag != "Tactical" || sys.Label != "Harness County" {
				t.Fatalf("new talkgroup missing from %+v", got)
			}

			// A reconnect brings the same config again: no new catalog.
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			col.waitFor(t, "reconnected", func(c *collector) bool { return srv.Counters().WSAuthorized >= 2 && c.state() == event.StateConnected })
			// Frames are handled in order: once this call is out, the
			// config sent before it has been handled.
			id, _ := addCall(srv)
			col.waitFor(t, "the call after the reconnect", func(c *collector) bool { return len(c.calls) > 0 && c.calls[len(c.calls)-1].ID == id })
			col.mu.Lock()
			n := len(col.catalogs)
			col.mu.Unlock()
			if n != 2 {
				t.Fatalf("%d catalogs announced, want 2 (an unchanged config is not news)", n)
			}
		})
	}
}
