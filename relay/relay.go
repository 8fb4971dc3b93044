// Package relay is the relay core: it runs the OpenScanner backend session,
// keeps the recent calls, prefetches their audio into the on-disk cache,
// measures each call's loudness there (levels.go) and fans events out to
// local consumers.
//
// Its Go API (Subscribe, Calls, Call, Search, Audio, Status, Catalog,
// SetAlertRules) is the one both the
// loopback HTTP server (relay/server) and the desktop UI use, so the two can
// never disagree about what the feed holds. It must not import any GUI
// package, and it never talks HTTP to local consumers itself.
package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
)

// Backend is what the relay needs of the OpenScanner session
// (relay/backend.Session implements it; tests fake it).
type Backend interface {
	// Run keeps the live feed up and calls emit with every event, calls in
	// id order, until ctx ends or the session cannot continue.
	Run(ctx context.Context, emit func(event.Event)) error
	// FetchAudio writes a call's audio to w and returns the server's
	// declared content type.
	FetchAudio(ctx context.Context, call event.Call, w io.Writer) (string, error)
	Status() event.Status
}

// Errors returned by Audio. The HTTP server maps them to status codes.
var (
	// ErrNotFound: the call is unknown or its audio is not available to
	// this account (the server answered 404).
	ErrNotFound = errors.New("call not found")
	// ErrUnavailable: the audio is not cached and the server cannot be
	// reached right now.
	ErrUnavailable = errors.New("the OpenScanner server is unreachable and this call's audio is not cached")
	// ErrTooLarge: the call's audio is larger than Earshot takes; it is
	// not downloaded again.
	ErrTooLarge = errors.New("this call's audio is larger than Earshot takes")
)

// Options configure a Relay.
type Options struct {
	Backend Backend
	Cache   *cache.Cache
	Logger  *slog.Logger
	// RecentCalls is how many calls are kept in memory for Calls and for
	// consumers that resume or catch up; 0 means DefaultRecentCalls.
	RecentCalls int
	// Prefetchers is how many audio downloads run at once; 0 means 4.
	Prefetchers int
	// Measurers is how many calls' loudness is measured at once; 0 means
	// half the processors (at least one).
	Measurers int
	// FFmpeg is the path of ffmpeg, for measuring calls Go cannot decode;
	// "" looks "ffmpeg" up in PATH at each use.
	FFmpeg string
	// AlertRules are the listener's alert rules (see SetAlertRules).
	AlertRules []alerts.Rule
	// IsUnavailable reports whether a FetchAudio error means the call's audio
	// is not available to this account (never worth retrying), as opposed to
	// a passing network failure. nil treats every error as passing.
	IsUnavailable func(error) bool
	// OutliveSession keeps Run going when the backend session stops for
	// good (the server refused the stored sign-in): the relay keeps serving
	// what it holds, reports the stop in Status, and waits for Swap. The
	// tray app wants that; `earshot relay` ends instead.
	OutliveSession bool
	// IsTooLarge reports whether a FetchAudio error means the audio is
	// larger than the backend takes (never worth downloading again). A
	// fetch larger than one cache entry may hold is always that. nil
	// means only the cache's own limit.
	IsTooLarge func(error) bool
}

