package alerts

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"earshot/relay/event"
)

func call(sys, tg int64, transcript string) *event.Call {
	return &event.Call{ID: 1, SystemID: sys, TalkgroupID: tg, Transcript: transcript}
}

func mustEngine(t *testing.T, rules ...Rule) *Engine {
	t.Helper()
	for i := range rules {
		rules[i] = Normalize(rules[i])
	}
	e, err := NewEngine(rules)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func names(alerts []event.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Rule)
	}
	return out
}

func TestParseWordsSplitsTrimsAndDropsRepeats(t *testing.T) {
	got := ParseWords(" mayday,structure   fire ,, MAYDAY, 10-4 ,")
	want := []string{"mayday", "structure fire", "10-4"}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseWords = %q, want %q", got, want)
	}
	if got := ParseWords(" , ,"); got != nil {
		t.Fatalf("ParseWords of nothing = %q, want nil", got)
	}
}

func TestWordsMatchWholeWordsIgnoringCase(t *testing.T) {
	e := mustEngine(t, Rule{Name: "fire", Words: []string{"fire", "structure fire", "10-4"}})
	tests := []struct {
		transcript string
		want       []string // matched words; nil: no alert
	}{
		{"Engine 5 respond to a FIRE on Main", []string{"FIRE"}},
		{"structure  fire at 12 Oak", []string{"structure  fire"}}, // "fire" inside it is the same place
		{"the firefighters are on scene", nil},
		{"campfire reported", nil},
		{"fire-fighters", []string{"fire"}}, // a hyphen separates words
		{"copy 10-4, fire.", []string{"10-4", "fire"}},
		{"110-45 is not it", nil},
		{"feu de forêt, fire", []string{"fire"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := e.Match(call(1, 2, tt.transcript))
		if tt.want == nil {
			if len(got) != 0 {
				t.Errorf("Match(%q) = %+v, want no alert", tt.transcript, got)
			}
			continue
		}
		if len(got) != 1 || !slices.Equal(got[0].Words, tt.want) {
			t.Errorf("Match(%q) = %+v, want words %q", tt.transcript, got, tt.want)
		}
	}
}

func TestWordsRespectLettersBeyondASCII(t *testing.T) {
	e := mustEngine(t, Rule{Name: "cafe", Words: []string{"café"}})
	if got := e.Match(call(1, 1, "le CAFÉ brûle")); len(got) != 1 || got[0].Words[0] != "CAFÉ" {
		t.Fatalf("Match = %+v, want CAFÉ", got)
	}
	if got := e.Match(call(1, 1, "cafés")); len(got) != 0 {
		t.Fatalf("Match(cafés) = %+v, want none (not a whole word)", got)
	}
	e = mustEngine(t, Rule{Name: "caf", Words: []string{"caf"}})
	if got := e.Match(call(1, 1, "café")); len(got) != 0 {
		t.Fatalf("Match(café) for caf = %+v: é is a letter, so caf is not a whole word there", got)
	}
}

func TestAnOccurrenceInsideAWordDoesNotHideTheRealOne(t *testing.T) {
	e := mustEngine(t, Rule{Name: "aa", Words: []string{"a a"}})
	if got := e.Match(call(1, 1, "ba a a")); len(got) != 1 || got[0].Words[0] != "a a" {
		t.Fatalf("Match = %+v, want one match of \"a a\"", got)
	}
}

func TestRulesMatchSystemsAndTalkgroups(t *testing.T) {
	e := mustEngine(t,
		Rule{Name: "tg", Systems: []int64{1}, Talkgroups: []int64{101, 102}},
		Rule{Name: "sys2", Systems: []int64{2}},
		Rule{Name: "words on 101", Talkgroups: []int64{101}, Words: []string{"mayday"}},
	)
	tests := []struct {
		c    *event.Call
		want []string
	}{
		{call(1, 101, ""), []string{"tg"}},
		{call(1, 102, "mayday mayday"), []string{"tg"}},
		{call(1, 101, "Mayday"), []string{"tg", "words on 101"}},
		{call(2, 101, "mayday"), []string{"sys2", "words on 101"}},
		{call(3, 103, "mayday"), nil},
	}
	for _, tt := range tests {
		if got := names(e.Match(tt.c)); !slices.Equal(got, tt.want) {
			t.Errorf("Match(sys %d tg %d %q) = %q, want %q", tt.c.SystemID, tt.c.TalkgroupID, tt.c.Transcript, got, tt.want)
		}
	}
}

func TestEachRuleFiresOncePerCallEvenWhenTheTranscriptArrivesLate(t *testing.T) {
	e := mustEngine(t,
		Rule{Name: "tg", Talkgroups: []int64{101}, Tone: true},
		Rule{Name: "words", Words: []string{"mayday"}, Priority: true, Bump: true},
	)
	c := call(1, 101, "")
	// At call.new: no transcript yet, only the talkgroup rule.
	first := e.Match(c)
	if !slices.Equal(names(first), []string{"tg"}) || !first[0].Tone || first[0].Priority {
		t.Fatalf("at the call: %+v, want the talkgroup rule with its tone", first)
	}
	c.Alerts = append(c.Alerts, first...)
	// The transcript arrives: the word rule fires now, the talkgroup rule
	// not again.
	c.Transcript = "MAYDAY, firefighter down"
	second := e.Match(c)
	if len(second) != 1 || second[0].Rule != "words" || !slices.Equal(second[0].Words, []string{"MAYDAY"}) ||
		!second[0].Priority || !second[0].Bump || second[0].CallID != c.ID {
		t.Fatalf("at the transcript: %+v, want the word rule once, with MAYDAY", second)
	}
	c.Alerts = append(c.Alerts, second...)
	if again := e.Match(c); len(again) != 0 {
		t.Fatalf("a third evaluation fired again: %+v", again)
	}
}

func TestRegexIsCaseInsensitiveAndReportsMatches(t *testing.T) {
	e := mustEngine(t, Rule{Name: "units", Regex: `engine \d+`})
	got := e.Match(call(1, 1, "Engine 5 and ENGINE 12 respond"))
	if len(got) != 1 || !slices.Equal(got[0].Words, []string{"Engine 5", "ENGINE 12"}) {
		t.Fatalf("Match = %+v", got)
	}
	e = mustEngine(t, Rule{Name: "exact", Regex: `(?-i)MAYDAY`})
	if got := e.Match(call(1, 1, "mayday")); len(got) != 0 {
		t.Fatalf("(?-i) should make the match case-sensitive: %+v", got)
	}
}

func TestWordsOrRegexEitherMatches(t *testing.T) {
	e := mustEngine(t, Rule{Name: "either", Words: []string{"mayday"}, Regex: `code \d`})
	if got := e.Match(call(1, 1, "we have a code 3")); len(got) != 1 {
		t.Fatalf("the regex alone should match: %+v", got)
	}
	if got := e.Match(call(1, 1, "mayday")); len(got) != 1 {
		t.Fatalf("the words alone should match: %+v", got)
	}
}

func TestHugeTranscriptIsSearchedOnlyUpToTheCap(t *testing.T) {
	e := mustEngine(t, Rule{Name: "w", Words: []string{"needle"}})
	text := strings.Repeat("hay ", MaxTranscript/4) + "needle"
	if got := e.Match(call(1, 1, text)); len(got) != 0 {
		t.Fatalf("a word past the cap matched: %+v", got)
	}
	if got := e.Match(call(1, 1, "needle "+text)); len(got) != 1 {
		t.Fatalf("a word within the cap did not match: %+v", got)
	}
}

func TestValidationRefusesBadRules(t *testing.T) {
	tests := []struct {
		name string
		r    Rule
		want string
	}{
		{"no name", Rule{Talkgroups: []int64{1}}, "needs a name"},
		{"matches everything", Rule{Name: "all"}, "matches every call"},
		{"control in name", Rule{Name: "a\nb", Talkgroups: []int64{1}}, "control"},
		{"long name", Rule{Name: strings.Repeat("n", MaxNameLen+1), Talkgroups: []int64{1}}, "longer than"},
		{"zero talkgroup", Rule{Name: "z", Talkgroups: []int64{0}}, "positive"},
		{"negative system", Rule{Name: "z", Systems: []int64{-1}}, "positive"},
		{"punctuation only", Rule{Name: "p", Words: []string{"!!"}}, "no letter"},
		{"long word", Rule{Name: "w", Words: []string{strings.Repeat("w", MaxWordLen+1)}}, "longer than"},
		{"too many words", Rule{Name: "w", Words: manyWords(MaxWords + 1)}, "at most"},
		{"bad regex", Rule{Name: "r", Regex: `(unclosed`}, "does not parse"},
		{"backreference", Rule{Name: "r", Regex: `(a)\1`}, "does not parse"},
		{"empty match", Rule{Name: "r", Regex: `a*`}, "empty transcript"},
		{"huge regex", Rule{Name: "r", Regex: `(((a{100}){100}){100})`}, ""},
		{"long regex", Rule{Name: "r", Regex: strings.Repeat("a", MaxRegexLen+1)}, "longer than"},
	}
	for _, tt := range tests {
		err := Validate(Normalize(tt.r))
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want ErrInvalid saying %q", tt.name, err, tt.want)
		}
	}
}

func manyWords(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "w"+strings.Repeat("x", i))
	}
	return out
}

