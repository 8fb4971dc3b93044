package filter

import (
	"net/url"
	"strings"
	"testing"

	"earshot/relay/event"
)

func TestParseQuery_PicksCallsBySystemAndTalkgroup(t *testing.T) {
	call := func(sys, tg int64) event.Call { return event.Call{SystemID: sys, TalkgroupID: tg} }
	tests := []struct {
		name       string
		systems    []string
		talkgroups []string
		in, out    []event.Call
	}{
		{"nothing picks every call", nil, nil, []event.Call{call(1, 1), call(9, 9)}, nil},
		{"systems are alternatives", []string{"1", "2"}, nil, []event.Call{call(1, 5), call(2, 6)}, []event.Call{call(3, 5)}},
		{"a bare talkgroup matches on any system", nil, []string{"101"}, []event.Call{call(1, 101), call(2, 101)}, []event.Call{call(1, 102)}},
		{"system:talkgroup matches on that system only", nil, []string{"1:101", "2:7"}, []event.Call{call(1, 101), call(2, 7)}, []event.Call{call(2, 101), call(1, 7)}},
		{"system and talkgroup must both hold", []string{"1"}, []string{"101"}, []event.Call{call(1, 101)}, []event.Call{call(2, 101), call(1, 102)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery(tt.systems, tt.talkgroups)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.in {
				if !q.Allows(c) {
					t.Errorf("Allows(%d:%d) = false, want true", c.SystemID, c.TalkgroupID)
				}
			}
			for _, c := range tt.out {
				if q.Allows(c) {
					t.Errorf("Allows(%d:%d) = true, want false", c.SystemID, c.TalkgroupID)
				}
			}
		})
	}
}

func TestParseQuery_RefusesBadValues(t *testing.T) {
	for _, tt := range []struct{ systems, talkgroups []string }{
		{[]string{""}, nil},
		{[]string{"0"}, nil},
		{[]string{"-1"}, nil},
		{[]string{"1.5"}, nil},
		{[]string{"+3"}, nil},
		{[]string{"99999999999999999999"}, nil},
		{nil, []string{"abc"}},
		{nil, []string{"1:"}},
		{nil, []string{":5"}},
		{nil, []string{"1:2:3"}},
		{nil, []string{" 5"}},
		{make([]string, MaxQueryValues+1), nil},
	} {
		if _, err := ParseQuery(tt.systems, tt.talkgroups); err == nil {
			t.Errorf("ParseQuery(%q, %q) accepted bad input", tt.systems, tt.talkgroups)
		}
	}
	_, err := ParseQuery(nil, []string{"fire"})
	if err == nil || !strings.Contains(err.Error(), "1:101") {
		t.Errorf("error %v does not say what a talkgroup looks like", err)
	}
}

func TestQuery_KeyIsCanonical(t *testing.T) {
	a, err := ParseQuery([]string{"2", "1", "2"}, []string{"1:101", "7"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseQuery([]string{"1", "2"}, []string{"7", "1:101", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != b.Key() {
		t.Fatalf("Key %q != %q for the same choice", a.Key(), b.Key())
	}
	back, err := ParseQueryValues(a.Values())
	if err != nil || back.Key() != a.Key() {
		t.Fatalf("Values do not read back: %q, %v", back.Key(), err)
	}
	if (Query{}).Key() != "" || !(Query{}).IsZero() {
		t.Fatal("the zero Query has a key")
	}
}

func FuzzParseQuery(f *testing.F) {
	f.Add("system=1&talkgroup=1:101&talkgroup=7")
	f.Add("system=&talkgroup=:")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQueryValues(v)
		if err != nil {
			return
		}
		back, err := ParseQueryValues(q.Values())
		if err != nil {
			t.Fatalf("a parsed query does not parse back: %v", err)
		}
		if back.Key() != q.Key() {
			t.Fatalf("key changed: %q → %q", q.Key(), back.Key())
		}
	})
}
