package cache

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"earshot/relay/loudness"
)

var measuredResult = loudness.Result{Integrated: -23.4, Peak: 0.5, Frames: 96000}

func loudnessOf(t *testing.T, e *Entry) (loudness.Result, bool) {
	t.Helper()
	r, ok := e.Loudness()
	select {
	case <-e.Measured():
		if !ok && r != (loudness.Result{}) {
			t.Fatalf("an entry that could not be measured reports %+v", r)
		}
	default:
		if ok {
			t.Fatal("Loudness reports a measurement while Measured is open")
		}
	}
	return r, ok
}

func TestLoudnessIsKeptWithTheEntryAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	e, err := c.Put("7-abc", []byte("seven"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loudnessOf(t, e); ok {
		t.Fatal("a new entry reports a loudness")
	}
	if err := e.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	if r, ok := loudnessOf(t, e); !ok || r != measuredResult {
		t.Fatalf("Loudness = %+v, %v; want %+v", r, ok, measuredResult)
	}
	if got, _ := c.Lookup("7-abc"); got != e {
		t.Fatal("Lookup returned another entry")
	}
	// The first measurement stays.
	if err := e.SetLoudness(loudness.Result{Integrated: -10, Peak: 1}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Loudness(); r != measuredResult {
		t.Fatalf("a second SetLoudness changed it to %+v", r)
	}
	// Silence survives too (-Inf is not JSON).
	silent, _ := c.Put("8-abc", []byte("eight"))
	if err := silent.SetLoudness(loudness.Result{Integrated: math.Inf(-1), Frames: 10}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c2 := open(t, dir, 1<<20)
	e2, ok := c2.Lookup("7-abc")
	if !ok {
		t.Fatal("entry lost across restart")
	}
	if r, ok := loudnessOf(t, e2); !ok || r != measuredResult {
		t.Fatalf("after a restart: Loudness = %+v, %v; want %+v", r, ok, measuredResult)
	}
	s2, _ := c2.Lookup("8-abc")
	if r, ok := loudnessOf(t, s2); !ok || r.Measurable() || r.Frames != 10 {
		t.Fatalf("silence after a restart: %+v, %v", r, ok)
	}
}

func TestLoudnessGoesWithItsAudio(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 300)
	old, _ := c.Put("1", make([]byte, 100))
	if err := old.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	// New audio under the key: the measurement of the old is not its.
	fresh, err := c.Put("1", make([]byte, 90))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loudnessOf(t, fresh); ok {
		t.Fatal("replaced audio took the old audio's loudness")
	}
	if _, err := os.Stat(c.loudPath("1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the old audio's loudness file is still there")
	}
	// A late measurement of the replaced entry is not written down.
	stale, _ := c.Put("2", make([]byte, 100))
	if _, err := c.Put("2", make([]byte, 80)); err != nil {
		t.Fatal(err)
	}
	if err := stale.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.loudPath("2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a replaced entry's measurement was written for the new audio")
	}
	// Evicted: the file goes with it.
	if err := fresh.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"3", "4", "5"} {
		if _, err := c.Put(k, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Lookup("1"); ok {
		t.Fatal("entry 1 was not evicted")
	}
	if _, err := os.Stat(c.loudPath("1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an evicted entry's loudness file is still there")
	}
}

func TestLoudnessFilesThatDoNotFitAreDropped(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	e, _ := c.Put("1", []byte("one"))
	if err := e.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put("2", []byte("two")); err != nil {
		t.Fatal(err)
	}
	other, _ := c.Put("3", []byte("three"))
	c.Close()
	if err := os.WriteFile(c.loudPath("2"), []byte(`{"v":1,"size":3,"mod`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Measured on other audio (a file copied in from elsewhere, say).
	lf := newLoudFile(other, measuredResult)
	lf.Size++
	data, _ := json.Marshal(lf)
	if err := os.WriteFile(c.loudPath("3"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A loudness file whose audio is gone.
	if err := os.WriteFile(filepath.Join(dir, "9"+loudExt), data, 0o600); err != nil {
		t.Fatal(err)
	}

	c2 := open(t, dir, 1<<20)
	for _, k := range []string{"2", "3"} {
		e, ok := c2.Lookup(k)
		if !ok {
			t.Fatalf("entry %s lost", k)
		}
		if _, ok := loudnessOf(t, e); ok {
			t.Fatalf("entry %s took a loudness file that is not its own", k)
		}
	}
	for _, k := range []string{"2", "3", "9"} {
		if _, err := os.Stat(c2.loudPath(k)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the loudness file of %s was left", k)
		}
	}
	if e, _ := c2.Lookup("1"); e == nil {
		t.Fatal("entry 1 lost")
	} else if r, ok := loudnessOf(t, e); !ok || r != measuredResult {
		t.Fatalf("entry 1: %+v, %v", r, ok)
	}
}

func TestNotMeasurableSettlesWithoutAResult(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	e, _ := c.Put("1", []byte("not audio"))
	e.NotMeasurable()
	select {
	case <-e.Measured():
	default:
		t.Fatal("Measured still open after NotMeasurable")
	}
	if _, ok := loudnessOf(t, e); ok {
		t.Fatal("an unmeasurable entry reports a loudness")
	}
	if err := e.SetLoudness(measuredResult); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Loudness(); ok {
		t.Fatal("a measurement after NotMeasurable took")
	}
	if _, err := os.Stat(c.loudPath("1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("NotMeasurable wrote a file")
	}
	// Bad measurements are refused; an Entry not from a cache has none.
	e2, _ := c.Put("2", []byte("two"))
	for _, r := range []loudness.Result{{Integrated: math.NaN()}, {Integrated: -20, Peak: 2}, {Integrated: -20, Frames: -1}} {
		if err := e2.SetLoudness(r); err == nil {
			t.Fatalf("SetLoudness accepted %+v", r)
		}
	}
	var zero Entry
	if _, ok := zero.Loudness(); ok || zero.Measured() != nil {
		t.Fatal("a zero Entry reports a measurement")
	}
	if err := zero.SetLoudness(measuredResult); err == nil {
		t.Fatal("SetLoudness took an entry of no cache")
	}
}

func FuzzParseLoudFile(f *testing.F) {
	good, _ := json.Marshal(loudFile{Version: 1, Size: 10, ModTime: 1, LUFS: new(-23.0), Peak: 0.5, Frames: 4})
	f.Add(good)
	f.Add([]byte(`{"v":1,"size":1,"modTime":2,"lufs":null,"peak":0,"frames":0}`))
	f.Add([]byte(`{"v":1,"lufs":1e999}`))
	f.Add([]byte(`{"v":1} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := parseLoudFile(data)
		if err != nil {
			return
		}
		if err := validResult(lf.result()); err != nil {
			t.Fatalf("accepted %q: %v", data, err)
		}
		again, _ := json.Marshal(lf)
		back, err := parseLoudFile(again)
		if err != nil || back.result() != lf.result() || back.Size != lf.Size || back.ModTime != lf.ModTime {
			t.Fatalf("%q does not round-trip: %+v, %v", data, back, err)
		}
	})
}
