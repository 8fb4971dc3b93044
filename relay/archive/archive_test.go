package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/audio/audiotest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/hub"
	"earshot/relay/media"
)

const server = "https://scanner.example.org"

// day0 is when the test calls happen.
var day0 = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)

func testCall(id int64, at time.Time, sys, tg int64) event.Call {
	return event.Call{ID: id, DateTime: at.Unix(), SystemID: sys, SystemLabel: "Harness County", TalkgroupID: tg,
		TalkgroupLabel: "Fire Dispatch", Frequency: 851012500, Source: 4021, Transcript: "Engine 5 respond", AudioURL: "/v1/calls/1/audio"}
}

func openArchive(t *testing.T, root string, mod func(*Options)) *Archive {
	t.Helper()
	opts := Options{Root: root, Server: server, Now: func() time.Time { return day0.Add(time.Hour) }}
	if mod != nil {
		mod(&opts)
	}
	a, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func add(t *testing.T, a *Archive, c event.Call, audio []byte) Entry {
	t.Helper()
	e, _, err := a.Add(c, bytes.NewReader(audio))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func findAll(t *testing.T, root string) []Entry {
	t.Helper()
	got, err := Find(root, server, day0.Add(-30*24*time.Hour), day0.Add(30*24*time.Hour), filter.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestArchive_KeepsAudioAndEveryDetail(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	mp3 := audiotest.Fixture(t, "speech.mp3")
	c := testCall(42, day0, 1, 101)
	c.TalkerAlias, c.Site, c.Channel, c.Duration = "ENGINE 5", "North", "A", 1.2
	e := add(t, a, c, mp3)
	got := findAll(t, root)
	if len(got) != 1 {
		t.Fatalf("Find gave %d entries, want 1", len(got))
	}
	g := got[0]
	want := c
	want.AudioURL = "" // relay-local, not kept
	if !reflect.DeepEqual(g.Call, want) || g.Server != server || g.Key != e.Key || g.Format() != media.MP3 || !strings.HasSuffix(g.Audio.File, ".mp3") {
		t.Fatalf("entry %+v, want call %+v", g, want)
	}
	var b bytes.Buffer
	if err := g.CopyAudio(&b); err != nil || !bytes.Equal(b.Bytes(), mp3) {
		t.Fatalf("the audio read back differs (%v)", err)
	}
	if n, size := a.Usage(); n != 1 || size < int64(len(mp3)) {
		t.Fatalf("Usage %d calls, %d bytes", n, size)
	}
}

// A call is known by what it is: the same call again (a backfill, or after
// a server reset gave it another id) is kept once; another call that got
// a reused id is kept beside it, never over it.
func TestArchive_CallsAreNamedByWhatTheyAreNotTheirID(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	first := testCall(7, day0, 1, 101)
	if _, added, err := a.Add(first, bytes.NewReader([]byte("RIFF audio one"))); err != nil || !added {
		t.Fatalf("first Add: added %v, %v", added, err)
	}
	again := first
	again.ID = 1 // the server was reset: the same call, a new id
	if _, added, err := a.Add(again, bytes.NewReader([]byte("RIFF audio one"))); err != nil || added {
		t.Fatalf("the same call again: added %v, %v; want it kept once", added, err)
	}
	other := testCall(7, day0, 1, 101) // id 7 reused by another call at the same second
	if _, added, err := a.Add(other, bytes.NewReader([]byte("RIFF audio two"))); err != nil || !added {
		t.Fatalf("another call with a reused id: added %v, %v", added, err)
	}
	if got := findAll(t, root); len(got) != 2 {
		t.Fatalf("%d entries, want 2", len(got))
	}
}

// setMTime ages a file so that Open treats it as left over from a crash.
func setMTime(t *testing.T, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestArchive_NothingHalfWrittenIsEverListed(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	good := add(t, a, testCall(1, day0, 1, 101), []byte("RIFF good call"))
	day := filepath.Dir(good.AudioPath())
	long := day0.Add(-time.Hour) // well before Now - staleAfter
	// What crashes leave: a temporary file, audio whose sidecar was never
	// written, a sidecar whose audio is short, a sidecar that is not JSON.
	tmp := filepath.Join(day, tmpPrefix+"123")
	orphan := filepath.Join(day, "180500-1-101-"+strings.Repeat("a", keyLen)+".wav")
	short := add(t, a, testCall(2, day0.Add(time.Minute), 1, 101), []byte("RIFF this one gets cut"))
	if err := os.Truncate(short.AudioPath(), 4); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(day, "180700-1-101-"+strings.Repeat("b", keyLen)+".json")
	for path, data := range map[string]string{tmp: "partial", orphan: "RIFF", broken: `{"version":1,"key":`} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fresh := filepath.Join(day, "180800-1-101-"+strings.Repeat("c", keyLen)+".wav") // another writer, right now
	if err := os.WriteFile(fresh, []byte("RIFF"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmp, orphan, short.AudioPath(), broken} {
		setMTime(t, p, long)
	}
	setMTime(t, fresh, day0.Add(time.Hour))
	if got := findAll(t, root); len(got) != 1 || got[0].Key != good.Key {
		t.Fatalf("Find lists %d entries, want only the whole one", len(got))
	}
	// A restart checks the archive and removes the leftovers.
	a = openArchive(t, root, nil)
	if n, _ := a.Usage(); n != 1 {
		t.Fatalf("after a restart the archive counts %d calls, want 1", n)
	}
	for _, p := range []string{tmp, orphan, short.AudioPath(), broken} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after Open", filepath.Base(p))
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("Open removed a file another writer may be writing: %v", err)
	}
	if got := findAll(t, root); len(got) != 1 {
		t.Fatalf("after a restart Find lists %d entries, want 1", len(got))
	}
}

func TestArchive_DamagedAudioIsCaughtWhenRead(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	e := add(t, a, testCall(1, day0, 1, 101), []byte("RIFF original audio"))
	if err := os.WriteFile(e.AudioPath(), []byte("RIFF tampered!audio"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.CopyAudio(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("CopyAudio of changed audio = %v, want it called damaged", err)
	}
}

func TestArchive_OldestOutBySizeAndAge(t *testing.T) {
	audio := bytes.Repeat([]byte("x"), 10_000)
	t.Run("size", func(t *testing.T) {
		root := t.TempDir()
		a := openArchive(t, root, func(o *Options) { o.MaxBytes = 35_000 })
		for i := range 5 {
			c := testCall(int64(i+1), day0.Add(-time.Duration(48-i*12)*time.Hour), 1, 101) // over three days
			add(t, a, c, append([]byte("RIFF"), append(audio, byte(i))...))
		}
		got := findAll(t, root)
		if len(got) != 3 || got[0].Call.ID != 3 || got[2].Call.ID != 5 {
			var ids []int64
			for _, e := range got {
				ids = append(ids, e.Call.ID)
			}
			t.Fatalf("kept calls %v, want the newest three (3, 4, 5)", ids)
		}
		if _, size := a.Usage(); size > 35_000 {
			t.Fatalf("the archive holds %d bytes, over its 35000", size)
		}
	})
	t.Run("age", func(t *testing.T) {
		root := t.TempDir()
		now := day0
		a := openArchive(t, root, func(o *Options) {
			o.MaxAge = 24 * time.Hour
			o.Now = func() time.Time { return now }
		})
		for i, age := range []time.Duration{50 * time.Hour, 30 * time.Hour, 23 * time.Hour, time.Hour} {
			add(t, a, testCall(int64(i+1), day0.Add(-age), 1, 101), append([]byte("RIFF"), byte(i)))
		}
		now = day0.Add(2 * time.Hour) // the 23-hour-old call is now 25 hours old
		if err := a.Prune(); err != nil {
			t.Fatal(err)
		}
		got := findAll(t, root)
		if len(got) != 1 || got[0].Call.ID != 4 {
			t.Fatalf("kept %d calls, want only the one an hour old", len(got))
		}
		if n, _ := a.Usage(); n != 1 {
			t.Fatalf("Usage counts %d calls", n)
		}
	})
}

func TestArchive_KeepsTheChosenTalkgroups(t *testing.T) {
	a := openArchive(t, t.TempDir(), func(o *Options) {
		o.Keep = []filter.Talkgroup{{SystemID: 1, TalkgroupID: 101}, {SystemID: 2}}
	})
	for _, tt := range []struct {
		sys, tg int64
		want    bool
	}{{1, 101, true}, {1, 102, false}, {2, 7, true}, {3, 101, false}} {
		if got := a.Keeps(testCall(1, day0, tt.sys, tt.tg)); got != tt.want {
			t.Errorf("Keeps(%d:%d) = %v, want %v", tt.sys, tt.tg, got, tt.want)
		}
	}
}

func TestFind_PicksByTimeAndQuery(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	for i, at := range []time.Time{day0.Add(-time.Minute), day0, day0.Add(30 * time.Minute), day0.Add(time.Hour)} {
		add(t, a, testCall(int64(i+1), at, 1, 101+int64(i%2)), []byte("RIFF"+strconv.Itoa(i)))
	}
	q, _ := filter.ParseQuery(nil, []string{"1:101"})
	got, err := Find(root, server, day0, day0.Add(time.Hour), q)
	if err != nil {
		t.Fatal(err)
	}
	// [from, to): call 2 (18:00, tg 102) is out by talkgroup, 4 (19:00) by time.
	if len(got) != 1 || got[0].Call.ID != 3 {
		t.Fatalf("Find gave %d calls, want call 3 alone", len(got))
	}
	if other, _ := Find(root, "https://other.example.org", day0.Add(-time.Hour), day0.Add(time.Hour), filter.Query{}); len(other) != 0 {
		t.Fatal("Find mixed in another server's calls")
	}
}

func TestArchive_SetTranscriptRewritesTheDetails(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, nil)
	c := testCall(1, day0, 1, 101)
	c.Transcript = ""
	e := add(t, a, c, []byte("RIFF"))
	if _, err := a.SetTranscript(e, "Medic 2 en route"); err != nil {
		t.Fatal(err)
	}
	if got := findAll(t, root); got[0].Call.Transcript != "Medic 2 en route" {
		t.Fatalf("transcript %q", got[0].Call.Transcript)
	}
}

func TestServerDir_StaysInsideTheRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	for _, s := range []string{server, "http://127.0.0.1:8080/scanner", "https://../../etc", "http://" + strings.Repeat("a", 300), "https://x/..%2f..", ""} {
		d := ServerDir(root, s)
		if filepath.Dir(d) != root || strings.HasPrefix(filepath.Base(d), ".") {
			t.Errorf("ServerDir(%q) = %s, not a plain directory in the root", s, d)
		}
	}
	if ServerDir(root, "https://a.example") == ServerDir(root, "http://a.example") {
		t.Error("two servers share a directory")
	}
}

func FuzzSidecar(f *testing.F) {
	good, _ := json.Marshal(Entry{Version: 1, Key: strings.Repeat("a", keyLen), Server: server, Call: testCall(1, day0, 1, 101),
		Audio: AudioFile{File: "180000-1-101-" + strings.Repeat("a", keyLen) + ".wav", Format: "WAV", Size: 4, SHA256: strings.Repeat("0", 64)}})
	f.Add(good)
	f.Add([]byte(`{"version":1,"audio":{"file":"../x.wav"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		name := "180000-1-101-" + strings.Repeat("a", keyLen)
		if err := os.WriteFile(filepath.Join(dir, name+".json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".wav"), []byte("RIFF"), 0o600); err != nil {
			t.Fatal(err)
		}
		e, _, err := readEntry(dir, name+".json")
		if err != nil {
			return
		}
		if e.validate() != nil || filepath.Dir(e.AudioPath()) != dir {
			t.Fatalf("accepted an entry that does not check out: %+v", e)
		}
	})
}

// fakeSource is a relay core: a real hub and cache.
type fakeSource struct {
	hub   *hub.Hub
	cache *cache.Cache
}

func newFakeSource(t *testing.T) *fakeSource {
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &fakeSource{hub: hub.New(nil), cache: c}
}

func (f *fakeSource) Subscribe(n int) *hub.Subscriber { return f.hub.Subscribe(n) }

func (f *fakeSource) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	if e, ok := f.cache.Lookup(strconv.FormatInt(id, 10)); ok {
		return e, nil
	}
	return nil, relay.ErrNotFound
}

func (f *fakeSource) call(t *testing.T, c event.Call, audio []byte) {
	t.Helper()
	if audio != nil {
		if _, err := f.cache.Put(strconv.FormatInt(c.ID, 10), audio); err != nil {
			t.Fatal(err)
		}
	}
	f.hub.Publish(event.Event{Type: event.TypeCall, Call: &c})
}

func (f *fakeSource) transcript(id int64, text string) {
	f.hub.Publish(event.Event{Type: event.TypeTranscript, Transcript: &event.Transcript{CallID: id, Text: text}})
}

func TestRecord_ArchivesTheFeedWithLateTranscripts(t *testing.T) {
	root := t.TempDir()
	a := openArchive(t, root, func(o *Options) { o.Keep = []filter.Talkgroup{{SystemID: 1}} })
	src := newFakeSource(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Record(ctx, src) }()
	defer func() {
		cancel()
		if err := audiotest.Await(t, done, "Record to stop"); err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(what string, cond func([]Entry) bool) []Entry {
		t.Helper()
		deadline := time.Now().Add(audiotest.HangGuard)
		for {
			got := findAll(t, root)
			if cond(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s: %d entries", what, len(got))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for src.hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	plain := func(id int64, at time.Time, sys int64) event.Call {
		c := testCall(id, at, sys, 101)
		c.Transcript = ""
		return c
	}
	src.call(t, plain(1, day0, 1), []byte("RIFF one"))
	src.call(t, plain(2, day0.Add(time.Second), 2), []byte("RIFF not kept")) // system 2 is not chosen
	src.call(t, plain(3, day0.Add(2*time.Second), 1), nil)                   // the server does not offer its audio
	src.transcript(4, "early words")                                         // before its call
	src.call(t, plain(4, day0.Add(3*time.Second), 1), []byte("RIFF four"))
	src.transcript(1, "late words") // after its call
	got := waitFor("calls 1 and 4 with their transcripts", func(es []Entry) bool {
		return len(es) == 2 && es[0].Call.Transcript == "late words" && es[1].Call.Transcript == "early words"
	})
	if got[0].Call.ID != 1 || got[1].Call.ID != 4 {
		t.Fatalf("archived calls %d and %d, want 1 and 4", got[0].Call.ID, got[1].Call.ID)
	}
	// After a reset, id 1 names another call: its transcript does not go to
	// the archived call 1.
	src.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	src.transcript(1, "words of another call")
	src.call(t, plain(5, day0.Add(4*time.Second), 1), []byte("RIFF five"))
	got = waitFor("call 5", func(es []Entry) bool { return len(es) == 3 })
	if got[0].Call.Transcript != "late words" {
		t.Fatalf("after a reset a transcript went to an old call: %q", got[0].Call.Transcript)
	}
}
