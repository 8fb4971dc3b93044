package export

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"earshot/relay/archive"
	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
	"earshot/relay/filter"
)

const server = "https://scanner.example.org"

var (
	day0 = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	utc  = time.UTC
)

func testCall(id int64, at time.Time, tg int64) event.Call {
	return event.Call{ID: id, DateTime: at.Unix(), SystemID: 1, SystemLabel: "Harness County", TalkgroupID: tg,
		TalkgroupLabel: "Fire Dispatch", TalkgroupName: "Fire Dispatch Main", Frequency: 851012500, Source: 4021,
		Duration: 1.5, Transcript: "Engine 5, respond to 1200 Oak Street"}
}

// fakeRemote is the server's history.
type fakeRemote struct {
	calls   []event.Call
	audio   map[int64][]byte
	listErr error
}

func (f *fakeRemote) Calls(ctx context.Context, from, to time.Time, q filter.Query) ([]event.Call, error) {
	return f.calls, f.listErr
}

func (f *fakeRemote) Audio(ctx context.Context, c event.Call, w io.Writer) error {
	b, ok := f.audio[c.ID]
	if !ok {
		return errors.New("404 call not found")
	}
	_, err := w.Write(b)
	return err
}

func newArchive(t *testing.T) (string, *archive.Archive) {
	t.Helper()
	root := t.TempDir()
	a, err := archive.Open(archive.Options{Root: root, Server: server, Now: func() time.Time { return day0 }})
	if err != nil {
		t.Fatal(err)
	}
	return root, a
}

func archiveCall(t *testing.T, a *archive.Archive, c event.Call, audio []byte) {
	t.Helper()
	if _, _, err := a.Add(c, bytes.NewReader(audio)); err != nil {
		t.Fatal(err)
	}
}

func options(root, out string, remote Remote) Options {
	return Options{From: day0, To: day0.Add(time.Hour), ArchiveRoot: root, Server: server, Remote: remote, Out: out,
		Location: utc, Now: func() time.Time { return day0.Add(2 * time.Hour) }}
}

// exported reads an export (directory or zip) into name → contents.
func exported(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	if strings.HasSuffix(out, ".zip") {
		z, err := zip.OpenReader(out)
		if err != nil {
			t.Fatalf("the export is not a zip: %v", err)
		}
		defer z.Close()
		for _, f := range z.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name], _ = io.ReadAll(r)
			r.Close()
		}
		return files
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files[e.Name()], _ = os.ReadFile(filepath.Join(out, e.Name()))
	}
	return files
}

