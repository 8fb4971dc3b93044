package archive

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"earshot/relay/filter"
)

// Settings are config.json's "archive": whether and how Earshot keeps
// every call's audio and details beyond the audio cache (for `earshot
// export`). The CLI, a hand edit and the window's settings all edit them.
type Settings struct {
	Enabled bool `json:"enabled"`
	// Dir is the archive directory; "" means "archive" in the data
	// directory ($XDG_DATA_HOME/earshot, or EARSHOT_DATA_DIR).
	Dir string `json:"dir,omitempty"`
	// MaxDays drops calls older than this many days; 0 means
	// DefaultDays.
	MaxDays int `json:"maxDays,omitempty"`
	// MaxMB bounds one server's archive, oldest out; 0 means DefaultMB.
	MaxMB int64 `json:"maxMB,omitempty"`
	// Talkgroups chooses the talkgroups to keep (talkgroupId 0: a whole
	// system); empty keeps every call.
	Talkgroups []filter.Talkgroup `json:"talkgroups,omitempty"`
}

// Defaults and bounds of Settings.
const (
	DefaultDays   = 30
	DefaultMB     = 4096
	MaxDays       = 100 * 366
	MaxMB         = 1 << 24 // 16 TiB
	MaxTalkgroups = 4096
)

// Validate checks settings a hand-edited file (or a window) could get
// wrong; the message names the field.
func (s *Settings) Validate() error {
	if s.Dir != "" && (!filepath.IsAbs(s.Dir) || filepath.Clean(s.Dir) != s.Dir) {
		return fmt.Errorf("dir: %q is not a clean absolute path", s.Dir)
	}
	if s.MaxDays < 0 || s.MaxDays > MaxDays {
		return fmt.Errorf("maxDays: must be between 0 and %d", MaxDays)
	}
	if s.MaxMB < 0 || s.MaxMB > MaxMB {
		return fmt.Errorf("maxMB: must be between 0 and %d", MaxMB)
	}
	if len(s.Talkgroups) > MaxTalkgroups {
		return fmt.Errorf("talkgroups: at most %d", MaxTalkgroups)
	}
	for _, t := range s.Talkgroups {
		if t.SystemID <= 0 || t.TalkgroupID < 0 {
			return fmt.Errorf("talkgroups: {systemId %d, talkgroupId %d} is not a talkgroup (systemId must be positive; talkgroupId 0 is the whole system)", t.SystemID, t.TalkgroupID)
		}
	}
	return nil
}

// Root is the archive directory, given the data directory.
func (s *Settings) Root(dataDir string) string {
	if s.Dir != "" {
		return s.Dir
	}
	return filepath.Join(dataDir, "archive")
}

// MaxAge is how long calls are kept.
func (s *Settings) MaxAge() time.Duration {
	days := s.MaxDays
	if days == 0 {
		days = DefaultDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// MaxBytes bounds one server's archive.
func (s *Settings) MaxBytes() int64 {
	mb := s.MaxMB
	if mb == 0 {
		mb = DefaultMB
	}
	return mb << 20
}

// Equal reports whether two settings keep the same calls the same way.
func (s Settings) Equal(o Settings) bool {
	return s.Enabled == o.Enabled && s.Dir == o.Dir && s.MaxAge() == o.MaxAge() && s.MaxBytes() == o.MaxBytes() &&
		slices.Equal(s.Talkgroups, o.Talkgroups)
}
