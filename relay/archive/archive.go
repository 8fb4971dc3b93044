package archive

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/media"
)

// Limits on what one entry may be.
const (
	// MaxAudioBytes is the largest call audio the archive keeps.
	MaxAudioBytes = 64 << 20
	// maxSidecarBytes caps a sidecar read back (a call's metadata and
	// transcript are a few KiB).
	maxSidecarBytes = 1 << 20
	// formatVersion is the sidecar format this package writes and reads.
	formatVersion = 1
	// staleAfter is how old a temporary or unlisted file must be before
	// Open removes it: younger ones may belong to another process writing
	// the same archive right now.
	staleAfter = 10 * time.Minute
)

const (
	sidecarExt = ".json"
	tmpPrefix  = ".tmp-"
	dayLayout  = "2006-01-02"
)

// ErrTooLarge: a call's audio is larger than MaxAudioBytes.
var ErrTooLarge = errors.New("the call's audio is larger than the archive keeps")

// Entry is one archived call: its sidecar's contents.
type Entry struct {
	Version int `json:"version"`
	// Key names the call in the archive: a hash of its server, date and
	// time, system, talkgroup and audio.
	Key    string `json:"key"`
	Server string `json:"server"`
	// Call is the call's metadata as the relay had it (ids, labels,
	// frequency, unit, transcript, …); its ID is the server's id at the
	// time, which a server reset may give to another call later.
	Call       event.Call `json:"call"`
	Audio      AudioFile  `json:"audio"`
	ArchivedAt time.Time  `json:"archivedAt"`

	dir string // the day directory holding it
}

// AudioFile describes an entry's audio file.
type AudioFile struct {
	File   string `json:"file"`   // base name, beside the sidecar
	Format string `json:"format"` // media.Format's name: MP3, M4A, WAV, Ogg, AAC, unknown
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// Time is the call's date and time.
func (e Entry) Time() time.Time { return time.Unix(e.Call.DateTime, 0) }

// AudioPath is the path of the entry's audio file.
func (e Entry) AudioPath() string { return filepath.Join(e.dir, e.Audio.File) }

// Format is the entry's audio format.
func (e Entry) Format() media.Format {
	for _, f := range []media.Format{media.MP3, media.M4A, media.WAV, media.Ogg, media.AAC} {
		if f.String() == e.Audio.Format {
			return f
		}
	}
	return media.Unknown
}

// Open opens the entry's audio for reading. CopyAudio checks it too.
func (e Entry) Open() (*os.File, error) {
	f, err := os.Open(e.AudioPath())
	if err != nil {
		return nil, fmt.Errorf("open the archived audio of %s: %w", e.Key, err)
	}
	return f, nil
}

// CopyAudio writes the entry's audio to w and checks it against the hash
// it was archived with.
func (e Entry) CopyAudio(w io.Writer) error {
	f, err := e.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, MaxAudioBytes+1))
	if err != nil {
		return fmt.Errorf("read the archived audio of %s: %w", e.Key, err)
	}
	if n != e.Audio.Size || hex.EncodeToString(h.Sum(nil)) != e.Audio.SHA256 {
		return fmt.Errorf("the archived audio of %s (%s) is damaged: it is not what was archived", e.Key, e.AudioPath())
	}
	return nil
}

// validate checks a sidecar read back.
func (e *Entry) validate() error {
	switch {
	case e.Version != formatVersion:
		return fmt.Errorf("format version %d, not %d", e.Version, formatVersion)
	case len(e.Key) != keyLen || strings.Trim(e.Key, "0123456789abcdef") != "":
		return errors.New("no valid key")
	case e.Audio.File == "" || filepath.Base(e.Audio.File) != e.Audio.File || strings.HasPrefix(e.Audio.File, "."):
		return errors.New("no valid audio file name")
	case e.Audio.Size <= 0 || e.Audio.Size > MaxAudioBytes || len(e.Audio.SHA256) != 64:
		return errors.New("no valid audio size or hash")
	case e.Call.DateTime <= 0:
		return errors.New("no date and time")
	}
	return nil
}

