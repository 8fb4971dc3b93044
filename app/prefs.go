package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
)

// configStore keeps the UI's settings in config.json's preferences and
// serializes every read-modify-write of config.json this process makes:
// settings saves, and sign-in and sign-out (which read the file, talk to
// the server, then write it back with the new account). One lock held
// across each whole read-modify-write means a settings save can never
// write back the account a sign-out just removed, nor a sign-in drop a
// setting.
//
// A sign-in holds the lock for as long as the server takes, and settings
// are saved from the UI goroutine, so Save never waits for it: the setting
// is kept in memory and written by whoever holds the lock when it lets go.
type configStore struct {
	env *Env
	log *slog.Logger

	file sync.Mutex // held across every read-modify-write of config.json

	mu      sync.Mutex
	pending map[string]json.RawMessage // saved settings not yet written
	saves   int                        // Save calls so far
	tried   int                        // saves when the pending settings were last written (or tried)
}

// Load decodes the setting named key into v and reports whether one was
// stored.
func (s *configStore) Load(key string, v any) bool {
	s.mu.Lock()
	raw, ok := s.pending[key]
	s.mu.Unlock()
	if !ok {
		// Writes are atomic renames: reading needs no lock.
		cfg, err := LoadConfig(s.env.ConfigDir)
		if err != nil {
			return false
		}
		raw, ok = cfg.Preferences[key]
	}
	return ok && json.Unmarshal(raw, v) == nil
}

// Save stores v as the setting named key, at once unless a sign-in or
// sign-out is rewriting config.json (then as soon as it is done).
func (s *configStore) Save(key string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		s.log.Warn("could not encode a setting", "key", key, "err", err)
		return
	}
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]json.RawMessage{}
	}
	s.pending[key] = raw
	s.saves++
	s.mu.Unlock()
	if s.file.TryLock() {
		s.writePendingLocked()
		s.release()
	}
}

// rewrite runs f, which reads and rewrites config.json (sign-in,
// sign-out), under the lock; settings saved meanwhile are written after
// it.
func (s *configStore) rewrite(f func() error) error {
	s.file.Lock()
	err := f()
	s.writePendingLocked()
	s.release()
	return err
}

// release unlocks the file lock. A setting saved while the lock was held
// but after its holder wrote the pending ones is written now, unless
// someone else holds the lock again (they will write it).
func (s *configStore) release() {
	for {
		s.file.Unlock()
		s.mu.Lock()
		newer := s.saves != s.tried
		s.mu.Unlock()
		if !newer || !s.file.TryLock() {
			return
		}
		s.writePendingLocked()
	}
}

// writePendingLocked writes the pending settings into config.json (read
// afresh). Call it with s.file held. On failure they stay pending for the
// next try.
func (s *configStore) writePendingLocked() {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.tried = s.saves
	s.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	// Under config.lock, as every writer: the CLI or the window's
	// settings may be changing the file at the same moment.
	err := UpdateConfig(context.Background(), s.env.ConfigDir, func(cfg *Config) error {
		if cfg.Preferences == nil {
			cfg.Preferences = map[string]json.RawMessage{}
		}
		for k, v := range pending {
			cfg.Preferences[k] = v
		}
		return nil
	})
	if err == nil {
		return
	}
	s.log.Warn("could not save the settings", "err", err)
	s.mu.Lock()
	for k, v := range pending {
		if _, newer := s.pending[k]; !newer {
			if s.pending == nil {
				s.pending = map[string]json.RawMessage{}
			}
			s.pending[k] = v
		}
	}
	s.mu.Unlock()
}