// Relay is the running relay core. Create it with New and start it with Run.
type Relay struct {
	hub            *hub.Hub
	log            *slog.Logger
	isUnavailable  func(error) bool
	isTooLarge     func(error) bool
	prefetch       chan prefetchItem
	outlive        bool
	swapped        chan struct{} // a Swap wakes Run
	prefetchers    int
	levels         *levels
	measurers      int
	prefetchPauses []time.Duration // tests shorten them

	// swapMu orders Swap's reset against events being published, so no
	// event of the old session reaches a subscriber after the reset.
	swapMu sync.Mutex

	mu          sync.Mutex
	backend     Backend      // the account's session; Swap replaces it
	cache       *cache.Cache // its audio cache
	gen         uint64       // bumped by Swap: events of older sessions are dropped
	recent      []event.Call // ring of the newest calls, oldest first
	maxRecent   int
	byID        map[int64]int   // call id → index into recent (rebuilt lazily)
	unavailable map[int64]error // what to answer for calls not to be fetched again
	unavailList []int64         // FIFO to bound unavailable
	lastStatus  event.Status
	catalog     event.Catalog // the relay's own copy; never handed out
	alerts      *alerts.Engine
	// found are calls a search brought from the server's history, so
	// that Call (and an audio download's file name) knows them too.
	found     map[int64]event.Call
	foundList []int64       // FIFO to bound found
	searches  chan struct{} // semaphore: searches reading the server's history
	// nextHistory is when the next history page may be asked for;
	// historyGap spaces them (tests shorten it).
	nextHistory time.Time
	historyGap  time.Duration

	callsReceived    atomic.Int64
	prefetchFailures atomic.Int64
	started          time.Time
}

// prefetchItem is a call whose audio to prefetch, with the generation of
// the session it came from (a swapped-out session's calls are not
// fetched).
type prefetchItem struct {
	call event.Call
	gen  uint64
}

// DefaultRecentCalls is how many calls the relay holds by default: enough
// for a consumer that fell behind a burst of thousands of calls (a backfill
// after a long outage) to catch up from memory (a few hundred bytes each).
const DefaultRecentCalls = 4096

// maxUnavailable bounds the memory of calls the server refused (404).
const maxUnavailable = 4096

// New returns a relay core for opts. It starts nothing: call Run.
func New(opts Options) (*Relay, error) {
	if opts.Backend == nil {
		return nil, errors.New("relay: no backend session configured")
	}
	if opts.Cache == nil {
		return nil, errors.New("relay: no audio cache configured")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.RecentCalls <= 0 {
		opts.RecentCalls = DefaultRecentCalls
	}
	if opts.Prefetchers <= 0 {
		opts.Prefetchers = 4
	}
	if opts.Measurers <= 0 {
		opts.Measurers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	isUnavailable := opts.IsUnavailable
	if isUnavailable == nil {
		isUnavailable = func(error) bool { return false }
	}
	rules, err := alerts.NewEngine(opts.AlertRules)
	if err != nil {
		return nil, fmt.Errorf("relay: alert rules: %w", err)
	}
	isTooLarge := opts.IsTooLarge
	if isTooLarge == nil {
		isTooLarge = func(error) bool { return false }
	}
	return &Relay{
		alerts:         rules,
		backend:        opts.Backend,
		isTooLarge:     isTooLarge,
		cache:          opts.Cache,
		hub:            hub.New(log),
		log:            log,
		isUnavailable:  isUnavailable,
		prefetch:       make(chan prefetchItem, 1024),
		outlive:        opts.OutliveSession,
		swapped:        make(chan struct{}, 1),
		prefetchers:    opts.Prefetchers,
		levels:         newLevels(measureDecoder(opts.FFmpeg), log.With("part", "loudness")),
		measurers:      opts.Measurers,
		prefetchPauses: prefetchPauses(),
		maxRecent:      opts.RecentCalls,
		byID:           make(map[int64]int),
		unavailable:    make(map[int64]error),
		found:          make(map[int64]event.Call),
		searches:       make(chan struct{}, maxSearches),
		historyGap:     historyGap,
		lastStatus:     opts.Backend.Status(),
		started:        time.Now(),
	}, nil
}

// Run runs the backend session and the audio prefetchers until ctx ends or
// the session stops for good (for instance when the server refuses the
// stored sign-in; with OutliveSession it then waits for Swap instead).
// Swap replaces the session without ending Run. Subscribers are closed
// when Run returns.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range r.prefetchers {
		wg.Go(func() { r.prefetchLoop(ctx) })
	}
	for range r.measurers {
		wg.Go(func() { r.levels.run(ctx) })
	}
	defer wg.Wait()
	defer r.hub.Close()
	for {
		r.mu.Lock()
		b, gen := r.backend, r.gen
		r.mu.Unlock()
		sessCtx, stop := context.WithCancel(ctx)
		ended := make(chan error, 1)
		go func() { ended <- b.Run(sessCtx, func(e event.Event) { r.handleFrom(gen, e) }) }()
		var err error
		select {
		case err = <-ended:
		case <-r.swapped:
			stop()
			<-ended
			err = errSwapped
		}
		stop()
		switch {
		case ctx.Err() != nil:
			cancel()
			r.handleFrom(gen, event.Event{Type: event.TypeStatus, Status: &event.Status{
				State: event.StateStopped, Since: time.Now(), Reason: stopReason(nil),
			}})
			return nil
		case errors.Is(err, errSwapped) || r.generation() != gen:
			if !errors.Is(err, errSwapped) {
				select { // the wake-up is for this swap, already seen
				case <-r.swapped:
				default:
				}
			}
			continue // the next account's session
		}
		// The session stopped for good.
		r.handleFrom(gen, event.Event{Type: event.TypeStatus, Status: &event.Status{
			State: stoppedState(b), Since: time.Now(), Reason: stopReason(err),
		}})
		if !r.outlive {
			cancel()
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.swapped:
		}
	}
}

