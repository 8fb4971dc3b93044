package filter

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"earshot/relay/event"
)

func TestFilter_Reason(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	call := func(sys, tg int64) event.Call { return event.Call{ID: 1, SystemID: sys, TalkgroupID: tg} }
	tg := func(sys, tg int64) Talkgroup { return Talkgroup{SystemID: sys, TalkgroupID: tg} }
	tests := []struct {
		name string
		f    Filter
		c    event.Call
		want string
	}{
		{"zero filter allows all", Filter{}, call(1, 10), ""},
		{"held talkgroup passes", Filter{Hold: &Hold{Talkgroup: tg(1, 10)}}, call(1, 10), ""},
		{"other talkgroup of held one's system is out", Filter{Hold: &Hold{Talkgroup: tg(1, 10)}}, call(1, 11), ReasonNotHeld},
		{"same talkgroup id on another system is out", Filter{Hold: &Hold{Talkgroup: tg(1, 10)}}, call(2, 10), ReasonNotHeld},
		{"held system passes any of its talkgroups", Filter{Hold: &Hold{Talkgroup: tg(1, 0)}}, call(1, 99), ""},
		{"held system keeps other systems out", Filter{Hold: &Hold{Talkgroup: tg(1, 0)}}, call(2, 99), ReasonNotHeld},
		{"expired hold is ignored", Filter{Hold: &Hold{Talkgroup: tg(1, 10), Until: past}}, call(1, 11), ""},
		{"hold until later still holds", Filter{Hold: &Hold{Talkgroup: tg(1, 10), Until: future}}, call(1, 11), ReasonNotHeld},
		{"hold ends exactly at Until", Filter{Hold: &Hold{Talkgroup: tg(1, 10), Until: now}}, call(1, 11), ""},
		{"avoided talkgroup is out", Filter{Avoids: []Avoid{{Talkgroup: tg(1, 10)}}}, call(1, 10), ReasonAvoided},
		{"avoid is per system", Filter{Avoids: []Avoid{{Talkgroup: tg(1, 10)}}}, call(2, 10), ""},
		{"expired avoid is ignored", Filter{Avoids: []Avoid{{Talkgroup: tg(1, 10), Until: past}}}, call(1, 10), ""},
		{"avoid until later still avoids", Filter{Avoids: []Avoid{{Talkgroup: tg(1, 10), Until: future}}}, call(1, 10), ReasonAvoided},
		{"avoiding a whole system", Filter{Avoids: []Avoid{{Talkgroup: tg(1, 0)}}}, call(1, 5), ReasonAvoided},
		{"avoid beats hold", Filter{Hold: &Hold{Talkgroup: tg(1, 10)}, Avoids: []Avoid{{Talkgroup: tg(1, 10)}}}, call(1, 10), ReasonAvoided},
		{"selected talkgroup passes", Filter{Selection: []Talkgroup{tg(1, 10), tg(2, 20)}}, call(2, 20), ""},
		{"unselected talkgroup is out", Filter{Selection: []Talkgroup{tg(1, 10), tg(2, 20)}}, call(2, 10), ReasonNotSelected},
		{"selecting a whole system", Filter{Selection: []Talkgroup{tg(3, 0)}}, call(3, 77), ""},
		{"hold beats selection", Filter{Hold: &Hold{Talkgroup: tg(9, 90)}, Selection: []Talkgroup{tg(1, 10)}}, call(9, 90), ""},
		{"selection still applies when the hold expired", Filter{Hold: &Hold{Talkgroup: tg(9, 90), Until: past}, Selection: []Talkgroup{tg(1, 10)}}, call(9, 90), ReasonNotSelected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Reason(tt.c, now); got != tt.want {
				t.Errorf("Reason(%d/%d) = %q, want %q", tt.c.SystemID, tt.c.TalkgroupID, got, tt.want)
			}
			if got := tt.f.Allows(tt.c, now); got != (tt.want == "") {
				t.Errorf("Allows = %v, want %v", got, tt.want == "")
			}
		})
	}
}

func TestFilter_Mutators(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var f Filter
	f.HoldTalkgroup(1, 10, time.Time{})
	f.HoldSystem(2, now.Add(time.Hour)) // replaces the talkgroup hold
	if f.Hold == nil || f.Hold.SystemID != 2 || f.Hold.TalkgroupID != 0 {
		t.Fatalf("Hold = %+v, want system 2", f.Hold)
	}
	f.ReleaseHold()
	if f.Hold != nil {
		t.Fatal("ReleaseHold left a hold")
	}
	f.AvoidTalkgroup(1, 10, time.Time{})
	f.AvoidTalkgroup(1, 10, now.Add(time.Minute)) // replaces, not duplicates
	f.AvoidTalkgroup(1, 11, time.Time{})
	if len(f.Avoids) != 2 || !f.Avoided(1, 10, now) || f.Avoided(1, 10, now.Add(2*time.Minute)) {
		t.Fatalf("Avoids = %+v", f.Avoids)
	}
	f.Unavoid(1, 11)
	if f.Avoided(1, 11, now) {
		t.Fatal("Unavoid left the avoid")
	}
	f.SetSelection([]Talkgroup{{2, 5}, {1, 7}, {2, 5}})
	if want := []Talkgroup{{1, 7}, {2, 5}}; !reflect.DeepEqual(f.Selection, want) {
		t.Fatalf("Selection = %v, want %v (sorted, deduplicated)", f.Selection, want)
	}
}

func TestFilter_Prune(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := Filter{
		Hold:   &Hold{Talkgroup: Talkgroup{1, 10}, Until: now.Add(-time.Second)},
		Avoids: []Avoid{{Talkgroup: Talkgroup{1, 11}, Until: now.Add(-time.Second)}, {Talkgroup: Talkgroup{1, 12}}},
	}
	if !f.Prune(now) {
		t.Fatal("Prune reported no change")
	}
	if f.Hold != nil || len(f.Avoids) != 1 || f.Avoids[0].TalkgroupID != 12 {
		t.Fatalf("after Prune: %+v", f)
	}
	if f.Prune(now) {
		t.Fatal("second Prune reported a change")
	}
}

func TestFilter_JSONRoundTripAndClone(t *testing.T) {
	until := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	var f Filter
	f.HoldTalkgroup(1, 10, until)
	f.AvoidTalkgroup(2, 20, time.Time{})
	f.SetSelection([]Talkgroup{{1, 10}, {3, 0}})
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip changed the filter:\n%s\n%+v", b, g)
	}
	if b, _ := json.Marshal(Filter{}); string(b) != "{}" {
		t.Errorf("zero Filter marshals to %s, want {}", b)
	}
	c := f.Clone()
	c.Hold.TalkgroupID = 99
	c.Avoids[0].TalkgroupID = 99
	c.Selection[0].TalkgroupID = 99
	if f.Hold.TalkgroupID != 10 || f.Avoids[0].TalkgroupID != 20 || f.Selection[0].TalkgroupID != 10 {
		t.Fatal("Clone shares memory with the original")
	}
}
