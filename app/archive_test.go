package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"earshot/relay/archive"
	"earshot/relay/backend/backendtest"
	"earshot/relay/filter"
)

// signedIn is an account on a fake server, signed in with `earshot login`,
// with config.json edited by edit.
func signedIn(t *testing.T, edit func(*Config)) (*backendtest.Server, *Env, *syncBuffer) {
	t.Helper()
	fake := newFake(t, backendtest.Options{})
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "Fire Dispatch Main", "Fire", "Dispatch", "")
	fake.AddTalkgroup(1, 102, "Fire Tac 2", "", "Fire", "Tactical", "")
	env, out, _ := testEnv(t, testPassword+"\n")
	if code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d: %s", code, out.String())
	}
	if edit != nil {
		cfg, err := LoadConfig(env.ConfigDir)
		if err != nil {
			t.Fatal(err)
		}
		edit(cfg)
		if err := SaveConfig(env.ConfigDir, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return fake, env, out
}

// startRelayRun runs `earshot relay` until the returned stop is called.
func startRelayRun(t *testing.T, env *Env, out *syncBuffer, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, env, append([]string{"relay", "--listen", "127.0.0.1:0"}, args...)) }()
	waitFor(t, "the relay to start", func() bool { return strings.Contains(out.String(), "listening on") })
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the relay did not stop within 30 s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// Reset empties the buffer (a restarted relay's output is read afresh).
func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func archived(t *testing.T, env *Env, server string) []archive.Entry {
	t.Helper()
	got, err := archive.Find(env.DataDir+"/archive", server, time.Unix(0, 0), time.Now().Add(time.Hour), filter.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRelay_ArchivesCallsAcrossRestarts(t *testing.T) {
	fake, env, out := signedIn(t, func(c *Config) {
		c.Archive = &ArchiveSettings{Enabled: true, Talkgroups: []filter.Talkgroup{{SystemID: 1, TalkgroupID: 101}}}
	})
	stop := startRelayRun(t, env, out)
	// The line after the welcome says where the archive is.
	waitFor(t, "the relay to say where it archives", func() bool { return strings.Contains(out.String(), "Archiving calls in "+env.DataDir) })
	waitFor(t, "the live feed", func() bool { return fake.Counters().WSAuthorized > 0 })
	audio := backendtest.SynthWAV(1, 440, 8000)
	id := fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio, TalkerAlias: "ENGINE 5"})
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 102, Audio: audio}) // not a chosen talkgroup
	fake.SetTranscript(id, "Engine 5 respond")
	waitFor(t, "the call and its transcript in the archive", func() bool {
		got := archived(t, env, fake.URL())
		return len(got) == 1 && got[0].Call.Transcript == "Engine 5 respond"
	})
	stop()

	out.Reset()
	startRelayRun(t, env, out)
	waitFor(t, "the restarted relay to count the archived call", func() bool { return strings.Contains(out.String(), "it holds 1 so far") })
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: backendtest.SynthWAV(1, 660, 8000)})
	waitFor(t, "a second call in the archive", func() bool { return len(archived(t, env, fake.URL())) == 2 })
	for _, e := range archived(t, env, fake.URL()) {
		if e.Call.ID == id && (e.Call.TalkerAlias != "ENGINE 5" || e.Call.TalkgroupLabel != "Fire Dispatch" || e.Call.SystemLabel != "Harness County") {
			t.Fatalf("the archived call lost details: %+v", e.Call)
		}
	}
}

func TestRelay_DemoCallsAreNotArchived(t *testing.T) {
	env, out, _ := testEnv(t, "")
	if err := SaveConfig(env.ConfigDir, &Config{Archive: &ArchiveSettings{Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	stop := startRelayRun(t, env, out, "--demo")
	stop() // whatever it was to print is out
	if strings.Contains(out.String(), "Archiving calls") {
		t.Fatalf("the demo's made-up calls are being archived:\n%s", out.String())
	}
}

func TestConfig_ArchiveSettingsAreChecked(t *testing.T) {
	for _, bad := range []string{
		`{"archive":{"enabled":true,"dir":"relative/dir"}}`,
		`{"archive":{"maxDays":-1}}`,
		`{"archive":{"maxMB":99999999999}}`,
		`{"archive":{"talkgroups":[{"systemId":0,"talkgroupId":5}]}}`,
		`{"archive":{"talkgroups":[{"systemId":1,"talkgroupId":-5}]}}`,
	} {
		if _, err := ParseConfig([]byte(bad), "config.json"); err == nil || !strings.Contains(err.Error(), "archive") {
			t.Errorf("ParseConfig(%s) = %v, want an archive error", bad, err)
		}
	}
	c, err := ParseConfig([]byte(`{"archive":{"enabled":true}}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive.MaxAge() != DefaultArchiveDays*24*time.Hour || c.Archive.MaxBytes() != DefaultArchiveMB<<20 || c.Archive.Root("/data") != "/data/archive" {
		t.Fatalf("defaults: %v %d %s", c.Archive.MaxAge(), c.Archive.MaxBytes(), c.Archive.Root("/data"))
	}
}
