package priority

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"earshot/relay/event"
)

func TestLevelOfACall(t *testing.T) {
	tgs := []TG{{1, 101}, {2, 5}}
	c := &event.Call{SystemID: 1, TalkgroupID: 101}
	if got := Of(c, tgs, nil); got != Talkgroup {
		t.Fatalf("call on a priority talkgroup: %v", got)
	}
	if got := Of(&event.Call{SystemID: 2, TalkgroupID: 101}, tgs, nil); got != Normal {
		t.Fatalf("talkgroup 101 of another system: %v, want normal", got)
	}
	alerts := []event.Alert{{Rule: "tg", Bump: true}, {Rule: "mayday", Priority: true}}
	if got := Of(&event.Call{SystemID: 9, TalkgroupID: 9}, nil, alerts); got != Alert {
		t.Fatalf("priority alert: %v", got)
	}
	if got := Of(&event.Call{}, nil, alerts[:1]); got != Normal || !Bumped(alerts[:1]) {
		t.Fatalf("a bump alert without priority: level %v bumped %v", got, Bumped(alerts[:1]))
	}
}

func TestOnlyAHigherLevelInterrupts(t *testing.T) {
	for _, tc := range []struct {
		playing           bool
		playingLevel, new Level
		policy            OnInterrupt
		want              Action
	}{
		{false, Normal, Alert, Requeue, Action{}},
		{true, Normal, Normal, Requeue, Action{}},
		{true, Talkgroup, Talkgroup, Requeue, Action{}},
		{true, Alert, Talkgroup, Requeue, Action{}},
		{true, Normal, Talkgroup, Requeue, Action{Interrupt: true, Requeue: true}},
		{true, Normal, Alert, Drop, Action{Interrupt: true}},
		{true, Talkgroup, Alert, Requeue, Action{Interrupt: true, Requeue: true}},
	} {
		if got := Decide(tc.playing, tc.playingLevel, tc.new, tc.policy); got != tc.want {
			t.Errorf("Decide(%v, %v, %v, %v) = %+v, want %+v", tc.playing, tc.playingLevel, tc.new, tc.policy, got, tc.want)
		}
	}
}

func TestInsertKeepsLevelsBumpsAndArrivalOrder(t *testing.T) {
	var queue []Rank
	var order []string
	add := func(name string, r Rank) {
		i := Insert(queue, r)
		queue = slices.Insert(queue, i, r)
		order = slices.Insert(order, i, name)
	}
	add("n1", Rank{Normal, false})
	add("n2", Rank{Normal, false})
	add("b1", Rank{Normal, true})
	add("p1", Rank{Talkgroup, false})
	add("b2", Rank{Normal, true})
	add("a1", Rank{Alert, false})
	add("p2", Rank{Talkgroup, true})
	add("n3", Rank{Normal, false})
	want := []string{"a1", "p2", "p1", "b1", "b2", "n1", "n2", "n3"}
	if !slices.Equal(order, want) {
		t.Fatalf("queue order %v, want %v", order, want)
	}
}

func TestPolicyAndTalkgroupsInJSON(t *testing.T) {
	var p OnInterrupt
	for in, want := range map[string]OnInterrupt{`"drop"`: Drop, `"requeue"`: Requeue, `""`: Requeue} {
		if err := json.Unmarshal([]byte(in), &p); err != nil || p != want {
			t.Errorf("%s = %v, %v", in, p, err)
		}
	}
	if err := json.Unmarshal([]byte(`"skip"`), &p); !errors.Is(err, ErrInvalid) {
		t.Errorf(`"skip" = %v`, err)
	}
	if b, _ := json.Marshal(Drop); string(b) != `"drop"` {
		t.Errorf("Drop marshals to %s", b)
	}
	if err := Validate([]TG{{1, 0}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("talkgroup 0 = %v", err)
	}
	if err := Validate(make([]TG, MaxTalkgroups+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("too many = %v", err)
	}
}
