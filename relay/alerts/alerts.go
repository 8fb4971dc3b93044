// Package alerts holds the listener's alert rules and decides which of them
// match a call: by system and talkgroup, and optionally by words, phrases
// or a regular expression in the call's transcript.
//
// It owns the rule format, its validation and matching. It keeps no state
// about calls: which rules already fired for a call travels with the call
// (event.Call.Alerts), so each rule fires at most once per call however
// often the call is evaluated (at call.new, and again when its transcript
// arrives). It does no I/O; storing rules is the application's business.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"earshot/relay/event"
)

// Rule is one alert rule as stored in config.json and sent over the control
// plane.
//
// A call matches when its system is one of Systems (any, if empty), its
// talkgroup one of Talkgroups (any, if empty), and — when the rule has
// Words or a Regex — its transcript contains one of the words or phrases
// (case-insensitive, whole words) or a match of the regular expression.
type Rule struct {
	Name       string  `json:"name"`
	Systems    []int64 `json:"systems,omitempty"`
	Talkgroups []int64 `json:"talkgroups,omitempty"`
	// Words are alternatives: single words or phrases ("structure fire").
	Words []string `json:"words,omitempty"`
	// Regex is an RE2 regular expression, case-insensitive unless it says
	// (?-i). Only non-empty matches count.
	Regex string `json:"regex,omitempty"`
	// Priority: a matching call interrupts a lower-priority one and may
	// pass quiet hours. Tone: a short tone plays before the call. Bump:
	// the call moves to the front of the queue.
	Priority bool `json:"priority,omitempty"`
	Tone     bool `json:"tone,omitempty"`
	Bump     bool `json:"bump,omitempty"`
}

// Limits on rules (they come from hand-edited files and local programs).
const (
	MaxRules        = 100
	MaxNameLen      = 64  // runes
	MaxSystems      = 64  // per rule
	MaxTalkgroups   = 256 // per rule
	MaxWords        = 32  // alternatives per rule
	MaxWordLen      = 100 // runes per word or phrase
	MaxRegexLen     = 512 // bytes
	maxRegexProgram = 20000
	// MaxTranscript is how much of a transcript is searched; the rest is
	// ignored (transcripts of scanner calls are a few hundred bytes).
	MaxTranscript = 64 << 10
	// maxMatchWords caps the words an alert reports.
	maxMatchWords = 16
)

// ErrInvalid marks a rule that breaks the rules above; the message says
// which field and why.
var ErrInvalid = errors.New("invalid alert rule")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseWords splits a comma-separated list of words and phrases as the
// listener types it ("mayday, structure fire") into clean alternatives:
// trimmed, inner spaces collapsed, empty ones and repeats (ignoring case)
// left out.
func ParseWords(list string) []string {
	var out []string
	for _, w := range strings.Split(list, ",") {
		w = strings.Join(strings.Fields(w), " ")
		if w == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, w) }) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// Normalize returns r with its lists cleaned up (sorted, repeats dropped,
// words as ParseWords leaves them) and its name trimmed. It does not
// validate.
func Normalize(r Rule) Rule {
	r.Name = strings.TrimSpace(r.Name)
	r.Systems = sortedUnique(r.Systems)
	r.Talkgroups = sortedUnique(r.Talkgroups)
	if len(r.Words) > 0 {
		r.Words = ParseWords(strings.Join(r.Words, ","))
	}
	return r
}