// errSwapped ends a session that Swap replaced.
var errSwapped = errors.New("replaced by another account's session")

// stoppedState is the state a session that ended for good leaves: signed
// out when the backend says so, else stopped.
func stoppedState(b Backend) string {
	if b.Status().State == event.StateSignedOut {
		return event.StateSignedOut
	}
	return event.StateStopped
}

func (r *Relay) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// Swap puts another account's session (and its audio cache) behind the
// relay without ending Run or closing any subscription: the held calls
// and catalogue are dropped, and every subscriber gets a TypeReset event
// with the reason (event.ResetAccount) so it reloads what it shows. The
// old session is stopped; the caller closes the old cache once Swap
// returns (audio being fetched for the old account then fails).
func (r *Relay) Swap(b Backend, c *cache.Cache, reason string) {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	r.mu.Lock()
	r.gen++
	r.backend, r.cache = b, c
	r.recent = r.recent[:0]
	clear(r.byID)
	clear(r.unavailable)
	r.unavailList = r.unavailList[:0]
	clear(r.found)
	r.foundList = r.foundList[:0]
	r.catalog = event.Catalog{}
	r.lastStatus = b.Status()
	st := r.lastStatus
	r.mu.Unlock()
	select {
	case r.swapped <- struct{}{}:
	default:
	}
	r.hub.Publish(event.Event{Type: event.TypeReset, Reason: reason})
	r.hub.Publish(event.Event{Type: event.TypeStatus, Status: &st})
}

func stopReason(err error) string {
	if err == nil || errors.Is(err, context.Canceled) {
		return "relay shut down"
	}
	return err.Error()
}

