package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"earshot/relay/loudness"
	"earshot/relay/safefile"
)

// An entry's measured loudness is kept with it: in memory on the Entry, and
// on disk in a small file beside its audio (<key>.loudness), so it is
// measured once per call, not once per start. The file names the audio it
// was measured on (its size and modification time, as the ETag does): a
// replaced or rewritten audio file never takes an older measurement. The
// cache does not measure; whoever puts audio in does (the relay, with
// relay/audio and relay/loudness).

// loudExt marks the file that keeps an entry's measured loudness.
const loudExt = ".loudness"

// maxLoudFile bounds what is read of a loudness file: it is a few dozen
// bytes, and anything larger is not one of ours.
const maxLoudFile = 1024

// measurement is the loudness of one entry's audio, once known. done is
// closed when it is (ok false: it could not be measured).
type measurement struct {
	once sync.Once
	done chan struct{}
	res  loudness.Result
	ok   bool
}

func newMeasurement() *measurement { return &measurement{done: make(chan struct{})} }

// settle records the outcome, once; it reports whether this call did.
func (m *measurement) settle(res loudness.Result, ok bool) bool {
	first := false
	m.once.Do(func() {
		m.res, m.ok, first = res, ok, true
		close(m.done)
	})
	return first
}

// Loudness returns the measured loudness of the entry's audio, if it has
// been measured (an entry is measured shortly after it enters the cache;
// see Measured).
func (e *Entry) Loudness() (loudness.Result, bool) {
	if e.loud == nil {
		return loudness.Result{}, false
	}
	select {
	case <-e.loud.done:
		return e.loud.res, e.loud.ok
	default:
		return loudness.Result{}, false
	}
}

// Measured returns a channel that is closed once the entry's loudness is
// known, or known not to come (its audio could not be measured; Loudness
// then reports false). For an Entry not made by a Cache it is nil.
func (e *Entry) Measured() <-chan struct{} {
	if e.loud == nil {
		return nil
	}
	return e.loud.done
}

// SetLoudness keeps r, the measured loudness of e's audio, with e:
// Loudness reports it and Measured is closed. While e is its cache's entry
// for its key it is also written beside the audio, so the next Open
// finds it. An entry keeps its first measurement (or NotMeasurable); later
// calls change nothing.
func (e *Entry) SetLoudness(r loudness.Result) error {
	c := e.cache
	if e.loud == nil || c == nil {
		return fmt.Errorf("set the loudness of %s: not an entry of a cache", e.Key)
	}
	if err := validResult(r); err != nil {
		return fmt.Errorf("set the loudness of %s: %w", e.Key, err)
	}
	if !e.loud.settle(r, true) {
		return nil
	}
	data, err := json.Marshal(newLoudFile(e, r))
	if err != nil {
		return fmt.Errorf("encode the loudness of %s: %w", e.Key, err)
	}
	tmp, err := os.CreateTemp(c.dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("keep the loudness of %s: %w", e.Key, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("keep the loudness of %s: %w", e.Key, err)
	}
	// Renamed into place under the lock, so that an eviction or a
	// replacement of the entry (which remove the file under it) cannot
	// interleave and leave a file for audio that is gone.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if el, ok := c.entries[e.Key]; !ok || el.Value.(*Entry) != e {
		return nil // evicted or replaced meanwhile: nothing to keep
	}
	if err := os.Rename(tmp.Name(), c.loudPath(e.Key)); err != nil {
		return fmt.Errorf("keep the loudness of %s: %w", e.Key, err)
	}
	return nil
}

// NotMeasurable records that e's audio could not be measured (it does
// not decode, say): Measured is closed and Loudness reports false. It is
// not written down, so the next Open may try again.
func (e *Entry) NotMeasurable() {
	if e.loud != nil {
		e.loud.settle(loudness.Result{}, false)
	}
}

func (c *Cache) loudPath(key string) string { return filepath.Join(c.dir, key+loudExt) }

