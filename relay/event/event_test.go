package event

import (
	"encoding/json"
	"testing"
)

func TestCatalogCloneSharesNothingWithTheOriginal(t *testing.T) {
	orig := Catalog{Systems: []System{{ID: 1, Label: "A", Talkgroups: []Talkgroup{{ID: 5, Label: "TG"}}}}}
	c := orig.Clone()
	c.Systems[0].Label = "changed"
	c.Systems[0].Talkgroups[0].Label = "changed"
	c.Systems[0].Talkgroups = append(c.Systems[0].Talkgroups, Talkgroup{ID: 6})
	if orig.Systems[0].Label != "A" || orig.Systems[0].Talkgroups[0].Label != "TG" || len(orig.Systems[0].Talkgroups) != 1 {
		t.Fatalf("changing a clone changed the original: %+v", orig)
	}
}

func TestCatalogTalkgroupLooksUpByRadioIDs(t *testing.T) {
	c := Catalog{Systems: []System{
		{ID: 1, Label: "A", Talkgroups: []Talkgroup{{ID: 5, Label: "five"}}},
		{ID: 2, Label: "B", Talkgroups: []Talkgroup{{ID: 5, Label: "other five"}}},
	}}
	tg, sys, ok := c.Talkgroup(2, 5)
	if !ok || tg.Label != "other five" || sys.Label != "B" {
		t.Fatalf("Talkgroup(2, 5) = %+v, %+v, %v", tg, sys, ok)
	}
	if _, _, ok := c.Talkgroup(1, 6); ok {
		t.Fatal("Talkgroup(1, 6) found a talkgroup that is not there")
	}
}

func TestCatalogEventWireShape(t *testing.T) {
	e := Event{Type: TypeCatalog, Catalog: &Catalog{Systems: []System{{ID: 1, Label: "A", Talkgroups: []Talkgroup{{ID: 5, Label: "TG"}}}}}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"catalog","catalog":{"systems":[{"systemId":1,"label":"A","talkgroups":[{"talkgroupId":5,"label":"TG"}]}]}}`
	if string(b) != want {
		t.Fatalf("wire shape\n got %s\nwant %s", b, want)
	}
}

func TestAlertEventWireShape(t *testing.T) {
	e := Event{Type: TypeAlert, Alert: &Alert{CallID: 42, Rule: "fire", Words: []string{"Structure fire"}, Tone: true}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"call.alert","callId":42,"rule":"fire","words":["Structure fire"],"tone":true}`
	if string(b) != want {
		t.Fatalf("wire shape\n got %s\nwant %s", b, want)
	}
}

func TestCallCarriesItsAlerts(t *testing.T) {
	c := Call{ID: 7, Alerts: []Alert{{CallID: 7, Rule: "tg"}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Call
	if err := json.Unmarshal(b, &back); err != nil || len(back.Alerts) != 1 || back.Alerts[0].Rule != "tg" {
		t.Fatalf("round trip of %s = %+v, %v", b, back, err)
	}
}