// handleFrom takes one event from the session of generation gen: it
// stores it, publishes it and queues audio prefetch. It runs on the
// session's goroutine, in order. Events of a session Swap replaced are
// dropped (the check and the publish happen under one lock so none slips
// in after the reset).
func (r *Relay) handleFrom(gen uint64, e event.Event) {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	r.mu.Lock()
	current := r.gen == gen
	ca := r.cache
	r.mu.Unlock()
	if !current {
		return
	}
	switch e.Type {
	case event.TypeCall:
		if e.Call == nil {
			return
		}
		c := *e.Call
		c.AudioURL = AudioPath(c.ID)
		inline := c.InlineAudio
		c.InlineAudio = nil
		if len(inline) > 0 {
			// 1.1-and-older servers send the audio inside the frame:
			// cache it before anyone can ask for it.
			if ent, err := ca.Put(cacheKey(c), inline); err != nil {
				r.log.Warn("could not cache inline call audio", "call", c.ID, "err", err)
			} else {
				r.levels.want(ent, false)
			}
		}
		// Rules on talkgroups, and on words when the transcript came with
		// the call (history rows), fire now; the call carries its alerts.
		// A call held already keeps the alerts it has (each rule fires
		// once per call).
		r.mu.Lock()
		if i, held := r.byID[c.ID]; held {
			c.Alerts = r.recent[i].Alerts
		}
		r.mu.Unlock()
		fired := r.alerts.Match(&c)
		c.Alerts = append(c.Alerts[:len(c.Alerts):len(c.Alerts)], fired...)
		r.remember(c)
		r.callsReceived.Add(1)
		e.Call = &c
		r.hub.Publish(e)
		r.publishAlerts(fired)
		if len(inline) == 0 {
			select {
			case r.prefetch <- prefetchItem{c, gen}:
			default:
				// Prefetch is best effort; a consumer's request still
				// fetches on demand.
				r.log.Warn("audio prefetch queue full; call audio will be fetched on demand", "call", c.ID)
			}
		}
	case event.TypeTranscript:
		if e.Transcript == nil {
			return
		}
		r.mu.Lock()
		held, ok := r.byID[e.Transcript.CallID]
		var c event.Call
		if ok {
			r.recent[held].Transcript = e.Transcript.Text
			c = r.recent[held]
		}
		r.mu.Unlock()
		r.hub.Publish(e)
		if ok {
			// Rules on words may fire now that the words are known.
			r.recordAlerts(c.ID, r.alerts.Match(&c))
		}
	case event.TypeStatus:
		if e.Status == nil {
			return
		}
		r.mu.Lock()
		r.lastStatus = *e.Status
		r.mu.Unlock()
		r.hub.Publish(e)
	case event.TypeReset:
		// The server's call ids started again (event.ResetServer): the
		// calls held under the old ones are void. (Cached audio is bound
		// to the call it was fetched for, so a new call under an old id
		// never gets the old call's bytes.)
		r.mu.Lock()
		r.recent = r.recent[:0]
		clear(r.byID)
		clear(r.unavailable)
		r.unavailList = r.unavailList[:0]
		clear(r.found)
		r.foundList = r.foundList[:0]
		r.mu.Unlock()
		r.hub.Publish(e)
	case event.TypeCatalog:
		if e.Catalog == nil {
			return
		}
		// The event's catalog is the backend's copy for consumers; the
		// relay keeps one of its own.
		mine := e.Catalog.Clone()
		r.mu.Lock()
		r.catalog = mine
		r.mu.Unlock()
		r.hub.Publish(e)
	}
}

// Catalog returns the server's systems and talkgroups as last announced
// (the zero Catalog until the server sent its configuration). It is a copy
// the caller may keep and change. Subscribers learn of changes from events
// of type event.TypeCatalog, which carry the new catalog.
func (r *Relay) Catalog() event.Catalog {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.catalog.Clone()
}

// remember appends c to the ring of recent calls.
func (r *Relay) remember(c event.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, dup := r.byID[c.ID]; dup {
		r.recent[i].Alerts = c.Alerts
		return
	}
	if len(r.recent) >= r.maxRecent {
		// Drop the oldest quarter at once so the index is rebuilt rarely.
		drop := max(1, r.maxRecent/4)
		r.recent = append(r.recent[:0], r.recent[drop:]...)
		clear(r.byID)
		for i, old := range r.recent {
			r.byID[old.ID] = i
		}
	}
	r.byID[c.ID] = len(r.recent)
	r.recent = append(r.recent, c)
}

// prefetchPauses are the pauses before the second and later prefetch
// attempts of one call, when the server could not be reached (it may be
// restarting: the live feed backfills, and the audio should follow).
func prefetchPauses() []time.Duration {
	return []time.Duration{time.Second, 4 * time.Second, 15 * time.Second}
}