// loudFile is the file kept beside an entry's audio.
type loudFile struct {
	Version int `json:"v"`
	// Size and ModTime (Unix nanoseconds) name the audio file measured.
	Size    int64 `json:"size"`
	ModTime int64 `json:"modTime"`
	// LUFS is the integrated loudness; null for silence.
	LUFS   *float64 `json:"lufs"`
	Peak   float64  `json:"peak"`
	Frames int      `json:"frames"`
}

const loudFileVersion = 1

func newLoudFile(e *Entry, r loudness.Result) loudFile {
	f := loudFile{Version: loudFileVersion, Size: e.Size, ModTime: e.ModTime.UnixNano(), Peak: r.Peak, Frames: r.Frames}
	if r.Measurable() {
		v := r.Integrated
		f.LUFS = &v
	}
	return f
}

// result is the measurement the file holds.
func (f loudFile) result() loudness.Result {
	r := loudness.Result{Integrated: math.Inf(-1), Peak: f.Peak, Frames: f.Frames}
	if f.LUFS != nil {
		r.Integrated = *f.LUFS
	}
	return r
}

// errBadLoudFile marks a loudness file that is not one of ours.
var errBadLoudFile = errors.New("not a loudness file of this cache")

// parseLoudFile reads and checks a loudness file's contents (untrusted:
// anyone who can write the cache directory can put anything there).
func parseLoudFile(data []byte) (loudFile, error) {
	var f loudFile
	if len(data) > maxLoudFile {
		return f, fmt.Errorf("%w: %d bytes", errBadLoudFile, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return loudFile{}, fmt.Errorf("%w: %w", errBadLoudFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return loudFile{}, fmt.Errorf("%w: data after the record", errBadLoudFile)
	}
	switch {
	case f.Version != loudFileVersion:
		return loudFile{}, fmt.Errorf("%w: version %d", errBadLoudFile, f.Version)
	case f.Size < 0 || f.Frames < 0:
		return loudFile{}, fmt.Errorf("%w: negative size or length", errBadLoudFile)
	}
	if err := validResult(f.result()); err != nil {
		return loudFile{}, fmt.Errorf("%w: %w", errBadLoudFile, err)
	}
	return f, nil
}

// validResult checks that a measurement is one a Meter can give.
func validResult(r loudness.Result) error {
	switch {
	case math.IsNaN(r.Peak) || r.Peak < 0 || r.Peak > 1:
		return fmt.Errorf("peak %v is not 0 to 1", r.Peak)
	case math.IsNaN(r.Integrated) || math.IsInf(r.Integrated, 1) || r.Integrated > 10:
		return fmt.Errorf("loudness %v LUFS is not a measurement", r.Integrated)
	case r.Measurable() && r.Integrated < -200:
		return fmt.Errorf("loudness %v LUFS is not a measurement", r.Integrated)
	case r.Frames < 0:
		return errors.New("negative length")
	}
	return nil
}

// loadLoudness settles e's measurement from the file beside its audio, if
// there is one for this very audio; a file that is not (damaged, or left
// from audio since replaced) is removed.
func (c *Cache) loadLoudness(e *Entry) {
	p := c.loudPath(e.Key)
	f, err := safefile.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(f, maxLoudFile+1))
		f.Close()
	}
	var lf loudFile
	if err == nil {
		lf, err = parseLoudFile(data)
	}
	if err == nil && (lf.Size != e.Size || lf.ModTime != e.ModTime.UnixNano()) {
		err = errors.New("it was measured on other audio")
	}
	if err != nil {
		c.log.Debug("dropping a cached call's loudness file", "key", e.Key, "err", err)
		_ = os.Remove(p)
		return
	}
	e.loud.settle(lf.result(), true)
}

// removeLoudness removes the loudness file of key, if any.
func (c *Cache) removeLoudness(key string) {
	if err := os.Remove(c.loudPath(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("could not remove a cached call's loudness file", "key", key, "err", err)
	}
}