func readCSV(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("calls.csv: %v", err)
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("calls.csv header %v", rows[0])
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		m := make(map[string]string)
		for i, h := range rows[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func TestExport_WritesAudioWithReadableNamesAndEveryDetail(t *testing.T) {
	for _, out := range []string{"calls", "calls.zip"} {
		t.Run(out, func(t *testing.T) {
			root, a := newArchive(t)
			mp3, wav := audiotest.Fixture(t, "speech.mp3"), audiotest.Fixture(t, "speech.wav")
			first := testCall(1, day0.Add(3*time.Minute+7*time.Second), 101)
			second := testCall(2, day0.Add(5*time.Minute), 102)
			second.TalkgroupLabel, second.Transcript, second.TalkerAlias = "Fire Tac 2", "=HYPERLINK(\"http://evil\")", "ENGINE 5"
			archiveCall(t, a, first, mp3)
			archiveCall(t, a, second, wav)
			archiveCall(t, a, testCall(3, day0.Add(-time.Minute), 101), wav) // before --from
			dest := filepath.Join(t.TempDir(), out)
			res, err := Run(context.Background(), options(root, dest, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Complete() || res.FromArchive != 2 || len(res.Calls) != 2 {
				t.Fatalf("result %+v", res)
			}
			files := exported(t, dest)
			names := []string{"2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3", "2026-12-01_18-05-00_Harness-County_Fire-Tac-2.wav", "calls.csv", "calls.json"}
			var got []string
			for n := range files {
				got = append(got, n)
			}
			slices.Sort(got)
			if !slices.Equal(got, names) {
				t.Fatalf("export holds %v, want %v", got, names)
			}
			if !bytes.Equal(files[names[0]], mp3) || !bytes.Equal(files[names[1]], wav) {
				t.Fatal("the exported audio differs from the call's")
			}
			rows := readCSV(t, files["calls.csv"])
			if len(rows) != 2 || rows[0]["file"] != names[0] || rows[0]["time"] != "2026-12-01T18:03:07Z" || rows[0]["talkgroup"] != "Fire Dispatch" ||
				rows[0]["frequency_hz"] != "851012500" || rows[0]["unit"] != "4021" || rows[0]["transcript"] != first.Transcript || rows[0]["source"] != "archive" {
				t.Fatalf("calls.csv rows %v", rows)
			}
			if rows[1]["transcript"] != "'"+second.Transcript || rows[1]["talker_alias"] != "ENGINE 5" {
				t.Fatalf("a transcript starting with = is not kept from spreadsheets' formulas: %q", rows[1]["transcript"])
			}
			var idx index
			if err := json.Unmarshal(files["calls.json"], &idx); err != nil {
				t.Fatalf("calls.json: %v", err)
			}
			if len(idx.Calls) != 2 || idx.Calls[1].Call.Transcript != second.Transcript || idx.Calls[0].Call.TalkgroupName != "Fire Dispatch Main" ||
				idx.Calls[0].SHA256 == "" || idx.Server != server || !idx.From.Equal(day0) {
				t.Fatalf("calls.json %+v", idx)
			}
		})
	}
}

// The server's history fills in what the archive does not hold; a call
// both have is written once, even when the server's ids were reset since.
func TestExport_ServerHistoryFillsWhatTheArchiveLacks(t *testing.T) {
	root, a := newArchive(t)
	held := testCall(10, day0.Add(time.Minute), 101)
	archiveCall(t, a, held, wav("held audio"))
	renumbered := held
	renumbered.ID = 3 // the same call, after a reset of the server's ids
	other := testCall(4, day0.Add(2*time.Minute), 101)
	sameSecond := testCall(5, day0.Add(time.Minute), 101) // another call, in the same second
	lost := testCall(6, day0.Add(3*time.Minute), 101)
	remote := &fakeRemote{
		calls: []event.Call{held, renumbered, other, sameSecond, lost, testCall(7, day0.Add(2*time.Hour), 101)},
		audio: map[int64][]byte{10: wav("held audio"), 3: wav("held audio"), 4: wav("other"), 5: wav("second")},
	}
	dest := filepath.Join(t.TempDir(), "out")
	res, err := Run(context.Background(), options(root, dest, remote))
	if err != nil {
		t.Fatal(err)
	}
	if res.FromArchive != 1 || res.FromServer != 2 || len(res.Failed) != 1 || res.Failed[0].Call.ID != 6 || res.Complete() {
		t.Fatalf("from archive %d, server %d, failed %+v; want 1, 2 and call 6 (its audio is gone)", res.FromArchive, res.FromServer, res.Failed)
	}
	files := exported(t, dest)
	if _, ok := files["2026-12-01_18-01-00_Harness-County_Fire-Dispatch_2.wav"]; !ok {
		t.Fatalf("two calls of one second and talkgroup do not both get a name: %v", keys(files))
	}
	if len(files) != 5 {
		t.Fatalf("export holds %v", keys(files))
	}
}

// wav is a WAV header with a tag for data: what sniffs as WAV.
func wav(tag string) []byte { return []byte("RIFF\x24\x00\x00\x00WAVE" + tag) }

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestExport_AnUnreachableServerLeavesTheArchivesCalls(t *testing.T) {
	root, a := newArchive(t)
	archiveCall(t, a, testCall(1, day0, 101), []byte("RIFF"))
	dest := filepath.Join(t.TempDir(), "out.zip")
	res, err := Run(context.Background(), options(root, dest, &fakeRemote{listErr: errors.New("connection refused")}))
	if err != nil {
		t.Fatal(err)
	}
	if res.FromArchive != 1 || !strings.Contains(res.Problem, "connection refused") || res.Complete() {
		t.Fatalf("result %+v", res)
	}
	var idx index
	if err := json.Unmarshal(exported(t, dest)["calls.json"], &idx); err != nil || idx.Problem == "" {
		t.Fatalf("calls.json does not say the server's calls are missing: %v %+v", err, idx)
	}
}

func TestExport_NeverWritesOverAnything(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644)
	zipFile := filepath.Join(dir, "old.zip")
	os.WriteFile(zipFile, []byte("mine"), 0o644)
	plain := filepath.Join(dir, "notes.txt")
	os.WriteFile(plain, []byte("mine"), 0o644)
	for _, tt := range []struct {
		name string
		mod  func(*Options)
	}{
		{"a directory that is not empty", func(o *Options) { o.Out = full }},
		{"a zip that exists", func(o *Options) { o.Out = zipFile }},
		{"a file", func(o *Options) { o.Out = plain }},
		{"a directory in a missing one", func(o *Options) { o.Out = filepath.Join(dir, "missing", "out") }},
		{"to before from", func(o *Options) { o.To = o.From.Add(-time.Minute) }},
		{"no output", func(o *Options) { o.Out = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := options("", filepath.Join(dir, "new"), nil)
			tt.mod(&o)
			if _, err := Run(context.Background(), o); !errors.Is(err, ErrUsage) {
				t.Fatalf("Run = %v, want ErrUsage", err)
			}
		})
	}
	for _, p := range []string{filepath.Join(full, "keep.txt"), zipFile, plain} {
		if b, _ := os.ReadFile(p); string(b) != "mine" {
			t.Fatalf("%s was changed", p)
		}
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := Run(context.Background(), options("", empty, nil)); err != nil {
		t.Fatalf("an empty directory is a fine output: %v", err)
	}
}

// cancelling remote stops on its second audio by cancelling the export.
type cancellingRemote struct {
	fakeRemote
	cancel context.CancelFunc
	n      int
}

func (c *cancellingRemote) Audio(ctx context.Context, call event.Call, w io.Writer) error {
	if c.n++; c.n == 2 {
		c.cancel()
		return ctx.Err()
	}
	return c.fakeRemote.Audio(ctx, call, w)
}

func TestExport_StoppedHalfWayLeavesNothing(t *testing.T) {
	for _, out := range []string{"out", "out.zip"} {
		t.Run(out, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			remote := &cancellingRemote{cancel: cancel, fakeRemote: fakeRemote{
				calls: []event.Call{testCall(1, day0, 101), testCall(2, day0.Add(time.Minute), 101), testCall(3, day0.Add(2*time.Minute), 101)},
				audio: map[int64][]byte{1: []byte("RIFF"), 2: []byte("RIFF"), 3: []byte("RIFF")},
			}}
			if _, err := Run(ctx, options("", filepath.Join(dir, out), remote)); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want it cancelled", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a stopped export left %v", entries)
			}
		})
	}
}

func TestExport_Progress(t *testing.T) {
	remote := &fakeRemote{calls: []event.Call{testCall(1, day0, 101), testCall(2, day0.Add(time.Second), 101)},
		audio: map[int64][]byte{1: []byte("RIFF1"), 2: []byte("RIFF22")}}
	o := options("", filepath.Join(t.TempDir(), "out"), remote)
	var seen []Progress
	o.Progress = func(p Progress) { seen = append(seen, p) }
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[{1 2 5} {2 2 11}]" {
		t.Fatalf("progress %v", seen)
	}
}

func TestExport_TextKeepsOnlyCallsThatSayIt(t *testing.T) {
	root, a := newArchive(t)
	held := testCall(10, day0.Add(time.Minute), 101)
	held.Transcript = "Medic 3 respond to a fall"
	archiveCall(t, a, held, wav("held"))
	quiet := testCall(11, day0.Add(90*time.Second), 101)
	quiet.Transcript = "radio check"
	archiveCall(t, a, quiet, wav("quiet"))
	fromServer := testCall(4, day0.Add(2*time.Minute), 101)
	fromServer.Transcript = "ENGINE 5 and MEDIC 3 on scene"
	other := testCall(5, day0.Add(3*time.Minute), 101)
	other.Transcript = "engine 5 clear"
	remote := &fakeRemote{calls: []event.Call{fromServer, other}, audio: map[int64][]byte{4: wav("four"), 5: wav("five")}}
	opts := options(root, filepath.Join(t.TempDir(), "out"), remote)
	opts.Text = " medic 3 "
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, c := range res.Calls {
		ids = append(ids, c.Call.ID)
	}
	if !slices.Equal(ids, []int64{10, 4}) {
		t.Fatalf("exported calls %v; want 10 (archive) and 4 (server), the two that say \"medic 3\"", ids)
	}
}