// keyLen is the length of an entry key (hex).
const keyLen = 24

// Key names a call in the archive: what it is, not its id.
func Key(server string, c event.Call, audioSHA256 []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%d\n%d\n", server, c.DateTime, c.SystemID, c.TalkgroupID)
	h.Write(audioSHA256)
	return hex.EncodeToString(h.Sum(nil))[:keyLen]
}

// ServerDir is the directory under root holding a server's calls: its host
// name, made safe, and a hash of its whole URL.
func ServerDir(root, server string) string {
	host := server
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	host, _, _ = strings.Cut(host, "/")
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), ".")
	if len(name) > 64 {
		name = name[:64]
	}
	sum := sha256.Sum256([]byte(server))
	return filepath.Join(root, name+"-"+hex.EncodeToString(sum[:4]))
}

// baseName is an entry's file name without extension:
// 180307-1-101-<key>, the call's UTC time of day, system and talkgroup.
func baseName(c event.Call, key string) string {
	t := time.Unix(c.DateTime, 0).UTC()
	return t.Format("150405") + "-" + strconv.FormatInt(c.SystemID, 10) + "-" + strconv.FormatInt(c.TalkgroupID, 10) + "-" + key
}

func dayOf(unix int64) string { return time.Unix(unix, 0).UTC().Format(dayLayout) }

// Options configure an Archive.
type Options struct {
	// Root is the archive directory; the calls of Server go under
	// ServerDir(Root, Server).
	Root   string
	Server string
	// MaxAge drops calls older than this (by their date and time); 0
	// keeps them regardless of age.
	MaxAge time.Duration
	// MaxBytes bounds the server's archive on disk, oldest out; 0 does not
	// bound it.
	MaxBytes int64
	// Keep chooses the talkgroups to archive (TalkgroupID 0: a whole
	// system); empty archives every call.
	Keep   []filter.Talkgroup
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Archive writes one server's calls. Its methods are safe for concurrent
// use; other processes may read (Find) it meanwhile.
type Archive struct {
	opts Options
	dir  string
	log  *slog.Logger
	now  func() time.Time

	mu    sync.Mutex
	days  map[string]int64 // bytes per day directory
	total int64
	count int
}

// Open opens (creating it) the archive of opts.Server under opts.Root,
// checks every entry, removes what a crash left half written, and drops
// what the bounds no longer allow.
func Open(opts Options) (*Archive, error) {
	if opts.Root == "" || opts.Server == "" {
		return nil, errors.New("archive: a directory and a server are required")
	}
	if opts.MaxAge < 0 || opts.MaxBytes < 0 {
		return nil, errors.New("archive: negative bounds")
	}
	a := &Archive{opts: opts, dir: ServerDir(opts.Root, opts.Server), log: opts.Logger, now: opts.Now, days: make(map[string]int64)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the archive directory: %w", err)
	}
	if err := a.load(); err != nil {
		return nil, err
	}
	if err := a.Prune(); err != nil {
		return nil, err
	}
	return a, nil
}

// Dir is the directory holding this server's calls.
func (a *Archive) Dir() string { return a.dir }

// Usage reports how many calls the archive holds and their size on disk.
func (a *Archive) Usage() (calls int, bytes int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count, a.total
}

// load checks every day directory: temporary files and audio without a
// sidecar (a crash between the two renames) are removed once stale, and a
// sidecar that does not check out is removed with its audio.
func (a *Archive) load() error {
	days, err := os.ReadDir(a.dir)
	if err != nil {
		return fmt.Errorf("read the archive: %w", err)
	}
	stale := a.now().Add(-staleAfter)
	for _, d := range days {
		if !d.IsDir() {
			continue
		}
		if _, err := time.Parse(dayLayout, d.Name()); err != nil {
			continue // not ours
		}
		dir := filepath.Join(a.dir, d.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		listed := make(map[string]bool)
		var bytes int64
		for _, f := range files {
			name := f.Name()
			if !strings.HasSuffix(name, sidecarExt) || strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			e, size, err := readEntry(dir, name)
			if err != nil {
				a.log.Warn("removing a damaged archive entry", "file", filepath.Join(dir, name), "err", err)
				a.remove(dir, name, e.Audio.File)
				continue
			}
			listed[name], listed[e.Audio.File] = true, true
			bytes += size
			a.count++
		}
		for _, f := range files {
			name := f.Name()
			if listed[name] {
				continue
			}
			info, err := f.Info()
			if err != nil || info.ModTime().After(stale) {
				continue // may be another writer's, half way
			}
			if strings.HasPrefix(name, tmpPrefix) || strings.Count(name, "-") >= 3 {
				a.log.Info("removing a half-written archive file", "file", filepath.Join(dir, name))
				_ = os.Remove(filepath.Join(dir, name))
			}
		}
		if bytes > 0 {
			a.days[d.Name()] = bytes
			a.total += bytes
		} else {
			_ = os.Remove(dir) // only if empty
		}
	}
	return nil
}

// readEntry reads and checks the sidecar name in dir and returns the entry
// with the size of its two files.
func readEntry(dir, name string) (Entry, int64, error) {
	var e Entry
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return e, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSidecarBytes+1))
	if err != nil {
		return e, 0, err
	}
	if len(data) > maxSidecarBytes {
		return e, 0, errors.New("sidecar too large")
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return Entry{}, 0, fmt.Errorf("sidecar is not valid JSON: %w", err)
	}
	if err := e.validate(); err != nil {
		return Entry{}, 0, err
	}
	if name != strings.TrimSuffix(e.Audio.File, filepath.Ext(e.Audio.File))+sidecarExt {
		return Entry{}, 0, errors.New("sidecar and audio names disagree")
	}
	info, err := os.Stat(filepath.Join(dir, e.Audio.File))
	if err != nil {
		return e, 0, fmt.Errorf("its audio: %w", err)
	}
	if info.Size() != e.Audio.Size {
		return e, 0, fmt.Errorf("its audio is %d bytes, not %d", info.Size(), e.Audio.Size)
	}
	e.dir = dir
	return e, info.Size() + int64(len(data)), nil
}

