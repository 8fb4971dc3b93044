package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"earshot/relay/audio"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/proc"
)

// The stream's format: MPEG-1 Layer III, mono, constant bitrate. 44.1 kHz
// is the rate every MP3 player and smart speaker takes; 64 kbit/s is
// plenty for radio voice.
const (
	SampleRate = 44100
	Bitrate    = 64 // kbit/s
)

// Source is what a station needs of the relay core.
type Source interface {
	Subscribe(queueLen int) *hub.Subscriber
	Audio(ctx context.Context, id int64) (*cache.Entry, error)
}

// Chunk is a run of whole MP3 frames of a stream, all carrying one call
// (or the silence after it). Chunks are shared by every listener of a
// station: never modify Data.
type Chunk struct {
	Data []byte
	// Title is the ICY title of the call the frames carry (Title), or ""
	// before the first call.
	Title string
}

// Errors a listener can end with (Listener.Err) or Join can return.
var (
	// ErrNoEncoder: ffmpeg is not installed, or cannot encode MP3 (no
	// libmp3lame). Install ffmpeg and try again; no restart is needed.
	ErrNoEncoder = errors.New("the MP3 stream needs ffmpeg with libmp3lame")
	// ErrSlowListener: the listener did not take the stream as fast as it
	// plays and its queue filled up, so it was dropped.
	ErrSlowListener = errors.New("listener too slow: its stream queue filled up")
	// ErrEncoderFailed: the encoder process kept dying; the station
	// stopped. A new request starts it again.
	ErrEncoderFailed = errors.New("the MP3 encoder (ffmpeg) keeps failing")
	// ErrClosed: the listener or the relay closed the stream.
	ErrClosed = errors.New("stream closed")
)

// Options configure Streams.
type Options struct {
	Source Source
	Logger *slog.Logger
	// FFmpeg is the path of ffmpeg, for encoding and for decoding calls
	// Go cannot; "" looks "ffmpeg" up in PATH at each use.
	FFmpeg string
	// Gap is the silence between two calls played back to back; 0 means
	// DefaultGap.
	Gap time.Duration
}

// DefaultGap keeps back-to-back calls apart, as a scanner does.
const DefaultGap = 400 * time.Millisecond

// Streams is the set of running stations, one per distinct filter. Its
// methods are safe for concurrent use.
type Streams struct {
	opts Options
	log  *slog.Logger
	dec  audio.Decoder
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	queueLen int // listenerQueue; tests shorten it

	mu       sync.Mutex
	stations map[string]*station
	closed   bool
	checked  encoderCheck // the last ffmpeg found able to encode MP3
}

// encoderCheck remembers one ffmpeg binary that was found to have
// libmp3lame, so the check (a process start) runs once per binary.
type encoderCheck struct {
	path    string
	modTime time.Time
}

// New returns an empty set of stations. Close stops them.
func New(opts Options) *Streams {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Gap <= 0 {
		opts.Gap = DefaultGap
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Streams{
		opts: opts, log: log, dec: audio.Decoder{FFmpeg: opts.FFmpeg},
		ctx: ctx, stop: stop, stations: make(map[string]*station), queueLen: listenerQueue,
	}
}

// Close stops every station and ends every listener (ErrClosed), and waits
// for their encoders to exit. It may be called more than once.
func (s *Streams) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
}

// Stations is how many stations (encoders) are running.
func (s *Streams) Stations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stations)
}

// Listeners is how many listeners all stations have.
func (s *Streams) Listeners() int {
	s.mu.Lock()
	stations := make([]*station, 0, len(s.stations))
	for _, st := range s.stations {
		stations = append(stations, st)
	}
	s.mu.Unlock()
	n := 0
	for _, st := range stations {
		n += st.listenerCount()
	}
	return n
}

