package app

import (
	"context"
	"log/slog"
	"slices"

	"earshot/relay/quiet"
	"earshot/ui/listening"
)

// settingsStore is the listening core's SettingsStore: config.json, read
// and written under config.lock, for what it holds (the current server's
// alert rules, priority talkgroups and volumes; quiet hours, onInterrupt,
// levelling and the archive for every server). A change is put into effect
// at once: the running relay's alert rules and archive, the player's next
// gain.
type settingsStore struct {
	env *Env
	// inst is the running relay (nil: none, as in tests): the server whose
	// settings these are, its alert rules and archive.
	inst *instance
	// sound is the player's gain settings (nil: none).
	sound *soundSettings
	log   *slog.Logger
}

var _ listening.SettingsStore = (*settingsStore)(nil)

// serverKey is the server whose settings apply now.
func (s *settingsStore) serverKey(cfg *Config) string {
	if s.inst != nil {
		if key := s.inst.serverKey(); key != "" {
			return key
		}
	}
	return cfg.ServerKey(false)
}

// Load reads the settings in force.
func (s *settingsStore) Load() (listening.Settings, error) {
	cfg, err := LoadConfig(s.env.ConfigDir)
	if err != nil {
		return listening.Settings{}, err
	}
	return settingsOf(cfg, s.serverKey(cfg)), nil
}

// Update changes the settings under config.lock and puts the change into
// effect.
func (s *settingsStore) Update(ctx context.Context, change func(*listening.Settings) error) (listening.Settings, error) {
	var before, after listening.Settings
	var saved *Config
	err := UpdateConfig(ctx, s.env.ConfigDir, func(cfg *Config) error {
		key := s.serverKey(cfg)
		before = settingsOf(cfg, key)
		// change replaces what it edits (lists and maps are new), so the
		// copy shares nothing it could change.
		after = before
		if err := change(&after); err != nil {
			return err
		}
		putSettings(cfg, key, after)
		if err := cfg.Validate(); err != nil {
			return err
		}
		saved = cfg
		return nil
	})
	if err != nil {
		return before, err
	}
	if !slices.EqualFunc(before.Alerts, after.Alerts, ruleEqual) && s.inst != nil {
		if err := s.inst.Core.SetAlertRules(after.Alerts); err != nil {
			s.log.Warn("the alert rules were stored but not applied", "err", err)
		}
	}
	if !before.Archive.Equal(after.Archive) && s.inst != nil {
		s.inst.applyArchive(saved)
	}
	if s.sound != nil {
		s.sound.invalidate()
	}
	return after, nil
}

// settingsOf is what config.json says, for the server named key.
func settingsOf(cfg *Config, key string) listening.Settings {
	out := listening.DefaultSettings()
	out.Server = key
	if ss := cfg.Servers[key]; ss != nil {
		out.Alerts = slices.Clone(ss.Alerts)
		out.Priority = slices.Clone(ss.Priority)
		out.Volume = slices.Clone(ss.Volume)
	}
	if cfg.QuietHours != nil {
		out.QuietHours = *cfg.QuietHours
	}
	out.OnInterrupt = cfg.OnInterrupt
	out.Levelling = cfg.LevellingOn()
	if cfg.Archive != nil {
		out.Archive = *cfg.Archive
		out.Archive.Talkgroups = slices.Clone(out.Archive.Talkgroups)
	}
	return out
}

// putSettings writes s into cfg (the per-server parts for key), leaving
// out of the file what is at its default.
func putSettings(cfg *Config, key string, s listening.Settings) {
	ss := cfg.ServerSettings(key)
	ss.Alerts, ss.Priority, ss.Volume = s.Alerts, s.Priority, s.Volume
	if len(ss.Alerts) == 0 && len(ss.Priority) == 0 && len(ss.Volume) == 0 {
		delete(cfg.Servers, key)
	}
	if quietIsZero(s.QuietHours) {
		cfg.QuietHours = nil
	} else {
		h := s.QuietHours
		cfg.QuietHours = &h
	}
	cfg.OnInterrupt = s.OnInterrupt
	if s.Levelling {
		cfg.Levelling = nil
	} else {
		off := false
		cfg.Levelling = &off
	}
	if a := s.Archive; cfg.Archive != nil || a.Enabled || !a.Equal(ArchiveSettings{}) {
		cfg.Archive = &a
	}
}

func quietIsZero(h quiet.Hours) bool {
	return !h.Enabled && len(h.Days) == 0 && !h.AllowPriority && !h.AllowAlerts && h.Zone == ""
}