// remove deletes an entry's files (either may be missing).
func (a *Archive) remove(dir, sidecar, audio string) {
	_ = os.Remove(filepath.Join(dir, sidecar)) // first: from now on it is not listed
	if audio != "" && filepath.Base(audio) == audio {
		_ = os.Remove(filepath.Join(dir, audio))
	}
}

// Keeps reports whether calls like c are archived (Options.Keep).
func (a *Archive) Keeps(c event.Call) bool {
	if len(a.opts.Keep) == 0 {
		return true
	}
	for _, t := range a.opts.Keep {
		if t.Matches(c) {
			return true
		}
	}
	return false
}

// Add archives call c with its audio, read from audio. A call already held
// (same key) is not written again; added reports whether it was new.
func (a *Archive) Add(c event.Call, audio io.Reader) (e Entry, added bool, err error) {
	if c.DateTime <= 0 {
		return Entry{}, false, errors.New("the call has no date and time")
	}
	day := filepath.Join(a.dir, dayOf(c.DateTime))
	if err := os.MkdirAll(day, 0o700); err != nil {
		return Entry{}, false, fmt.Errorf("create the archive's day directory: %w", err)
	}
	tmp, sum, size, head, err := writeTemp(day, audio)
	if err != nil {
		return Entry{}, false, err
	}
	defer os.Remove(tmp) // no-op after the rename
	format := media.Sniff(head)
	ext := format.Ext()
	if ext == "" {
		ext = ".bin"
	}
	key := Key(a.opts.Server, c, sum)
	base := baseName(c, key)
	// How the call reached this relay (its local URL, inline audio, a
	// backfill) is not part of it.
	c.AudioURL, c.InlineAudio, c.Backfill = "", nil, false
	e = Entry{
		Version: formatVersion, Key: key, Server: a.opts.Server, Call: c,
		Audio:      AudioFile{File: base + ext, Format: format.String(), Size: size, SHA256: hex.EncodeToString(sum)},
		ArchivedAt: a.now().UTC(), dir: day,
	}
	if old, _, err := readEntry(day, base+sidecarExt); err == nil {
		return old, false, nil
	}
	if err := os.Rename(tmp, e.AudioPath()); err != nil {
		return Entry{}, false, fmt.Errorf("archive the call's audio: %w", err)
	}
	sidecarSize, err := writeSidecar(day, base+sidecarExt, e)
	if err != nil {
		_ = os.Remove(e.AudioPath())
		return Entry{}, false, err
	}
	syncDir(day)
	a.mu.Lock()
	a.days[filepath.Base(day)] += size + sidecarSize
	a.total += size + sidecarSize
	a.count++
	over := a.opts.MaxBytes > 0 && a.total > a.opts.MaxBytes
	a.mu.Unlock()
	if over {
		if err := a.Prune(); err != nil {
			a.log.Warn("pruning the archive failed", "err", err)
		}
	}
	return e, true, nil
}

