//go:build !headless

package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/archive"
	"earshot/relay/audio"
	"earshot/relay/audio/audiotest"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/loudness"
	"earshot/relay/media"
	"earshot/relay/priority"
	"earshot/relay/quiet"
	"earshot/ui/listening"
	"earshot/ui/player"
)

func (r *guiRig) change(t *testing.T, ch listening.Change) {
	t.Helper()
	if err := r.res.core.ChangeSettings(context.Background(), ch); err != nil {
		t.Fatalf("%s: %v", ch.Kind, err)
	}
}

// The window's edits are stored in config.json (per server where they
// belong to one) and are in force at once: the relay's alert rules, the
// core's priority and quiet hours.
func TestSettings_WindowEditsAreStoredAndInForceAtOnce(t *testing.T) {
	r := newGUIRig(t)
	tg := &player.Talkgroup{SystemID: 1, TalkgroupID: 101}
	r.change(t, listening.Change{Kind: listening.ChangeAlert, Rule: &alerts.Rule{Name: "Mayday", Words: []string{"mayday"}, Priority: true}})
	r.change(t, listening.Change{Kind: listening.ChangePriority, Talkgroup: tg, On: true})
	r.change(t, listening.Change{Kind: listening.ChangeVolume, Talkgroup: tg, DB: -6})
	h := quiet.Hours{Enabled: true, Days: map[string][]string{"fri": {"23:00-06:30"}}, AllowAlerts: true}
	r.change(t, listening.Change{Kind: listening.ChangeQuietHours, QuietHours: &h})
	r.change(t, listening.Change{Kind: listening.ChangeOnInterrupt, OnInterrupt: priority.Drop})
	r.change(t, listening.Change{Kind: listening.ChangeLevelling, On: false})

	cfg, err := LoadConfig(r.env.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	demo := cfg.Servers[DemoServerKey]
	if demo == nil || len(demo.Alerts) != 1 || demo.Alerts[0].Name != "Mayday" || len(demo.Priority) != 1 || demo.Volume.Of(1, 101) != -6 {
		t.Fatalf("config.json's demo server settings: %+v", demo)
	}
	if cfg.QuietHours == nil || cfg.QuietHours.Days["fri"][0] != "23:00-06:30" || cfg.OnInterrupt != priority.Drop || cfg.LevellingOn() {
		t.Fatalf("config.json: quiet %+v, onInterrupt %v, levelling %v", cfg.QuietHours, cfg.OnInterrupt, cfg.LevellingOn())
	}
	if rules := r.inst.Core.AlertRules(); len(rules) != 1 || rules[0].Name != "Mayday" {
		t.Fatalf("the running relay's rules: %+v", rules)
	}
	s := r.res.core.Snapshot().Settings
	if s.Server != DemoServerKey || !s.IsPriority(*tg) || s.VolumeOf(*tg) != -6 || !s.QuietHours.Enabled || s.Levelling {
		t.Fatalf("the core's settings: %+v", s)
	}
	// Back to levelling on: the key leaves the file.
	r.change(t, listening.Change{Kind: listening.ChangeLevelling, On: true})
	if cfg, _ := LoadConfig(r.env.ConfigDir); cfg.Levelling != nil {
		t.Fatalf("levelling on is written as %v", *cfg.Levelling)
	}
}

// An edit made elsewhere meanwhile (the CLI with no relay reached, a hand
// edit) is kept by the window's edit, and reaches the core within a second.
func TestSettings_EditsElsewhereAreKeptAndFollowed(t *testing.T) {
	r := newGUIRig(t)
	err := UpdateConfig(context.Background(), r.env.ConfigDir, func(cfg *Config) error {
		cfg.ServerSettings(DemoServerKey).Alerts = []alerts.Rule{{Name: "By hand", Talkgroups: []int64{101}}}
		cfg.QuietHours = &quiet.Hours{Enabled: true, Days: map[string][]string{"sun": {"00:00-00:00"}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the core to follow the hand edit", func() bool {
		s := r.res.core.Snapshot().Settings
		return len(s.Alerts) == 1 && s.QuietHours.Enabled
	})
	r.change(t, listening.Change{Kind: listening.ChangeAlert, Rule: &alerts.Rule{Name: "From the window", Words: []string{"fire"}}})
	cfg, _ := LoadConfig(r.env.ConfigDir)
	var names []string
	for _, rule := range cfg.AlertRules(DemoServerKey) {
		names = append(names, rule.Name)
	}
	if !slices.Equal(names, []string{"By hand", "From the window"}) || cfg.QuietHours == nil {
		t.Fatalf("after the window's edit: rules %v, quiet %+v", names, cfg.QuietHours)
	}
}

// The archive settings apply to the running relay: turned on, the next
// call is archived where they say, without a restart.
func TestSettings_ArchiveAppliesToTheRunningRelay(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "", "Fire", "Dispatch", "")
	r := newGUIRig(t)
	wantMessage(t, r.signIn(t, fake.URL(), testUser, testPassword), "Signed in")
	waitServer(t, r, fake.URL())
	dir := filepath.Join(t.TempDir(), "kept")
	r.change(t, listening.Change{Kind: listening.ChangeArchive, Archive: &archive.Settings{Enabled: true, Dir: dir, MaxDays: 7}})
	waitFor(t, "the live feed", func() bool { return fake.Counters().WSAuthorized > 0 })
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: backendtest.SynthWAV(1, 440, 8000)})
	find := func() []archive.Entry {
		got, _ := archive.Find(dir, fake.URL(), time.Unix(0, 0), time.Now().Add(time.Hour), filter.Query{})
		return got
	}
	waitFor(t, "the call in the archive the window chose", func() bool { return len(find()) == 1 })
	if cfg, _ := LoadConfig(r.env.ConfigDir); cfg.Archive == nil || cfg.Archive.Dir != dir || cfg.Archive.MaxDays != 7 {
		t.Fatalf("config.json's archive: %+v", cfg.Archive)
	}
	r.change(t, listening.Change{Kind: listening.ChangeArchive, Archive: &archive.Settings{Enabled: false, Dir: dir}})
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: backendtest.SynthWAV(1, 660, 8000)})
	waitFor(t, "the second call at the relay", func() bool { return len(r.res.core.Snapshot().History) >= 2 })
	if n := len(find()); n != 1 {
		t.Fatalf("archived %d calls after the archive was turned off, want still 1", n)
	}
	// A bad directory is refused in words, and nothing changes.
	err := r.res.core.ChangeSettings(context.Background(), listening.Change{Kind: listening.ChangeArchive, Archive: &archive.Settings{Enabled: true, Dir: "relative/dir"}})
	if err == nil || !strings.Contains(err.Error(), "not a clean absolute path") {
		t.Fatalf("a relative archive directory: %v", err)
	}
}

