// Package cache keeps call audio on disk so local consumers are served from
// the machine, not the network.
//
// It owns the cache directory: one file per key, a size bound enforced by
// evicting the least recently used entries, and single-flight fills so
// concurrent requests for one call share one download. The index is rebuilt
// from the directory at Open, so the cache survives restarts. Each entry
// also keeps the loudness its audio was measured at (loudness.go), on disk
// beside it. It does not know where audio comes from (callers pass a fetch
// function) and measures nothing itself.
package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"earshot/relay/media"
	"earshot/relay/safefile"
)

// fileExt marks cache files; anything else in the directory is left alone.
const fileExt = ".audio"

// tmpPrefix marks partial downloads, removed at Open.
const tmpPrefix = ".fill-"

// MaxKeyLen bounds keys; keys become file names.
const MaxKeyLen = 128

// ErrTooLarge means a fetch produced more bytes than one entry may hold.
var ErrTooLarge = errors.New("audio is larger than the cache allows for one call")

// Entry is one cached file. It is immutable once returned, but for its
// measured loudness, which comes later (Loudness, Measured).
type Entry struct {
	Key         string
	Size        int64
	ModTime     time.Time
	ContentType string // sniffed from the data
	ETag        string // strong validator, quoted
	path        string
	loud        *measurement
	cache       *Cache
}

// Open opens the entry's file for reading. An entry evicted after it was
// returned may be gone; the caller then asks the cache again.
func (e *Entry) Open() (*os.File, error) {
	f, err := safefile.Open(e.path)
	if err != nil {
		return nil, fmt.Errorf("open cached audio %s: %w", e.Key, err)
	}
	return f, nil
}

// Cache is an on-disk LRU of audio files. It is safe for concurrent use.
type Cache struct {
	dir      string
	maxBytes int64
	maxEntry int64
	log      *slog.Logger

	mu       sync.Mutex
	entries  map[string]*list.Element // of *Entry
	lru      *list.List               // front = most recently used
	size     int64
	inflight map[string]*fill
	closed   bool
	fills    sync.WaitGroup
}

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("the audio cache is closed")

// Close cancels the downloads in flight and waits for them to end. Entries
// stay on disk for the next Open.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	for _, f := range c.inflight {
		f.cancel()
	}
	c.mu.Unlock()
	c.fills.Wait()
}

// fill is one download shared by everyone who asked for the key meanwhile.
type fill struct {
	done    chan struct{}
	entry   *Entry
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Open opens (creating it 0700 if needed) the cache in dir, bounded to
// maxBytes. Leftover partial downloads are removed.
func Open(dir string, maxBytes int64, logger *slog.Logger) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("cache size must be positive, got %d bytes", maxBytes)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// What a user listens to is private, even on a shared machine; and a
	// link in the directory's place would have the cache chmod, empty and
	// fill some other directory.
	if err := safefile.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("the audio cache directory: %w", err)
	}
	c := &Cache{
		dir:      dir,
		maxBytes: maxBytes,
		maxEntry: min(maxBytes, 256<<20),
		log:      logger,
		entries:  make(map[string]*list.Element),
		lru:      list.New(),
		inflight: make(map[string]*fill),
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// load rebuilds the index from the directory, oldest access first.
func (c *Cache) load() error {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("read the audio cache directory: %w", err)
	}
	var found []*Entry
	var louds []string // keys of loudness files
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			_ = os.Remove(filepath.Join(c.dir, name))
			continue
		}
		if key, ok := strings.CutSuffix(name, loudExt); ok && ValidKey(key) == nil {
			louds = append(louds, key)
			continue
		}
		key, ok := strings.CutSuffix(name, fileExt)
		if !ok || ValidKey(key) != nil || !de.Type().IsRegular() {
			continue
		}
		e, err := c.entryFor(key)
		if err != nil {
			c.log.Warn("skipping an unreadable cache file", "file", name, "err", err)
			continue
		}
		c.loadLoudness(e)
		found = append(found, e)
	}
	// Write order stands in for recency across a restart.
	sortByModTime(found)
	for _, e := range found {
		c.entries[e.Key] = c.lru.PushFront(e)
		c.size += e.Size
	}
	for _, key := range louds {
		if _, ok := c.entries[key]; !ok {
			_ = os.Remove(c.loudPath(key)) // its audio is gone
		}
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return nil
}

