package app

import (
	"archive/zip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
	"earshot/relay/export"
	"earshot/relay/filter"
)

func TestParseExportTime(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	for in, want := range map[string]time.Time{
		"2026-12-01T18:00":          time.Date(2026, 12, 1, 18, 0, 0, 0, loc),
		"2026-12-01T18:00:30":       time.Date(2026, 12, 1, 18, 0, 30, 0, loc),
		"2026-12-01 18:00":          time.Date(2026, 12, 1, 18, 0, 0, 0, loc),
		"2026-12-01":                time.Date(2026, 12, 1, 0, 0, 0, 0, loc),
		"2026-12-01T18:00:00Z":      time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC),
		"2026-12-01T18:00:00-05:00": time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC),
	} {
		got, err := parseExportTime(in, loc)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExportTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01T18:00", "18:00", "2026-12-01T18", "1795356787"} {
		if _, err := parseExportTime(bad, loc); err == nil {
			t.Errorf("parseExportTime(%q) accepted it", bad)
		}
	}
}

func TestExport_BadInputIsAUsageError(t *testing.T) {
	_, env, _ := signedIn(t, nil)
	out := filepath.Join(t.TempDir(), "out")
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o600)
	for _, args := range [][]string{
		{"--to", "2026-12-01T19:00", "--out", out},
		{"--from", "2026-12-01T18:00", "--out", out},
		{"--from", "2026-12-01T18:00", "--to", "2026-12-01T19:00"},
		{"--from", "soon", "--to", "2026-12-01T19:00", "--out", out},
		{"--from", "2026-12-01T19:00", "--to", "2026-12-01T18:00", "--out", out},
		{"--from", "2026-12-01T18:00", "--to", "2026-12-01T19:00", "--out", out, "--talkgroup", "fire"},
		{"--from", "2026-12-01T18:00", "--to", "2026-12-01T19:00", "--out", out, "--system", "0"},
		{"--from", "2026-12-01T18:00", "--to", "2026-12-01T19:00", "--out", full},
		{"--from", "2026-12-01T18:00", "--to", "2026-12-01T19:00", "--out", out, "extra"},
	} {
		errOut := &syncBuffer{}
		env.Stderr = errOut
		if code := Run(context.Background(), env, append([]string{"export"}, args...)); code != ExitUsage {
			t.Errorf("export %q = exit %d, want %d (%s)", args, code, ExitUsage, errOut.String())
		}
		if !strings.Contains(errOut.String(), "earshot:") {
			t.Errorf("export %q says nothing", args)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused export wrote its output")
	}
	noAccount, _, _ := testEnv(t, "")
	if code := Run(context.Background(), noAccount, []string{"export", "--from", "2026-12-01", "--to", "2026-12-02", "--out", out}); code != ExitUsage {
		t.Errorf("export without an account = exit %d, want %d", code, ExitUsage)
	}
}

// With a relay running, the export takes the archive's calls and fetches
// the rest through the relay; without one, through a session of its own;
// --archive-only exports the archive's calls alone.
func TestExport_FromTheArchiveAndThroughTheRelay(t *testing.T) {
	fake, env, out := signedIn(t, func(c *Config) {
		c.Archive = &ArchiveSettings{Enabled: true, Talkgroups: []filter.Talkgroup{{SystemID: 1, TalkgroupID: 101}}}
	})
	stop := startRelayRun(t, env, out)
	waitFor(t, "the live feed", func() bool { return fake.Counters().WSAuthorized > 0 })
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: backendtest.SynthWAV(1, 440, 8000), TalkerAlias: "ENGINE 5"})
	waitFor(t, "the call in the archive", func() bool { return len(archived(t, env, fake.URL())) == 1 })
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 102, Audio: backendtest.SynthWAV(1, 660, 8000)}) // not archived
	fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 102, Audio: backendtest.SynthWAV(1, 330, 8000),
		DateTime: time.Now().Add(-3 * time.Hour)}) // outside the range
	from, to := time.Now().Add(-time.Hour).Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339)

	zipOut := filepath.Join(t.TempDir(), "calls.zip")
	env.Stdout = &syncBuffer{}
	errOut := &syncBuffer{}
	env.Stderr = errOut
	env.StderrIsTerminal = func() bool { return true }
	// The relay fetches each call's audio as it arrives.
	waitFor(t, "the relay to hold the calls", func() bool { return fake.Counters().AudioRequests >= 3 })
	if code := Run(context.Background(), env, []string{"export", "--from", from, "--to", to, "--out", zipOut}); code != ExitOK {
		t.Fatalf("export exit %d: %s", code, errOut.String())
	}
	said := env.Stdout.(*syncBuffer).String()
	if !strings.Contains(said, "Exported 2 calls (1 from the archive, 1 from the server's history)") {
		t.Fatalf("export said %q", said)
	}
	if !strings.Contains(errOut.String(), "2/2 calls") || !strings.Contains(errOut.String(), "█") {
		t.Errorf("no progress bar on the terminal: %q", errOut.String())
	}
	z, err := zip.OpenReader(zipOut)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	z.Close()
	if len(names) != 4 || !strings.Contains(strings.Join(names, " "), "_Harness-County_Fire-Dispatch.wav") || !strings.Contains(strings.Join(names, " "), "_Harness-County_Fire-Tac-2.wav") {
		t.Fatalf("the zip holds %v", names)
	}

	// No relay: the archive alone, on request, for a script.
	stop()
	jsonOut := &syncBuffer{}
	env.Stdout = jsonOut
	dirOut := filepath.Join(t.TempDir(), "calls")
	if code := Run(context.Background(), env, []string{"export", "--from", from, "--to", to, "--out", dirOut, "--talkgroup", "1:101", "--archive-only", "--json"}); code != ExitOK {
		t.Fatalf("archive-only export exit %d: %s", code, errOut.String())
	}
	var res export.Result
	if err := json.Unmarshal([]byte(jsonOut.String()), &res); err != nil {
		t.Fatalf("--json printed %q: %v", jsonOut.String(), err)
	}
	if len(res.Calls) != 1 || res.FromArchive != 1 || res.Calls[0].Call.TalkerAlias != "ENGINE 5" || res.Out != dirOut {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dirOut, "calls.csv")); err != nil {
		t.Fatal(err)
	}
	// Without a relay, the CLI reads the server's history with a session of
	// its own (the stored sign-in).
	errOut2 := &syncBuffer{}
	said2 := &syncBuffer{}
	env.Stderr, env.Stdout = errOut2, said2
	histories := fake.Counters().HistoryRequests
	if code := Run(context.Background(), env, []string{"export", "--from", from, "--to", to, "--out", filepath.Join(t.TempDir(), "direct")}); code != ExitOK {
		t.Fatalf("export with no relay = exit %d: %s %s", code, said2.String(), errOut2.String())
	}
	if !strings.Contains(said2.String(), "Exported 2 calls (1 from the archive, 1 from the server's history)") || fake.Counters().HistoryRequests == histories {
		t.Fatalf("export with no relay said %q (history requests %d → %d)", said2.String(), histories, fake.Counters().HistoryRequests)
	}
}