// pullOutput is a sound device the test reads: what it pulls is what the
// listener would hear.
type pullOutput struct{ feed chan io.Reader }

func (o *pullOutput) SampleRate() int { return 48000 }
func (o *pullOutput) Start(_ context.Context, r io.Reader) error {
	o.feed <- r
	return nil
}
func (o *pullOutput) Err() error { return nil }

// cachedCalls is an AudioSource of calls put in a real audio cache.
type cachedCalls map[int64]*cache.Entry

func (c cachedCalls) Audio(_ context.Context, id int64) (*cache.Entry, error) { return c[id], nil }

// A talkgroup's volume, set as the window sets it, is applied by the
// player to the samples of the next call, with levelling on: the output
// of three calls with the same recording differs by the offsets.
func TestSettings_TalkgroupVolumeIsAppliedToTheSamples(t *testing.T) {
	env, _, _ := testEnv(t, "")
	c, err := cache.Open(t.TempDir(), 1<<30, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls := cachedCalls{}
	rec := backendtest.SynthWAV(1, 440, 8000)
	// Measured as the relay measures what enters its cache: levelling
	// then brings all three to one level, and only the offsets differ (an
	// unmeasured call plays as recorded, under the peak ceiling, which
	// would cap the +2 dB).
	s, err := (&audio.Decoder{}).Decode(context.Background(), bytes.NewReader(rec), media.WAV, audio.DefaultRate)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := io.ReadAll(s)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	measured, err := loudness.MeasureS16(pcm, audio.Channels, s.Rate)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= 3; id++ {
		if calls[id], err = c.Put(fmt.Sprintf("call-%d", id), rec); err != nil {
			t.Fatal(err)
		}
		if err := calls[id].SetLoudness(measured); err != nil {
			t.Fatal(err)
		}
	}
	sound := newSoundSettings(env.ConfigDir, false)
	store := &settingsStore{env: env, sound: sound, log: discardLogger()}
	out := &pullOutput{feed: make(chan io.Reader, 1)}
	p, err := player.New(player.Options{Audio: calls, Output: out, Gain: sound.gain})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	feed := <-out.feed
	// hear plays call id of talkgroup tg and returns its loudness in dB
	// (RMS of its middle half, away from its fades).
	hear := func(id, tg int64) float64 {
		t.Helper()
		p.Enqueue(event.Call{ID: id, SystemID: 1, TalkgroupID: tg, DateTime: time.Now().Unix()})
		pcm := make([]byte, 48000*player.FrameSize)
		if _, err := io.ReadFull(feed, pcm); err != nil {
			t.Fatal(err)
		}
		s := audiotest.Samples(pcm)
		return 20 * math.Log10(audiotest.RMS(s[len(s)/4:3*len(s)/4]))
	}
	setVolume := func(tg int64, db float64) {
		t.Helper()
		ch := listening.Change{Kind: listening.ChangeVolume, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: tg}, DB: db}
		if _, err := store.Update(context.Background(), ch.Apply); err != nil {
			t.Fatal(err)
		}
	}
	setVolume(102, -6)
	base := hear(1, 101)
	quieter := hear(2, 102)
	setVolume(102, 2) // at once: the very next call
	louder := hear(3, 102)
	if d := quieter - base; math.Abs(d+6) > 0.25 {
		t.Errorf("the -6 dB talkgroup played %.2f dB from the other", d)
	}
	if d := louder - base; math.Abs(d-2) > 0.25 {
		t.Errorf("after +2 dB the talkgroup played %.2f dB from the other", d)
	}
	cfg, _ := LoadConfig(env.ConfigDir)
	if got := cfg.Servers[DemoServerKey].Volume.Of(1, 102); got != 2 {
		t.Fatalf("config.json keeps %v dB for the talkgroup", got)
	}
}
