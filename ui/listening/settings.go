package listening

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"earshot/relay/alerts"
	"earshot/relay/archive"
	"earshot/relay/loudness"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/player"
)

// Settings are the listener's choices about what stands out and what is
// kept, beyond the player's own (live, volume, selection): the current
// server's alert rules, priority talkgroups and talkgroup volumes, and the
// quiet hours, interruption policy, levelling and archive that hold for
// every server. The app keeps them (config.json under its lock); the core
// acts on them and publishes them with every snapshot, so each view shows
// and edits what is in force.
type Settings struct {
	// Server names the server the per-server settings belong to: its URL,
	// or "demo" for the built-in demo server.
	Server      string               `json:"server,omitempty"`
	Alerts      []alerts.Rule        `json:"alerts,omitempty"`
	Priority    []priority.TG        `json:"priority,omitempty"`
	Volume      loudness.Offsets     `json:"volume,omitempty"`
	QuietHours  quiet.Hours          `json:"quietHours"`
	OnInterrupt priority.OnInterrupt `json:"onInterrupt"`
	Levelling   bool                 `json:"levelling"`
	Archive     archive.Settings     `json:"archive"`
}

// DefaultSettings are the settings of a listener who chose nothing.
func DefaultSettings() Settings { return Settings{Levelling: true} }

// Validate checks every part, as config.json's loader does.
func (s *Settings) Validate() error {
	if err := alerts.ValidateRules(s.Alerts); err != nil {
		return err
	}
	if err := priority.Validate(s.Priority); err != nil {
		return err
	}
	if err := s.Volume.Validate(); err != nil {
		return err
	}
	if _, err := quiet.Compile(s.QuietHours, nil); err != nil {
		return err
	}
	if err := s.Archive.Validate(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// IsPriority reports whether t is one of the priority talkgroups.
func (s *Settings) IsPriority(t player.Talkgroup) bool {
	return slices.Contains(s.Priority, priority.TG{System: t.SystemID, Talkgroup: t.TalkgroupID})
}

// VolumeOf is t's volume offset in dB.
func (s *Settings) VolumeOf(t player.Talkgroup) float64 {
	return s.Volume.Of(t.SystemID, t.TalkgroupID)
}

// SettingsStore keeps the settings and puts a change into effect beyond the
// core: the relay's alert rules, the archive, the player's gain. The app's
// store keeps them in config.json under config.lock.
type SettingsStore interface {
	// Load reads the settings in force (the current server's where they
	// belong to one).
	Load() (Settings, error)
	// Update reads the settings afresh, lets change edit them and, unless
	// it fails, stores and applies them; it returns what is in force
	// after. Concurrent edits (the CLI, a hand edit) are never lost.
	Update(ctx context.Context, change func(*Settings) error) (Settings, error)
}

// ChangeKind names what a Change edits.
type ChangeKind string

// Kinds of Change, with the fields each uses.
const (
	// ChangeAlert stores Rule in place of the rule named RuleName ("":
	// adds it).
	ChangeAlert ChangeKind = "alert"
	// ChangeAlertRemove removes the rule named RuleName.
	ChangeAlertRemove ChangeKind = "alertRemove"
	// ChangeQuietHours sets QuietHours.
	ChangeQuietHours ChangeKind = "quietHours"
	// ChangePriority makes Talkgroup a priority talkgroup (On) or not.
	ChangePriority ChangeKind = "priority"
	// ChangeVolume sets Talkgroup's volume offset to DB (0 removes it).
	ChangeVolume ChangeKind = "volume"
	// ChangeOnInterrupt sets OnInterrupt.
	ChangeOnInterrupt ChangeKind = "onInterrupt"
	// ChangeLevelling turns levelling on or off (On).
	ChangeLevelling ChangeKind = "levelling"
	// ChangeArchive sets Archive.
	ChangeArchive ChangeKind = "archive"
)

// Change is one edit of the settings, as a view asks for it: one rule, one
// talkgroup, one switch — never the whole set, so an edit made meanwhile
// elsewhere (the CLI, another window) is kept.
type Change struct {
	Kind        ChangeKind           `json:"kind"`
	RuleName    string               `json:"ruleName,omitempty"`
	Rule        *alerts.Rule         `json:"rule,omitempty"`
	QuietHours  *quiet.Hours         `json:"quietHours,omitempty"`
	Talkgroup   *player.Talkgroup    `json:"talkgroup,omitempty"`
	On          bool                 `json:"on,omitempty"`
	DB          float64              `json:"db,omitempty"`
	OnInterrupt priority.OnInterrupt `json:"onInterrupt,omitempty"`
	Archive     *archive.Settings    `json:"archive,omitempty"`
}

// ErrInvalidChange marks a Change that is not well formed (a missing
// field); what is wrong with a value is the settings' own error.
var ErrInvalidChange = errors.New("invalid settings change")

// Check checks that the change carries what its kind needs, within
// bounds. It is what a change from another process must pass before
// anything else looks at it; Apply validates the values themselves.
func (ch *Change) Check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrInvalidChange, ch.Kind, what) }
	if len(ch.RuleName) > 4*alerts.MaxNameLen {
		return bad("the rule name is too long")
	}
	if math.IsNaN(ch.DB) || math.IsInf(ch.DB, 0) {
		return bad("not a number of decibels")
	}
	switch ch.Kind {
	case ChangeAlert:
		if ch.Rule == nil {
			return bad("no rule")
		}
	case ChangeAlertRemove:
		if ch.RuleName == "" {
			return bad("no rule name")
		}
	case ChangeQuietHours:
		if ch.QuietHours == nil {
			return bad("no quiet hours")
		}
	case ChangePriority, ChangeVolume:
		if ch.Talkgroup == nil || ch.Talkgroup.SystemID <= 0 || ch.Talkgroup.TalkgroupID <= 0 {
			return bad("no talkgroup")
		}
	case ChangeArchive:
		if ch.Archive == nil {
			return bad("no archive settings")
		}
	case ChangeOnInterrupt, ChangeLevelling:
	default:
		return bad("unknown kind")
	}
	return nil
}

