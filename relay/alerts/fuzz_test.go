package alerts

import (
	"strings"
	"testing"
	"unicode/utf8"

	"earshot/relay/event"
)

// FuzzParseRules feeds rule files (config.json's "alerts", control-plane
// bodies) through the strict parser and, when they pass, matches the
// rules against a transcript: nothing may panic, and a rule set that
// validated must compile into an engine.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(`[{"name":"fire","words":["structure fire","mayday"],"talkgroups":[101]}]`), "Structure fire on Main")
	f.Add([]byte(`[{"name":"re","regex":"engine \\d+","priority":true}]`), "ENGINE 5")
	f.Add([]byte(`[{"name":"x","regex":"(a|b)*c{2,5}"}]`), "abababcc")
	f.Add([]byte(`[{"name":"","systems":[0]}]`), "")
	f.Add([]byte(`[]`), "")
	f.Fuzz(func(t *testing.T, data []byte, transcript string) {
		rules, err := ParseRules(data)
		if err != nil {
			return
		}
		e, err := NewEngine(rules)
		if err != nil {
			t.Fatalf("rules that validated do not compile: %v", err)
		}
		for _, a := range e.Match(&event.Call{ID: 1, SystemID: 1, TalkgroupID: 101, Transcript: transcript}) {
			if len(a.Words) > maxMatchWords {
				t.Fatalf("an alert reports %d words", len(a.Words))
			}
		}
	})
}

// FuzzWords checks the word list the CLI and the window take: whatever is
// typed, ParseWords yields clean alternatives and matching reports only
// text that is in the transcript.
func FuzzWords(f *testing.F) {
	f.Add("mayday, structure fire", "MAYDAY structure   FIRE")
	f.Add("10-4,,", "copy 10-4")
	f.Add("é, ü", "É ü")
	f.Fuzz(func(t *testing.T, list, transcript string) {
		words := ParseWords(list)
		for _, w := range words {
			if w == "" || strings.TrimSpace(w) != w || strings.Contains(w, ",") {
				t.Fatalf("ParseWords(%q) gave %q", list, w)
			}
		}
		r := Normalize(Rule{Name: "w", Words: words})
		if Validate(r) != nil {
			return
		}
		e, err := NewEngine([]Rule{r})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range e.Match(&event.Call{ID: 1, Transcript: transcript}) {
			for _, w := range a.Words {
				if !strings.Contains(transcript, w) || !utf8.ValidString(w) && utf8.ValidString(transcript) {
					t.Fatalf("reported %q, which is not in %q", w, transcript)
				}
			}
		}
	})
}
