package app

import (
	"sync"
	"time"

	"earshot/relay/event"
	"earshot/relay/loudness"
)

// soundSettings gives the player what config.json says about how calls sound:
// loudness levelling (on unless "levelling": false) and the volume offset
// of each talkgroup of the server in use. It reads the file at most once a
// second, so a change made by the window or by hand applies to the next
// call.
type soundSettings struct {
	dir  string
	demo bool // --demo: the demo server's settings

	mu        sync.Mutex
	readAt    time.Time
	levelling bool
	offsets   loudness.Offsets
}

// soundRefresh is how long a reading of config.json serves.
const soundRefresh = time.Second

func newSoundSettings(dir string, demo bool) *soundSettings {
	return &soundSettings{dir: dir, demo: demo, levelling: true}
}

// settings returns the levelling switch and the offsets, from a reading
// of config.json at most soundRefresh old. A file that does not load
// keeps the last good reading.
func (l *soundSettings) settings() (bool, loudness.Offsets) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.readAt) >= soundRefresh {
		l.readAt = time.Now()
		if cfg, err := LoadConfig(l.dir); err == nil {
			l.levelling = cfg.LevellingOn()
			l.offsets = nil
			if s := cfg.Servers[cfg.ServerKey(l.demo)]; s != nil {
				l.offsets = s.Volume
			}
		}
	}
	return l.levelling, l.offsets
}

// invalidate makes the next call read config.json afresh: the settings
// changed here, and apply from the next call on.
func (l *soundSettings) invalidate() {
	l.mu.Lock()
	l.readAt = time.Time{}
	l.mu.Unlock()
}

// gain is the player's GainFunc: the Leveller's gain for the call's
// loudness and its talkgroup's offset.
func (l *soundSettings) gain(c event.Call, m loudness.Result) float64 {
	levelling, offsets := l.settings()
	return loudness.Leveller{}.Gain(m, offsets.Of(c.SystemID, c.TalkgroupID), levelling)
}