// Apply makes the change to s, validated with the settings' own rules and
// their words (an alert rule by the alert engine's validation).
func (ch *Change) Apply(s *Settings) error {
	if err := ch.Check(); err != nil {
		return err
	}
	switch ch.Kind {
	case ChangeAlert:
		rules, err := withRule(s.Alerts, ch.RuleName, *ch.Rule)
		if err != nil {
			return err
		}
		s.Alerts = rules
	case ChangeAlertRemove:
		rules, err := alerts.Without(s.Alerts, ch.RuleName)
		if err != nil {
			return err
		}
		s.Alerts = rules
	case ChangeQuietHours:
		h := *ch.QuietHours
		if _, err := quiet.Compile(h, nil); err != nil {
			return err
		}
		s.QuietHours = h
	case ChangePriority:
		t := priority.TG{System: ch.Talkgroup.SystemID, Talkgroup: ch.Talkgroup.TalkgroupID}
		next := slices.DeleteFunc(slices.Clone(s.Priority), func(p priority.TG) bool { return p == t })
		if ch.On {
			next = append(next, t)
		}
		if err := priority.Validate(next); err != nil {
			return err
		}
		s.Priority = next
	case ChangeVolume:
		next, err := s.Volume.With(ch.Talkgroup.SystemID, ch.Talkgroup.TalkgroupID, ch.DB)
		if err != nil {
			return err
		}
		s.Volume = next
	case ChangeOnInterrupt:
		s.OnInterrupt = ch.OnInterrupt
	case ChangeLevelling:
		s.Levelling = ch.On
	case ChangeArchive:
		a := *ch.Archive
		a.Talkgroups = slices.Clone(a.Talkgroups)
		if err := a.Validate(); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		s.Archive = a
	}
	return nil
}