func (r *Relay) prefetchLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-r.prefetch:
			if it.gen == r.generation() {
				r.prefetchOne(ctx, it.call)
			}
		}
	}
}

// prefetchOne brings call c's audio into the cache, trying again after
// the pauses of prefetchPauses while the server cannot be reached. A call
// the server does not offer (ErrNotFound) is not tried again.
func (r *Relay) prefetchOne(ctx context.Context, c event.Call) {
	pauses := r.prefetchPauses
	for attempt := 0; ; attempt++ {
		e, err := r.audio(ctx, c)
		switch {
		case err == nil:
			r.levels.want(e, false)
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrTooLarge):
			r.prefetchFailures.Add(1)
			return
		case attempt >= len(pauses):
			r.prefetchFailures.Add(1)
			r.log.Warn("audio prefetch failed; will fetch on demand", "call", c.ID, "attempts", attempt+1, "err", err)
			return
		}
		r.log.Debug("audio prefetch failed; trying again", "call", c.ID, "in", pauses[attempt], "err", err)
		t := time.NewTimer(pauses[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// AudioPath is the relay-local URL path of a call's audio.
func AudioPath(id int64) string { return "/v1/calls/" + strconv.FormatInt(id, 10) + "/audio" }

// cacheKey names call c's audio in the cache: its id, bound to the call
// itself — a digest of its time, radio ids, frequency and audio name, the
// parts of the call record that say which call it is (the record gives no
// audio length, and OpenScanner no instance identity). A server reset or
// restored at the same address reuses ids for other calls: their keys
// differ, so the old call's bytes are never served for a new one. Entries
// of the older format (the bare id) match no key: never served, they age
// out of the cache.
func cacheKey(c event.Call) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d\x00%d\x00%d\x00%s", c.DateTime, c.SystemID, c.TalkgroupID, c.Frequency, c.AudioName)
	return strconv.FormatInt(c.ID, 10) + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// unverifiedKey names the audio of a call the relay holds no record of:
// nothing binds it to a call, so it is fetched again at every request and
// only ever serves that request.
func unverifiedKey(id int64) string { return strconv.FormatInt(id, 10) + "-unverified" }

// Subscribe returns a subscription to the live events. queueLen bounds how
// far the subscriber may fall behind before it is dropped.
func (r *Relay) Subscribe(queueLen int) *hub.Subscriber { return r.hub.Subscribe(queueLen) }

// Query selects recent calls. Before and After are call ids (exclusive);
// zero means no bound. Limit 0 means 50; it is capped at the number held.
type Query struct {
	Limit  int
	Before int64
	After  int64
}

// Calls returns recent calls matching q, newest first.
func (r *Relay) Calls(q Query) []event.Call {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]event.Call, 0, min(q.Limit, len(r.recent)))
	for i := len(r.recent) - 1; i >= 0 && len(out) < q.Limit; i-- {
		c := r.recent[i]
		if q.Before != 0 && c.ID >= q.Before {
			continue
		}
		if q.After != 0 && c.ID <= q.After {
			break // ids only go down from here
		}
		out = append(out, c)
	}
	return out
}

// Call returns one call by id: a recent one, or one a search found in
// the server's history lately.
func (r *Relay) Call(id int64) (event.Call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.byID[id]
	if !ok {
		c, found := r.found[id]
		return c, found
	}
	return r.recent[i], true
}

// Audio returns the cached audio of call id, fetching it from the server
// first when it is not cached. Concurrent requests for one call share one
// download. It returns ErrNotFound or ErrUnavailable when it cannot.
//
// The entry's loudness (cache.Entry.Loudness) is usually measured by then;
// if not, its measurement goes first (Measured says when it is done).
func (r *Relay) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	if id <= 0 {
		return nil, ErrNotFound
	}
	var e *cache.Entry
	var err error
	if c, ok := r.Call(id); ok {
		e, err = r.audio(ctx, c)
	} else {
		// Older than the calls held in memory (or from before a reset):
		// the server may still have it, and the backend needs only the id
		// to fetch it; with no record to bind it to, the cache is not
		// trusted for it.
		e, err = r.fetchUnverified(ctx, event.Call{ID: id})
	}
	if err == nil {
		r.levels.want(e, true)
	}
	return e, err
}