func sortedUnique(ids []int64) []int64 {
	if len(ids) == 0 {
		return nil
	}
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks one rule (normalize it first).
func Validate(r Rule) error {
	_, err := compile(r)
	return err
}

// ValidateRules checks a whole rule set: every rule, their number, and that
// no two share a name (names are compared ignoring case).
func ValidateRules(rules []Rule) error {
	_, err := compileAll(rules)
	return err
}

// ParseRules decodes a JSON array of rules strictly (unknown fields are
// refused) and validates it.
func ParseRules(data []byte) ([]Rule, error) {
	var rules []Rule
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("%w: not a JSON list of rules: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, invalid("data after the list of rules")
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// validName checks a rule name: 1 to MaxNameLen printable characters,
// no surrounding spaces.
func validName(name string) error {
	switch {
	case name == "":
		return invalid("a rule needs a name")
	case !utf8.ValidString(name):
		return invalid("the name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return invalid("the name %q is longer than %d characters", name, MaxNameLen)
	case strings.TrimSpace(name) != name:
		return invalid("the name %q starts or ends with a space", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return invalid("the name %q holds a control or invisible character", name)
		}
	}
	return nil
}

// compiled is a validated rule ready to match.
type compiled struct {
	rule       Rule
	systems    map[int64]bool // nil: any
	talkgroups map[int64]bool // nil: any
	words      []*regexp.Regexp
	regex      *regexp.Regexp
}

func compile(r Rule) (*compiled, error) {
	if err := validName(r.Name); err != nil {
		return nil, err
	}
	c := &compiled{rule: r}
	if len(r.Systems) > MaxSystems {
		return nil, invalid("rule %q: at most %d systems", r.Name, MaxSystems)
	}
	if len(r.Talkgroups) > MaxTalkgroups {
		return nil, invalid("rule %q: at most %d talkgroups", r.Name, MaxTalkgroups)
	}
	for _, id := range r.Systems {
		if id <= 0 {
			return nil, invalid("rule %q: system ids are positive numbers, not %d", r.Name, id)
		}
	}
	for _, id := range r.Talkgroups {
		if id <= 0 {
			return nil, invalid("rule %q: talkgroup ids are positive numbers, not %d", r.Name, id)
		}
	}
	c.systems = idSet(r.Systems)
	c.talkgroups = idSet(r.Talkgroups)
	if len(r.Words) > MaxWords {
		return nil, invalid("rule %q: at most %d words or phrases", r.Name, MaxWords)
	}
	for _, w := range r.Words {
		re, err := wordPattern(w)
		if err != nil {
			return nil, invalid("rule %q: %v", r.Name, err)
		}
		c.words = append(c.words, re)
	}
	if r.Regex != "" {
		re, err := compileRegex(r.Regex)
		if err != nil {
			return nil, invalid("rule %q: %v", r.Name, err)
		}
		c.regex = re
	}
	if c.systems == nil && c.talkgroups == nil && len(c.words) == 0 && c.regex == nil {
		return nil, invalid("rule %q matches every call: give a system, a talkgroup, words or a regular expression", r.Name)
	}
	return c, nil
}

func idSet(ids []int64) map[int64]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// wordPattern compiles one word or phrase: its characters literally, any
// run of spaces between its words matching any run of white space, case
// ignored. Whole-word matching is checked around each match (isWordBoundary),
// as RE2's \b knows only ASCII letters.
func wordPattern(w string) (*regexp.Regexp, error) {
	switch {
	case !utf8.ValidString(w):
		return nil, errors.New("a word is not valid UTF-8")
	case utf8.RuneCountInString(w) > MaxWordLen:
		return nil, fmt.Errorf("%q is longer than %d characters", w, MaxWordLen)
	case !strings.ContainsFunc(w, isWordRune):
		return nil, fmt.Errorf("%q has no letter or digit to look for", w)
	}
	for _, r := range w {
		if unicode.IsControl(r) {
			return nil, fmt.Errorf("%q holds a control character", w)
		}
	}
	parts := strings.Fields(w)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.Compile(`(?i)` + strings.Join(parts, `\s+`))
}

// compileRegex compiles a listener's regular expression, case-insensitive
// by default, refusing ones too long or too large to run cheaply on every
// transcript and ones that match nothing at all (an empty match everywhere).
// RE2 has no backtracking: matching is linear in the transcript's length.
func compileRegex(expr string) (*regexp.Regexp, error) {
	if len(expr) > MaxRegexLen {
		return nil, fmt.Errorf("the regular expression is longer than %d characters", MaxRegexLen)
	}
	if !utf8.ValidString(expr) {
		return nil, errors.New("the regular expression is not valid UTF-8")
	}
	parsed, err := syntax.Parse(`(?i)`+expr, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("the regular expression does not parse: %v", err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("the regular expression does not compile: %v", err)
	}
	if len(prog.Inst) > maxRegexProgram {
		return nil, errors.New("the regular expression is too large (repeat counts multiply its size); simplify it")
	}
	re, err := regexp.Compile(`(?i)` + expr)
	if err != nil {
		return nil, fmt.Errorf("the regular expression does not compile: %v", err)
	}
	if re.MatchString("") {
		return nil, errors.New("the regular expression matches an empty transcript, so it would fire on every call; make it require some text")
	}
	return re, nil
}

func compileAll(rules []Rule) ([]*compiled, error) {
	if len(rules) > MaxRules {
		return nil, invalid("at most %d rules", MaxRules)
	}
	out := make([]*compiled, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		c, err := compile(r)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(r.Name)
		if seen[key] {
			return nil, invalid("two rules are named %q", r.Name)
		}
		seen[key] = true
		out = append(out, c)
	}
	return out, nil
}

// matches reports whether the call matches and which words did.
func (c *compiled) matches(call *event.Call) (bool, []string) {
	if c.systems != nil && !c.systems[call.SystemID] {
		return false, nil
	}
	if c.talkgroups != nil && !c.talkgroups[call.TalkgroupID] {
		return false, nil
	}
	if len(c.words) == 0 && c.regex == nil {
		return true, nil
	}
	text := call.Transcript
	if len(text) > MaxTranscript {
		text = text[:MaxTranscript]
	}
	if strings.TrimSpace(text) == "" {
		return false, nil
	}
	// Every occurrence, then in the order they appear in the transcript.
	var found []span
	for _, re := range c.words {
		found = append(found, wholeWordMatches(re, text)...)
	}
	if c.regex != nil {
		for _, loc := range c.regex.FindAllStringIndex(text, maxMatchWords) {
			if loc[1] > loc[0] {
				found = append(found, span{loc[0], loc[1]})
			}
		}
	}
	// Earliest first, the longest of those starting together first; a
	// match inside one already taken ("fire" in "structure fire") is the
	// same place and not reported again.
	slices.SortFunc(found, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var words []string
	taken := 0
	for _, sp := range found {
		if sp.start < taken {
			continue
		}
		taken = sp.end
		w := text[sp.start:sp.end]
		if len(words) < maxMatchWords && !slices.ContainsFunc(words, func(o string) bool { return strings.EqualFold(o, w) }) {
			words = append(words, w)
		}
	}
	return len(words) > 0, words
}

// span is where a match is in a transcript.
type span struct{ start, end int }

// wholeWordMatches returns the matches of re in text that stand as whole
// words: no letter or digit right before or after. A match that fails the
// test is tried again one character later, so an occurrence inside a longer
// word never hides a real one.
func wholeWordMatches(re *regexp.Regexp, text string) []span {
	var out []span
	for from := 0; from < len(text) && len(out) < maxMatchWords; {
		loc := re.FindStringIndex(text[from:])
		if loc == nil {
			break
		}
		start, end := from+loc[0], from+loc[1]
		if end > start && isWordBoundary(text, start, end) {
			out = append(out, span{start, end})
			from = end
			continue
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		from = start + max(size, 1)
	}
	return out
}

func isWordBoundary(text string, start, end int) bool {
	if start > 0 {
		if r, _ := utf8.DecodeLastRuneInString(text[:start]); isWordRune(r) {
			first, _ := utf8.DecodeRuneInString(text[start:])
			if isWordRune(first) {
				return false
			}
		}
	}
	if end < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[end:]); isWordRune(r) {
			last, _ := utf8.DecodeLastRuneInString(text[:end])
			if isWordRune(last) {
				return false
			}
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Engine matches calls against the current rule set. Its methods are safe
// for concurrent use; SetRules replaces the rules at once.
type Engine struct {
	mu    sync.RWMutex
	rules []*compiled
}

// NewEngine returns an engine with rules (which must be valid).
func NewEngine(rules []Rule) (*Engine, error) {
	e := &Engine{}
	if err := e.SetRules(rules); err != nil {
		return nil, err
	}
	return e, nil
}

// SetRules validates rules and, if all are valid, makes them the engine's
// rules; otherwise the engine keeps its old ones.
func (e *Engine) SetRules(rules []Rule) error {
	c, err := compileAll(rules)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.rules = c
	e.mu.Unlock()
	return nil
}

// Rules returns a copy of the current rules.
func (e *Engine) Rules() []Rule {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Rule, len(e.rules))
	for i, c := range e.rules {
		out[i] = cloneRule(c.rule)
	}
	return out
}

func cloneRule(r Rule) Rule {
	r.Systems = slices.Clone(r.Systems)
	r.Talkgroups = slices.Clone(r.Talkgroups)
	r.Words = slices.Clone(r.Words)
	return r
}

// Match returns an alert for every rule that matches call as it is now
// (with its transcript, if it has one) and has not fired for it yet (is
// not in call.Alerts), in rule order.
func (e *Engine) Match(call *event.Call) []event.Alert {
	e.mu.RLock()
	rules := e.rules
	e.mu.RUnlock()
	var out []event.Alert
	for _, c := range rules {
		if slices.ContainsFunc(call.Alerts, func(a event.Alert) bool { return a.Rule == c.rule.Name }) {
			continue
		}
		ok, words := c.matches(call)
		if !ok {
			continue
		}
		out = append(out, event.Alert{CallID: call.ID, Rule: c.rule.Name, Words: words,
			Tone: c.rule.Tone, Bump: c.rule.Bump, Priority: c.rule.Priority, Backfill: call.Backfill})
	}
	return out
}

// NeedsTranscript reports whether any rule looks at transcripts (so a
// transcript arriving later may still fire one).
func (e *Engine) NeedsTranscript() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.ContainsFunc(e.rules, func(c *compiled) bool { return len(c.words) > 0 || c.regex != nil })
}

// Errors of With and Without.
var (
	ErrExists   = errors.New("an alert rule with that name exists")
	ErrNotFound = errors.New("no alert rule with that name")
)

// With returns rules with r added (normalized and validated). A rule of
// the same name (ignoring case) is ErrExists unless replace is set, when r
// takes its place. rules itself is not changed.
func With(rules []Rule, r Rule, replace bool) ([]Rule, error) {
	r = Normalize(r)
	if err := Validate(r); err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(rules)+1)
	replaced := false
	for _, old := range rules {
		if strings.EqualFold(old.Name, r.Name) {
			if !replace {
				return nil, fmt.Errorf("%w: %q (remove it first, or replace it)", ErrExists, old.Name)
			}
			out = append(out, r)
			replaced = true
			continue
		}
		out = append(out, cloneRule(old))
	}
	if !replaced {
		out = append(out, r)
	}
	if err := ValidateRules(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Without returns rules without the rule named name (ignoring case), or
// ErrNotFound. rules itself is not changed.
func Without(rules []Rule, name string) ([]Rule, error) {
	i := slices.IndexFunc(rules, func(r Rule) bool { return strings.EqualFold(r.Name, strings.TrimSpace(name)) })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	out := make([]Rule, 0, len(rules)-1)
	for j, r := range rules {
		if j != i {
			out = append(out, cloneRule(r))
		}
	}
	return out, nil
}