// withRule stores r in place of the rule named old ("" adds r at the
// end), keeping the rules' order, with the alert engine's validation and
// words: a name another rule has is refused, as `earshot alert add` does.
func withRule(rules []alerts.Rule, old string, r alerts.Rule) ([]alerts.Rule, error) {
	r = alerts.Normalize(r)
	if old == "" || strings.EqualFold(strings.TrimSpace(old), r.Name) {
		return alerts.With(rules, r, old != "")
	}
	at := slices.IndexFunc(rules, func(x alerts.Rule) bool { return strings.EqualFold(x.Name, strings.TrimSpace(old)) })
	if at < 0 {
		return nil, fmt.Errorf("%w: %q", alerts.ErrNotFound, old)
	}
	rest, err := alerts.Without(rules, old)
	if err != nil {
		return nil, err
	}
	next, err := alerts.With(rest, r, false)
	if err != nil {
		return nil, err
	}
	// With put the renamed rule last: back where it was.
	moved := next[len(next)-1]
	next = slices.Insert(next[:len(next)-1], at, moved)
	return next, nil
}

// readSettings loads the settings from the store; nil when there is no
// store or it failed (then the settings in force stay).
func (c *Core) readSettings() *Settings {
	if c.opts.Settings == nil {
		return nil
	}
	s, err := c.opts.Settings.Load()
	if err != nil {
		c.log.Warn("could not read the settings; those in force stay", "err", err)
		return nil
	}
	return &s
}

// loadSettingsLocked puts the stored settings in force (at start).
func (c *Core) loadSettingsLocked() {
	if s := c.readSettings(); s != nil {
		c.setSettingsLocked(*s)
		return
	}
	c.compileQuietLocked()
}

// setSettingsLocked puts s in force.
func (c *Core) setSettingsLocked(s Settings) {
	c.settings = s
	c.settingsRev++
	c.compileQuietLocked()
	c.quiet = c.quietStateLocked(c.now())
	c.pokeQuiet()
}

// ReloadSettings reads the settings again: config.json changed (the CLI,
// a hand edit, another process).
func (c *Core) ReloadSettings() {
	s := c.readSettings()
	if s == nil {
		return
	}
	c.mu.Lock()
	if reflect.DeepEqual(*s, c.settings) {
		c.mu.Unlock()
		return
	}
	regain := soundChanged(c.settings, *s)
	c.setSettingsLocked(*s)
	c.publishLocked()
	c.mu.Unlock()
	if regain {
		c.p.Regain()
	}
	c.checkQuiet()
}

// soundChanged reports whether what the player's gain depends on changed:
// the playing call is then levelled anew at once.
func soundChanged(a, b Settings) bool {
	return a.Levelling != b.Levelling || !slices.Equal(a.Volume, b.Volume)
}

// ChangeSettings makes one change, stores it and puts it into effect at
// once. A change the settings refuse returns their error, worded for the
// listener (an alert rule's by the alert engine).
func (c *Core) ChangeSettings(ctx context.Context, ch Change) error {
	if err := ch.Check(); err != nil {
		return err
	}
	c.changeMu.Lock()
	defer c.changeMu.Unlock()
	var next Settings
	if store := c.opts.Settings; store != nil {
		var err error
		if next, err = store.Update(ctx, ch.Apply); err != nil {
			return err
		}
	} else {
		c.mu.Lock()
		next = c.settings
		c.mu.Unlock()
		if err := ch.Apply(&next); err != nil {
			return err
		}
	}
	c.mu.Lock()
	regain := soundChanged(c.settings, next)
	c.setSettingsLocked(next)
	c.publishLocked()
	c.mu.Unlock()
	if regain {
		// The store made the player's gain read the new settings.
		c.p.Regain()
	}
	c.checkQuiet()
	return nil
}
