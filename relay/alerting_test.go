package relay

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/event"
	"earshot/relay/hub"
)

func quietFetch(ctx context.Context, c event.Call, w io.Writer) (string, error) {
	_, err := w.Write(wavBytes(64))
	return "audio/wav", err
}

// nextOf returns the next event of the given types, skipping others
// (status); a hang guard fails the test.
func nextOf(t *testing.T, sub *hub.Subscriber, types ...string) event.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatal("subscription closed")
			}
			if slices.Contains(types, e.Type) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event", types)
		}
	}
}

func TestAlertsFireAtTheCallAndWhenItsTranscriptArrives(t *testing.T) {
	b := newFakeBackend()
	b.fetch = quietFetch
	r := startRelayWith(t, b, func(r *Relay) {
		if err := r.SetAlertRules([]alerts.Rule{
			{Name: "fire tg", Systems: []int64{1}, Talkgroups: []int64{101}, Tone: true},
			{Name: "mayday", Words: []string{"mayday"}, Priority: true, Bump: true},
		}); err != nil {
			t.Fatal(err)
		}
	})
	sub := r.Subscribe(64)
	defer sub.Close()

	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 7, SystemID: 1, TalkgroupID: 101}})
	e := nextOf(t, sub, event.TypeCall, event.TypeAlert)
	if e.Type != event.TypeCall || len(e.Call.Alerts) != 1 || e.Call.Alerts[0].Rule != "fire tg" {
		t.Fatalf("first event = %+v, want call.new carrying the talkgroup alert", e)
	}
	e = nextOf(t, sub, event.TypeCall, event.TypeAlert, event.TypeTranscript)
	if e.Type != event.TypeAlert || e.Alert.CallID != 7 || e.Alert.Rule != "fire tg" || !e.Alert.Tone || len(e.Alert.Words) != 0 {
		t.Fatalf("second event = %+v (%+v), want call.alert for the talkgroup rule", e, e.Alert)
	}

	// The transcript comes later: the word rule fires then, once.
	b.send(event.Event{Type: event.TypeTranscript, Transcript: &event.Transcript{CallID: 7, Text: "Mayday mayday, engine 5"}})
	if e = nextOf(t, sub, event.TypeAlert, event.TypeTranscript); e.Type != event.TypeTranscript {
		t.Fatalf("after the transcript: %+v, want the transcript first", e)
	}
	e = nextOf(t, sub, event.TypeAlert, event.TypeTranscript, event.TypeCall)
	if e.Type != event.TypeAlert || e.Alert.Rule != "mayday" || !slices.Equal(e.Alert.Words, []string{"Mayday"}) || !e.Alert.Priority || !e.Alert.Bump {
		t.Fatalf("late alert = %+v", e.Alert)
	}
	// The same transcript again (a server resending it) fires nothing.
	b.send(event.Event{Type: event.TypeTranscript, Transcript: &event.Transcript{CallID: 7, Text: "Mayday mayday, engine 5"}})
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 8, SystemID: 2, TalkgroupID: 1}})
	nextOf(t, sub, event.TypeTranscript)
	if e = nextOf(t, sub, event.TypeAlert, event.TypeCall); e.Type != event.TypeCall || e.Call.ID != 8 {
		t.Fatalf("after the repeated transcript: %+v, want call 8 and no second alert", e)
	}

	// The held call remembers both alerts, so history can mark it.
	held, ok := r.Call(7)
	if !ok || len(held.Alerts) != 2 || held.Alerts[0].Rule != "fire tg" || held.Alerts[1].Rule != "mayday" {
		t.Fatalf("held call's alerts = %+v", held.Alerts)
	}
	if got := r.Calls(Query{Limit: 2}); len(got) != 2 || len(got[1].Alerts) != 2 {
		t.Fatalf("Calls() = %+v, want call 7 with its alerts", got)
	}
}

func TestATranscriptThatCameWithTheCallFiresWordRulesAtOnce(t *testing.T) {
	b := newFakeBackend()
	b.fetch = quietFetch
	r := startRelayWith(t, b, func(r *Relay) {
		if err := r.SetAlertRules([]alerts.Rule{{Name: "smoke", Words: []string{"smoke showing"}}}); err != nil {
			t.Fatal(err)
		}
	})
	sub := r.Subscribe(64)
	defer sub.Close()
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 3, Transcript: "Smoke  showing from the roof"}})
	nextOf(t, sub, event.TypeCall)
	e := nextOf(t, sub, event.TypeAlert)
	if e.Alert.CallID != 3 || !slices.Equal(e.Alert.Words, []string{"Smoke  showing"}) {
		t.Fatalf("alert = %+v", e.Alert)
	}
}

func TestAlertRulesChangeOnARunningRelay(t *testing.T) {
	b := newFakeBackend()
	b.fetch = quietFetch
	r := startRelay(t, b)
	sub := r.Subscribe(64)
	defer sub.Close()
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 1, SystemID: 1, TalkgroupID: 5}})
	nextOf(t, sub, event.TypeCall)
	if err := r.SetAlertRules([]alerts.Rule{{Name: "tg5", Talkgroups: []int64{5}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAlertRules([]alerts.Rule{{Name: ""}}); err == nil {
		t.Fatal("an invalid rule set was taken")
	}
	if got := r.AlertRules(); len(got) != 1 || got[0].Name != "tg5" {
		t.Fatalf("rules after a refused change = %+v", got)
	}
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 2, SystemID: 1, TalkgroupID: 5}})
	nextOf(t, sub, event.TypeCall)
	if e := nextOf(t, sub, event.TypeAlert); e.Alert.CallID != 2 || e.Alert.Rule != "tg5" {
		t.Fatalf("alert = %+v", e.Alert)
	}
}

func TestAlertsOfCallsFromHistorySaySo(t *testing.T) {
	b := newFakeBackend()
	b.fetch = quietFetch
	r := startRelayWith(t, b, func(r *Relay) {
		if err := r.SetAlertRules([]alerts.Rule{{Name: "tg", Talkgroups: []int64{5}, Priority: true}}); err != nil {
			t.Fatal(err)
		}
	})
	sub := r.Subscribe(16)
	defer sub.Close()
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 1, TalkgroupID: 5, Backfill: true}})
	if e := nextOf(t, sub, event.TypeAlert); !e.Alert.Backfill || !e.Alert.Priority {
		t.Fatalf("alert of a backfilled call = %+v", e.Alert)
	}
	b.send(event.Event{Type: event.TypeCall, Call: &event.Call{ID: 2, TalkgroupID: 5}})
	if e := nextOf(t, sub, event.TypeAlert); e.Alert.Backfill {
		t.Fatalf("alert of a live call = %+v", e.Alert)
	}
}
