package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/server"
)

// playerFilterPref is the preference the desktop player keeps its filter
// (selected talkgroups, hold, avoid) under in config.json (ui's prefFilter).
const playerFilterPref = "filter"

// savedSelection is the player's selection as config.json keeps it: what
// /v1/stream.mp3?follow=player follows in a relay without a player
// (`earshot relay`). An edit of the file (the tray app saving a new
// selection) applies within a second, to the calls still to come.
type savedSelection struct {
	dir string

	mu      sync.Mutex
	checked time.Time // when the file was last looked at
	modTime time.Time
	size    int64
	filter  *filter.Filter // nil: none saved
	err     error
}

var _ server.PlayerSelection = (*savedSelection)(nil)

// recheckEvery bounds how often the file is looked at (once a call at most).
const recheckEvery = time.Second

// current returns the saved filter (nil if none), reading config.json again
// when it changed; unless fresh, it looks at the file at most once every
// recheckEvery.
func (s *savedSelection) current(fresh bool) (*filter.Filter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !fresh && time.Since(s.checked) < recheckEvery && !s.checked.IsZero() {
		return s.filter, s.err
	}
	s.checked = time.Now()
	info, err := os.Stat(filepath.Join(s.dir, "config.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.filter, s.err, s.modTime, s.size = nil, nil, time.Time{}, 0
		return nil, nil
	case err != nil:
		s.err = fmt.Errorf("reading the saved player selection: %w", err)
		return nil, s.err
	case info.ModTime().Equal(s.modTime) && info.Size() == s.size && s.err == nil:
		return s.filter, nil
	}
	s.modTime, s.size = info.ModTime(), info.Size()
	s.filter, s.err = nil, nil
	cfg, err := LoadConfig(s.dir)
	if err != nil {
		s.err = err
		return nil, err
	}
	raw, ok := cfg.Preferences[playerFilterPref]
	if !ok {
		return nil, nil
	}
	var f filter.Filter
	if err := json.Unmarshal(raw, &f); err != nil {
		s.err = fmt.Errorf("the player selection saved in config.json is not readable: %w", err)
		return nil, s.err
	}
	s.filter = &f
	return s.filter, nil
}

// Allows reports whether the saved selection lets c through at now
// (nothing passes while none is saved or the file is unreadable).
func (s *savedSelection) Allows(c event.Call, now time.Time) bool {
	f, err := s.current(false)
	return err == nil && f != nil && f.Allows(c, now)
}

// Ready says why there is nothing to follow, if so (as the file is now).
func (s *savedSelection) Ready() error {
	f, err := s.current(true)
	if err != nil {
		return err
	}
	if f == nil {
		return errors.New("no player selection is saved: choose talkgroups in Earshot's window once " +
			"(the relay follows what it saves), or pick them with system= and talkgroup=")
	}
	return nil
}