// Join adds a listener to the station of key, starting it (with allows as
// its filter) if none runs. Every Join with one key must pass a filter
// that picks the same calls. onDrop, if not nil, runs when the station
// drops the listener (too slow, encoder failed, relay closing), from the
// station's goroutine: it must not block (it is meant to cut a write in
// progress). It returns ErrNoEncoder, wrapped with what to do, when ffmpeg
// cannot encode MP3.
func (s *Streams) Join(key string, allows func(event.Call, time.Time) bool, onDrop func()) (*Listener, error) {
	ffmpeg, err := s.encoderPath()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	st, ok := s.stations[key]
	if !ok {
		st = newStation(s, key, allows, ffmpeg)
		s.stations[key] = st
		s.wg.Go(st.run)
	}
	l := &Listener{st: st, ch: make(chan Chunk, s.queueLen), onDrop: onDrop}
	st.add(l)
	return l, nil
}

// CanEncode returns nil when a stream could start now, else ErrNoEncoder
// wrapped with what to do.
func (s *Streams) CanEncode() error {
	_, err := s.encoderPath()
	return err
}

// leave removes l; the last listener to leave stops its station.
func (s *Streams) leave(l *Listener) {
	st := l.st
	s.mu.Lock()
	last := st.remove(l)
	if last && s.stations[st.key] == st {
		delete(s.stations, st.key)
	}
	s.mu.Unlock()
	if last {
		st.cancel() // Close waits for it; the listener need not
	}
}

// retire removes a failed station so the next Join starts a new one.
func (s *Streams) retire(st *station) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stations[st.key] == st {
		delete(s.stations, st.key)
	}
}

// encoderPath finds an ffmpeg that can encode MP3, or says what is missing.
func (s *Streams) encoderPath() (string, error) {
	path := s.opts.FFmpeg
	if path == "" {
		p, err := exec.LookPath("ffmpeg")
		if err != nil {
			return "", fmt.Errorf("%w: ffmpeg is not installed (install the \"ffmpeg\" package; no restart is needed)", ErrNoEncoder)
		}
		path = p
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: ffmpeg is not at %s: %w", ErrNoEncoder, path, err)
	}
	s.mu.Lock()
	known := s.checked.path == path && s.checked.modTime.Equal(info.ModTime())
	s.mu.Unlock()
	if known {
		return path, nil
	}
	// Generous: a first ffmpeg start on a busy machine loads a hundred
	// libraries from a cold disk, and a refusal here is "no ffmpeg" (503).
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	probe := exec.CommandContext(ctx, path, "-hide_banner", "-nostdin", "-encoders")
	proc.Background(probe)
	out, err := probe.Output()
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("%w: ffmpeg at %s cannot be run: %w", ErrNoEncoder, path, err)
	case err != nil:
		return "", fmt.Errorf("%w: asking ffmpeg at %s for its encoders failed: %w", ErrNoEncoder, path, err)
	case !bytes.Contains(out, []byte(" libmp3lame ")):
		return "", fmt.Errorf("%w: the ffmpeg at %s was built without libmp3lame (install a full ffmpeg package)", ErrNoEncoder, path)
	}
	s.mu.Lock()
	s.checked = encoderCheck{path: path, modTime: info.ModTime()}
	s.mu.Unlock()
	return path, nil
}

// listenerQueue bounds a listener's backlog, in chunks (about a frame, 26
// ms, each): a listener this far behind is dropped.
const listenerQueue = 256

// Listener is one client of a station.
type Listener struct {
	st     *station
	ch     chan Chunk
	onDrop func()
	err    error // set under st.mu before ch is closed
	left   sync.Once
}

// Chunks delivers the stream: first about a second of what just played
// (so a player can start at once), then each chunk as it is encoded. It is
// closed when the listener is dropped or closed; Err then says why.
func (l *Listener) Chunks() <-chan Chunk { return l.ch }

// Err is nil while the listener is live, then why it ended.
func (l *Listener) Err() error {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	return l.err
}

// Close leaves the station (stopping it, without waiting, if l was its
// last listener). It is safe to call more than once.
func (l *Listener) Close() { l.left.Do(func() { l.st.streams.leave(l) }) }