func TestRuleSetRefusesTwoRulesOfOneName(t *testing.T) {
	err := ValidateRules([]Rule{{Name: "Fire", Talkgroups: []int64{1}}, {Name: "fire", Talkgroups: []int64{2}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ValidateRules = %v, want ErrInvalid", err)
	}
}

func TestSetRulesKeepsTheOldRulesWhenTheNewAreInvalid(t *testing.T) {
	e := mustEngine(t, Rule{Name: "tg", Talkgroups: []int64{1}})
	if err := e.SetRules([]Rule{{Name: "bad"}}); err == nil {
		t.Fatal("SetRules took an invalid rule")
	}
	if got := e.Rules(); len(got) != 1 || got[0].Name != "tg" {
		t.Fatalf("rules after a refused change: %+v", got)
	}
}

func TestWithAndWithout(t *testing.T) {
	rules, err := With(nil, Rule{Name: " fire ", Words: []string{"fire, smoke"}, Talkgroups: []int64{3, 1, 3}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := rules[0]; r.Name != "fire" || !slices.Equal(r.Words, []string{"fire", "smoke"}) || !slices.Equal(r.Talkgroups, []int64{1, 3}) {
		t.Fatalf("With normalized the rule to %+v", r)
	}
	if _, err := With(rules, Rule{Name: "FIRE", Talkgroups: []int64{9}}, false); !errors.Is(err, ErrExists) {
		t.Fatalf("adding a rule of an existing name: %v, want ErrExists", err)
	}
	replaced, err := With(rules, Rule{Name: "FIRE", Talkgroups: []int64{9}}, true)
	if err != nil || len(replaced) != 1 || replaced[0].Talkgroups[0] != 9 {
		t.Fatalf("replace: %+v, %v", replaced, err)
	}
	if rules[0].Talkgroups[0] != 1 {
		t.Fatal("With changed the rules it was given")
	}
	if _, err := Without(rules, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Without(nope) = %v, want ErrNotFound", err)
	}
	left, err := Without(rules, "Fire")
	if err != nil || len(left) != 0 {
		t.Fatalf("Without(Fire) = %+v, %v", left, err)
	}
}

func TestParseRulesIsStrict(t *testing.T) {
	if _, err := ParseRules([]byte(`[{"name":"a","talkgroups":[1],"sound":true}]`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
	rules, err := ParseRules([]byte(`[{"name":"a","talkgroups":[1],"tone":true}]`))
	if err != nil || len(rules) != 1 || !rules[0].Tone {
		t.Fatalf("ParseRules = %+v, %v", rules, err)
	}
}

func BenchmarkMatch(b *testing.B) {
	var rules []Rule
	for i := range 50 {
		rules = append(rules, Normalize(Rule{Name: "r" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Words: []string{"structure fire", "mayday", "shots fired"}, Regex: `engine \d+`}))
	}
	e, err := NewEngine(rules)
	if err != nil {
		b.Fatal(err)
	}
	c := call(1, 101, "Engine 12 respond to a reported structure fire at 4400 Main Street, cross of Oak, caller reports smoke showing")
	b.ReportAllocs()
	for b.Loop() {
		if len(e.Match(c)) != 50 {
			b.Fatal("no match")
		}
	}
}