func sortByModTime(es []*Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].ModTime.Before(es[j-1].ModTime); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// entryFor describes the file of key as it is on disk.
func (c *Cache) entryFor(key string) (*Entry, error) {
	p := c.path(key)
	f, err := safefile.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, media.SniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &Entry{
		Key:         key,
		Size:        st.Size(),
		ModTime:     st.ModTime(),
		ContentType: media.Sniff(head[:n]).ContentType(),
		ETag:        `"` + key + "-" + strconv.FormatInt(st.Size(), 36) + "-" + strconv.FormatInt(st.ModTime().UnixNano(), 36) + `"`,
		path:        p,
		loud:        newMeasurement(),
		cache:       c,
	}, nil
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+fileExt) }

// ValidKey reports whether key can name a cache entry: 1–128 characters of
// letters, digits, '-', '_' and '.', not starting with '.'.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || key[0] == '.' {
		return fmt.Errorf("invalid cache key %q", key)
	}
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return fmt.Errorf("invalid cache key %q", key)
		}
	}
	return nil
}

// Lookup returns the entry for key if it is cached, marking it used.
func (c *Cache) Lookup(key string) (*Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*Entry), true
}

// Len is the number of cached entries and Size their total bytes.
func (c *Cache) Len() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.entries) }

// Size is the total size of the cached entries in bytes.
func (c *Cache) Size() int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.size }

// Put stores data under key, replacing any entry.
func (c *Cache) Put(key string, data []byte) (*Entry, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if int64(len(data)) > c.maxEntry {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, len(data), c.maxEntry)
	}
	return c.store(key, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Get returns the entry for key, calling fetch to fill it on a miss.
// Concurrent callers for one key share one fetch; the fetch is cancelled
// only when every caller waiting for it has gone. A failed fetch caches
// nothing.
func (c *Cache) Get(ctx context.Context, key string, fetch func(ctx context.Context, w io.Writer) error) (*Entry, error) {
	return c.get(ctx, key, fetch, true)
}

// Refill is Get that does not take a cached entry for key: it fetches
// afresh (sharing a fetch already in flight for key) and replaces the
// entry, for data nothing ties to what is cached.
func (c *Cache) Refill(ctx context.Context, key string, fetch func(ctx context.Context, w io.Writer) error) (*Entry, error) {
	return c.get(ctx, key, fetch, false)
}

func (c *Cache) get(ctx context.Context, key string, fetch func(ctx context.Context, w io.Writer) error, cached bool) (*Entry, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok && cached {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*Entry), nil
	}
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	f, ok := c.inflight[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &fill{done: make(chan struct{}), cancel: cancel}
		c.inflight[key] = f
		c.fills.Add(1)
		go c.run(fctx, key, f, fetch)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.entry, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (c *Cache) run(ctx context.Context, key string, f *fill, fetch func(ctx context.Context, w io.Writer) error) {
	defer c.fills.Done()
	defer f.cancel()
	f.entry, f.err = c.store(key, func(w io.Writer) error {
		return fetch(ctx, &cappedWriter{w: w, left: c.maxEntry})
	})
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(f.done)
}

// store writes a new file for key through a temporary file and indexes it.
func (c *Cache) store(key string, write func(io.Writer) error) (*Entry, error) {
	tmp, err := os.CreateTemp(c.dir, tmpPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create a cache file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("restrict a cache file: %w", err)
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write a cache file: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return nil, fmt.Errorf("store a cache file: %w", err)
	}
	e, err := c.entryFor(key)
	if err != nil {
		return nil, fmt.Errorf("read back a cache file: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.size -= old.Value.(*Entry).Size
		c.lru.Remove(old)
		c.removeLoudness(key) // it was measured on the old audio
	}
	c.entries[key] = c.lru.PushFront(e)
	c.size += e.Size
	c.evictLocked()
	return e, nil
}

// evictLocked removes least recently used entries until the cache fits,
// always keeping the newest one.
func (c *Cache) evictLocked() {
	for c.size > c.maxBytes && c.lru.Len() > 1 {
		el := c.lru.Back()
		e := el.Value.(*Entry)
		c.lru.Remove(el)
		delete(c.entries, e.Key)
		c.size -= e.Size
		if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("could not remove an evicted cache file", "key", e.Key, "err", err)
		}
		c.removeLoudness(e.Key)
	}
}

// cappedWriter fails once more than left bytes are written.
type cappedWriter struct {
	w    io.Writer
	left int64
}

func (cw *cappedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > cw.left {
		return 0, ErrTooLarge
	}
	n, err := cw.w.Write(p)
	cw.left -= int64(n)
	return n, err
}