// fetchUnverified downloads the audio of a call the relay has no record
// of, afresh, through the cache's single flight.
func (r *Relay) fetchUnverified(ctx context.Context, c event.Call) (*cache.Entry, error) {
	r.mu.Lock()
	refused := r.unavailable[c.ID]
	b, ca := r.backend, r.cache
	r.mu.Unlock()
	if refused != nil {
		return nil, refused
	}
	e, err := ca.Refill(ctx, unverifiedKey(c.ID), func(ctx context.Context, w io.Writer) error {
		_, err := b.FetchAudio(ctx, c, w)
		return err
	})
	return e, r.audioErr(ctx, c, err)
}

func (r *Relay) audio(ctx context.Context, c event.Call) (*cache.Entry, error) {
	key := cacheKey(c)
	r.mu.Lock()
	refused := r.unavailable[c.ID]
	b, ca := r.backend, r.cache
	r.mu.Unlock()
	if e, ok := ca.Lookup(key); ok {
		return e, nil
	}
	if refused != nil {
		return nil, refused
	}
	e, err := ca.Get(ctx, key, func(ctx context.Context, w io.Writer) error {
		_, err := b.FetchAudio(ctx, c, w)
		return err
	})
	return e, r.audioErr(ctx, c, err)
}

// audioErr words a failed download of c's audio (nil stays nil).
func (r *Relay) audioErr(ctx context.Context, c event.Call, err error) error {
	switch {
	case err == nil:
		return nil
	case r.isUnavailable(err):
		err := fmt.Errorf("%w: the server does not offer call %d to this account", ErrNotFound, c.ID)
		r.markUnavailable(c.ID, err)
		r.log.Info("call audio is not available to this account", "call", c.ID)
		return err
	case errors.Is(err, cache.ErrTooLarge) || r.isTooLarge(err):
		err := fmt.Errorf("%w: call %d: %w", ErrTooLarge, c.ID, err)
		r.markUnavailable(c.ID, err)
		r.log.Warn("call audio is too large to take; it is not downloaded again", "call", c.ID, "err", err)
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// markUnavailable remembers that call id's audio is not to be fetched
// again, and the error to answer instead.
func (r *Relay) markUnavailable(id int64, answer error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unavailable[id] != nil {
		return
	}
	if len(r.unavailList) >= maxUnavailable {
		delete(r.unavailable, r.unavailList[0])
		r.unavailList = r.unavailList[1:]
	}
	r.unavailable[id] = answer
	r.unavailList = append(r.unavailList, id)
}

// Report is a snapshot of what the relay is doing. It holds no secrets.
type Report struct {
	Backend          event.Status `json:"backend"`
	Consumers        int          `json:"consumers"`
	CallsReceived    int64        `json:"callsReceived"`
	CallsHeld        int          `json:"callsHeld"`
	PrefetchFailures int64        `json:"prefetchFailures"`
	Uptime           string       `json:"uptime"`
}

// Status reports the backend state and the relay's counters.
func (r *Relay) Status() Report {
	r.mu.Lock()
	st, held := r.lastStatus, len(r.recent)
	r.mu.Unlock()
	return Report{
		Backend:          st,
		Consumers:        r.hub.Subscribers(),
		CallsReceived:    r.callsReceived.Load(),
		CallsHeld:        held,
		PrefetchFailures: r.prefetchFailures.Load(),
		Uptime:           time.Since(r.started).Round(time.Second).String(),
	}
}