// writeTemp copies audio into a temporary file in dir, synced, and returns
// its path, SHA-256, size and first bytes.
func writeTemp(dir string, audio io.Reader) (path string, sum []byte, size int64, head []byte, err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return "", nil, 0, nil, fmt.Errorf("archive the call's audio: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	hw := &headWriter{h: h, max: media.SniffLen}
	size, err = io.Copy(io.MultiWriter(f, hw), io.LimitReader(audio, MaxAudioBytes+1))
	switch {
	case err != nil:
		return "", nil, 0, nil, fmt.Errorf("archive the call's audio: %w", err)
	case size > MaxAudioBytes:
		return "", nil, 0, nil, ErrTooLarge
	case size == 0:
		return "", nil, 0, nil, errors.New("the call's audio is empty")
	}
	if err = f.Sync(); err != nil {
		return "", nil, 0, nil, fmt.Errorf("archive the call's audio: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", nil, 0, nil, fmt.Errorf("archive the call's audio: %w", err)
	}
	return f.Name(), h.Sum(nil), size, hw.head, nil
}

// headWriter hashes everything and keeps the first max bytes.
type headWriter struct {
	h    hash.Hash
	max  int
	head []byte
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	return w.h.Write(p)
}

// writeSidecar writes e as dir/name through a synced temporary file and
// returns its size.
func writeSidecar(dir, name string, e Entry) (int64, error) {
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return 0, err
	}
	data = append(data, '\n')
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("archive the call's details: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return 0, fmt.Errorf("archive the call's details: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("archive the call's details: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("archive the call's details: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return 0, fmt.Errorf("archive the call's details: %w", err)
	}
	return int64(len(data)), nil
}

// syncDir makes the renames in dir durable (best effort: not every
// platform can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// SetTranscript records a transcript that arrived after its call was
// archived, rewriting the entry's sidecar atomically.
func (a *Archive) SetTranscript(e Entry, text string) (Entry, error) {
	cur, oldSize, err := readEntry(e.dir, strings.TrimSuffix(e.Audio.File, filepath.Ext(e.Audio.File))+sidecarExt)
	if err != nil {
		return e, fmt.Errorf("the archived call is gone: %w", err)
	}
	cur.Call.Transcript = text
	size, err := writeSidecar(cur.dir, strings.TrimSuffix(cur.Audio.File, filepath.Ext(cur.Audio.File))+sidecarExt, cur)
	if err != nil {
		return e, err
	}
	syncDir(cur.dir)
	delta := size + cur.Audio.Size - oldSize
	a.mu.Lock()
	a.days[filepath.Base(cur.dir)] += delta
	a.total += delta
	a.mu.Unlock()
	return cur, nil
}

// Prune drops the calls older than MaxAge and, oldest first, those over
// MaxBytes.
func (a *Archive) Prune() error {
	a.mu.Lock()
	days := make([]string, 0, len(a.days))
	for d := range a.days {
		days = append(days, d)
	}
	a.mu.Unlock()
	slices.Sort(days)
	var cutoff int64
	if a.opts.MaxAge > 0 {
		cutoff = a.now().Add(-a.opts.MaxAge).Unix()
	}
	for _, day := range days {
		a.mu.Lock()
		over := a.opts.MaxBytes > 0 && a.total > a.opts.MaxBytes
		a.mu.Unlock()
		old := cutoff > 0 && dayOf(cutoff) >= day
		if !over && !old {
			return nil
		}
		if err := a.pruneDay(day, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// pruneDay removes the day's entries, oldest first, while they are older
// than cutoff (unix seconds; 0: none is too old) or the archive is over
// its size.
func (a *Archive) pruneDay(day string, cutoff int64) error {
	dir := filepath.Join(a.dir, day)
	files, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prune the archive: %w", err)
	}
	var entries []Entry
	sizes := make(map[string]int64)
	for _, f := range files {
		if name := f.Name(); strings.HasSuffix(name, sidecarExt) && !strings.HasPrefix(name, tmpPrefix) {
			if e, size, err := readEntry(dir, name); err == nil {
				entries = append(entries, e)
				sizes[e.Key] = size
			}
		}
	}
	slices.SortFunc(entries, func(x, y Entry) int { return cmp.Compare(x.Call.DateTime, y.Call.DateTime) })
	removed := 0
	for _, e := range entries {
		a.mu.Lock()
		over := a.opts.MaxBytes > 0 && a.total > a.opts.MaxBytes
		a.mu.Unlock()
		if !over && (cutoff == 0 || e.Call.DateTime >= cutoff) {
			break
		}
		a.remove(dir, strings.TrimSuffix(e.Audio.File, filepath.Ext(e.Audio.File))+sidecarExt, e.Audio.File)
		removed++
		a.mu.Lock()
		a.days[day] -= sizes[e.Key]
		a.total -= sizes[e.Key]
		a.count--
		a.mu.Unlock()
	}
	a.mu.Lock()
	if removed == len(entries) {
		a.total -= a.days[day] // what was not accounted (entries gone meanwhile)
		delete(a.days, day)
		a.mu.Unlock()
		_ = os.Remove(dir)
		return nil
	}
	a.mu.Unlock()
	return nil
}

// Find lists the entries of server in the archive under root whose call
// time is in [from, to), oldest first, picked by q. It changes nothing,
// and skips (without failing) entries that do not check out.
func Find(root, server string, from, to time.Time, q filter.Query) ([]Entry, error) {
	dir := ServerDir(root, server)
	days, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	first, last := dayOf(from.Unix()), dayOf(to.Unix())
	var out []Entry
	for _, d := range days {
		if !d.IsDir() || d.Name() < first || d.Name() > last {
			continue
		}
		dayDir := filepath.Join(dir, d.Name())
		files, err := os.ReadDir(dayDir)
		if err != nil {
			continue // pruned meanwhile
		}
		for _, f := range files {
			name := f.Name()
			if !strings.HasSuffix(name, sidecarExt) || strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			e, _, err := readEntry(dayDir, name)
			if err != nil || e.Server != server {
				continue
			}
			if t := e.Call.DateTime; t < from.Unix() || t >= to.Unix() || !q.Allows(e.Call) {
				continue
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y Entry) int {
		return cmp.Or(cmp.Compare(x.Call.DateTime, y.Call.DateTime), cmp.Compare(x.Key, y.Key))
	})
	return out, nil
}
