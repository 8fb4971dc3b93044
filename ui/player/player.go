package player

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"earshot/relay/audio"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/media"
)

// AudioSource gives the cached audio file of a call; *relay.Relay is one.
type AudioSource interface {
	Audio(ctx context.Context, id int64) (*cache.Entry, error)
}

// Options configure a Player.
type Options struct {
	// Audio fetches call audio (the relay core). Required.
	Audio AudioSource
	// Output plays the PCM (an OtoOutput in the app). Required.
	Output Output
	// FFmpeg is the path of ffmpeg; "" looks it up in PATH when needed.
	FFmpeg string
	// Logger receives the player's log lines; nil discards them.
	Logger *slog.Logger
	// Now tells the time for hold and avoid expiry; nil means time.Now.
	Now func() time.Time
	// MaxQueue bounds the calls waiting to play; past it the oldest live
	// call is dropped (a backlog of stale calls is worse than missing one).
	// 0 means 100.
	MaxQueue int
	// Tick is how often State is re-sent while a call plays (for the
	// position) and the device's health is checked; 0 means 250 ms.
	Tick time.Duration
	// SuspendAfter is how long the output may sit idle (nothing queued or
	// playing, or paused) before the player suspends it, if it is a
	// Suspender; 0 means 2 s.
	SuspendAfter time.Duration
	// Gain, if set, decides the gain of each call from its measured
	// loudness (levelling, per-talkgroup volume; attention.go), as the
	// cache entry the AudioSource gives keeps it; it never delays a call.
	// nil plays calls as recorded.
	Gain GainFunc
}

// State is what the window and tray show. It is a snapshot: every field is
// a copy.
type State struct {
	// Call is the call playing now, or nil.
	Call *event.Call
	// Replay is how many calls back the playing call is, when it was started
	// by Replay (1 = the latest), else 0.
	Replay int
	// Position is how much of the call has been handed to the sound device;
	// Duration is its length (from the decoder, else from the call's
	// metadata; 0 when unknown).
	Position, Duration time.Duration
	Paused             bool
	Live               bool
	Muted              bool
	Volume             float64 // 0..1
	// Queue is how many calls wait to play.
	Queue int
	// Device is "" while the sound device works, else what is wrong with it,
	// worded for the listener. Calls still arrive and queue meanwhile.
	Device string
	// FFmpegMissing is set once a call needed ffmpeg and it was not
	// installed; it clears when ffmpeg decodes a call.
	FFmpegMissing bool
	// LastError is the most recent problem with a call, for the listener
	// ("" if none).
	LastError string
	// Filter is the filter applied to live calls (a copy); it changes when
	// a hold or avoid expires, too.
	Filter Filter
}

// Player plays calls one at a time, in order. Create it with New, start it
// with Run; every other method is safe to call from any goroutine, before
// or during Run.
type Player struct {
	audio    AudioSource
	out      Output
	dec      Decoder
	log      *slog.Logger
	now      func() time.Time
	rate     int
	maxQueue int
	tick     time.Duration
	idleFor  time.Duration // SuspendAfter
	gain     GainFunc

	wake  chan struct{} // to Run: state changed
	fetch chan struct{} // to the prefetcher: the queue's head may need decoding
	// watchers wait for the measurement of calls that started with a
	// provisional gain (attention.go); each ends with its track.
	watchers sync.WaitGroup

	// readMu serialises feed.Read: the playing stream is read outside mu
	// and must never be read by two goroutines at once, whatever the
	// Output does.
	readMu sync.Mutex

	mu       sync.Mutex
	cond     *sync.Cond // the feeder waits on it for something to play
	onChange func(State)
	started  bool
	stopped  bool
	dirty    bool
	toClose  []*track // closed by unlock, outside the lock

	live, paused, muted bool
	volume              float64
	filter              Filter

	queue      []*entry
	next       *track // decoded ahead for queue[0]; nil while not ready
	prepEntry  *entry // entry the prefetcher is opening
	prepCancel context.CancelFunc
	cur        *track // playing; only the feeder sets it
	skip       bool   // feeder: drop cur at the next read
	lastGain   int32  // feeder: gain (Q15) at the end of the last buffer handed out
	fadeFrames int    // length of de-click ramps; 0 turns them off (tests)
	history    []event.Call
	replayPos  int // index in history of the call Replay last chose; -1 none

	// callsStarted counts the calls the feeder has started, so the idle
	// check sees a call that began and ended between two of its looks.
	callsStarted uint64

	device        string
	ffmpegMissing bool
	lastErr       string
	problems      map[int64]string
	problemOrder  []int64
}

// entry is one queued call.
type entry struct {
	call event.Call
	// user: queued by Play or Replay; plays before live calls and is not
	// subject to the filter.
	user bool
	// replay: how many calls back, for Replay; 0 otherwise.
	replay int
	// tone: the alert tone plays before the call. requeued: an
	// interruption cut it short and it plays again (it is in history).
	tone, requeued bool
}

// track is a call opened and decoded for playing.
type track struct {
	e      *entry
	stream *Stream
	file   *os.File
	pos    int64              // frames handed to the output
	stop   context.CancelFunc // ends what waits on the track's behalf
	level  *level             // the call's gain, when levelled
	ent    *cache.Entry       // the call's cached audio (its measurement)
}

func (t *track) close() {
	t.stop()
	_ = t.stream.Close()
	_ = t.file.Close()
}

const (
	maxReplay   = 5                    // Replay reaches back this many calls
	fadeTime    = 5 * time.Millisecond // de-click ramp on pause, skip and volume changes
	maxProblems = 500                  // per-call problems remembered for CallProblem
	sniffBytes  = 512                  // head of a file given to media.Sniff
)

// New returns a stopped player; call Run to start it. It starts live, not
// paused, at full volume.
func New(opts Options) (*Player, error) {
	if opts.Audio == nil {
		return nil, errors.New("player: no audio source configured")
	}
	if opts.Output == nil {
		return nil, errors.New("player: no audio output configured")
	}
	rate := opts.Output.SampleRate()
	if rate < audio.MinRate || rate > audio.MaxRate {
		return nil, fmt.Errorf("player: output sample rate %d Hz is out of range", rate)
	}
	p := &Player{
		audio:      opts.Audio,
		out:        opts.Output,
		dec:        Decoder{FFmpeg: opts.FFmpeg},
		log:        opts.Logger,
		now:        opts.Now,
		rate:       rate,
		maxQueue:   opts.MaxQueue,
		tick:       opts.Tick,
		idleFor:    opts.SuspendAfter,
		gain:       opts.Gain,
		wake:       make(chan struct{}, 1),
		fetch:      make(chan struct{}, 1),
		live:       true,
		volume:     1,
		lastGain:   unityGain,
		fadeFrames: int(int64(rate) * int64(fadeTime) / int64(time.Second)),
		replayPos:  -1,
		problems:   make(map[int64]string),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.maxQueue <= 0 {
		p.maxQueue = 100
	}
	if p.tick <= 0 {
		p.tick = 250 * time.Millisecond
	}
	if p.idleFor <= 0 {
		p.idleFor = 2 * time.Second
	}
	p.cond = sync.NewCond(&p.mu)
	return p, nil
}

// OnChange sets the function called with a fresh State after every change
// (and periodically while a call plays). It is called from the player's
// own goroutine, never concurrently with itself; it must not block for long
// (the UI wraps its work in fyne.Do).
func (p *Player) OnChange(fn func(State)) {
	p.mu.Lock()
	defer p.unlock()
	p.onChange = fn
	p.changedLocked()
}

// Run starts the output and plays until ctx ends; it returns ctx.Err(). A
// missing or failing sound device does not end it: the problem shows in
// State.Device and calls keep queueing (up to MaxQueue).
func (p *Player) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("player: Run called twice")
	}
	p.started = true
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { p.prefetchLoop(ctx) })
	p.kickFetch()

	if err := p.out.Start(ctx, feed{p}); err != nil {
		p.setDevice(err)
	}
	timer := time.NewTimer(p.tick)
	defer timer.Stop()
	dev := deviceIdle{s: suspenderOf(p.out)}
	for {
		p.emit()
		dev.update(p)
		timer.Reset(p.nextTick(dev.suspended))
		select {
		case <-ctx.Done():
			p.shutdown()
			wg.Wait()
			p.watchers.Wait()
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
			p.periodic()
		}
	}
}

// idleTickMax bounds the wait between periodic checks while the device is
// suspended: timers do not count a suspended computer's sleep, and a hold
// that ended during it lifts within this once it wakes.
const idleTickMax = time.Minute

// nextTick is how long Run waits for the next periodic check: the tick
// while a call plays or the device is up (the position moves, the device
// is watched); with the device suspended and nothing to play, until the
// next hold or avoid lifts by itself (at most idleTickMax), so an idle
// Earshot does not wake four times a second for nothing.
func (p *Player) nextTick(suspended bool) time.Duration {
	if !suspended {
		return p.tick
	}
	p.mu.Lock()
	var next time.Time
	if h := p.filter.Hold; h != nil && !h.Until.IsZero() {
		next = h.Until
	}
	for _, a := range p.filter.Avoids {
		if !a.Until.IsZero() && (next.IsZero() || a.Until.Before(next)) {
			next = a.Until
		}
	}
	p.mu.Unlock()
	if next.IsZero() {
		return idleTickMax
	}
	return min(idleTickMax, max(p.tick, next.Sub(p.now())))
}

// deviceIdle suspends a Suspender output while nothing plays, so an idle
// Earshot does not keep the sound device (and a CPU core, on devices that
// take data unpaced) busy with silence. Only Run's goroutine uses it.
type deviceIdle struct {
	s         Suspender
	idleSince time.Time
	suspended bool
	callsSeen uint64 // Player.callsStarted at the last look
}

func suspenderOf(o Output) Suspender {
	s, _ := o.(Suspender)
	return s
}

// update resumes the device as soon as there is something to play and
// suspends it after SuspendAfter without.
//
// A call counts even if it started and ended since the last look: the
// output may go on pulling PCM into its own buffer while suspended (oto's
// mixer does), so a short call can be read to its end before Run gets
// here, and its sound waits in that buffer for a Resume.
func (d *deviceIdle) update(p *Player) {
	if d.s == nil {
		return
	}
	p.mu.Lock()
	busy := (!p.paused && (p.cur != nil || len(p.queue) > 0)) || p.callsStarted != d.callsSeen
	d.callsSeen = p.callsStarted
	p.mu.Unlock()
	now := p.now()
	switch {
	case busy:
		d.idleSince = time.Time{}
		if d.suspended {
			if err := d.s.Resume(); err != nil {
				p.setDevice(deviceError(err))
				return
			}
			d.suspended = false
			p.log.Debug("sound device resumed")
		}
	case d.suspended:
	case d.idleSince.IsZero():
		d.idleSince = now
	case now.Sub(d.idleSince) >= p.idleFor:
		if err := d.s.Suspend(); err != nil {
			p.log.Warn("could not suspend the idle sound device", "err", err)
			d.idleSince = now // try again later
			return
		}
		d.suspended = true
		p.log.Debug("sound device suspended while idle")
	}
}

// periodic refreshes the position, drops expired holds and avoids, and
// checks the device.
func (p *Player) periodic() {
	err := p.out.Err()
	p.mu.Lock()
	defer p.unlock()
	if p.cur != nil && !p.paused {
		p.changedLocked()
	}
	if p.filter.Prune(p.now()) {
		p.changedLocked()
	}
	p.setDeviceLocked(err)
}

func (p *Player) setDevice(err error) {
	p.mu.Lock()
	defer p.unlock()
	p.setDeviceLocked(err)
}

func (p *Player) setDeviceLocked(err error) {
	msg := ""
	var de *DeviceError
	switch {
	case errors.As(err, &de):
		msg = de.Summary() // the details go to the log below
	case err != nil:
		msg = err.Error()
	}
	if msg == p.device {
		return
	}
	if err != nil {
		p.log.Error("sound device problem; calls keep arriving but cannot be heard", "err", err)
	} else {
		p.log.Info("sound device working again")
	}
	p.device = msg
	p.changedLocked()
}

func (p *Player) shutdown() {
	p.mu.Lock()
	defer p.unlock()
	p.stopped = true
	if p.prepCancel != nil {
		p.prepCancel()
	}
	if p.next != nil {
		p.toClose = append(p.toClose, p.next)
		p.next = nil
	}
	if p.cur != nil {
		// The feeder may be reading it right now; closing its file and
		// process only makes that read fail, which the feeder ignores
		// once it sees the player stopped.
		p.toClose = append(p.toClose, p.cur)
		p.cur = nil
	}
	p.cond.Broadcast()
	p.changedLocked()
}

// unlock releases p.mu and then closes the tracks queued for closing, so
// file and process teardown never happens under the lock.
func (p *Player) unlock() {
	tc := p.toClose
	p.toClose = nil
	p.mu.Unlock()
	for _, t := range tc {
		t.close()
	}
}

// changedLocked marks the state changed and wakes Run to send it.
func (p *Player) changedLocked() {
	p.dirty = true
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Player) kickFetch() {
	select {
	case p.fetch <- struct{}{}:
	default:
	}
}

func (p *Player) emit() {
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return
	}
	p.dirty = false
	st := p.stateLocked()
	fn := p.onChange
	p.unlock()
	if fn != nil {
		fn(st)
	}
}

// State returns the current state.
func (p *Player) State() State {
	p.mu.Lock()
	defer p.unlock()
	return p.stateLocked()
}

func (p *Player) stateLocked() State {
	st := State{
		Paused:        p.paused,
		Live:          p.live,
		Muted:         p.muted,
		Volume:        p.volume,
		Queue:         len(p.queue),
		Device:        p.device,
		FFmpegMissing: p.ffmpegMissing,
		LastError:     p.lastErr,
		Filter:        p.filter.Clone(),
	}
	if t := p.cur; t != nil {
		c := t.e.call
		st.Call = &c
		st.Replay = t.e.replay
		st.Position = framesToDuration(t.pos, p.rate)
		if t.stream.Frames >= 0 {
			st.Duration = framesToDuration(t.stream.Frames, p.rate)
		} else if c.Duration > 0 {
			st.Duration = time.Duration(c.Duration * float64(time.Second))
		}
	}
	return st
}

func framesToDuration(frames int64, rate int) time.Duration {
	return time.Duration(frames) * time.Second / time.Duration(rate)
}

// Queue returns the calls waiting to play, next first.
func (p *Player) Queue() []event.Call {
	p.mu.Lock()
	defer p.unlock()
	out := make([]event.Call, len(p.queue))
	for i, e := range p.queue {
		out[i] = e.call
	}
	return out
}

// CallProblem returns why a call could not be played ("needs ffmpeg", …),
// or "" if it had no problem (or it was too long ago to remember).
func (p *Player) CallProblem(id int64) string {
	p.mu.Lock()
	defer p.unlock()
	return p.problems[id]
}

// Enqueue queues a live call, unless live is off, the filter keeps it out,
// or it is already queued or playing. It reports whether it was queued.
func (p *Player) Enqueue(c event.Call) bool {
	p.mu.Lock()
	defer p.unlock()
	return p.enqueueLocked(c, -1, false)
}

// setQueueLocked replaces the queue and keeps the decoded-ahead track and
// the prefetch in step with its head.
func (p *Player) setQueueLocked(q []*entry) {
	p.queue = q
	var head *entry
	if len(q) > 0 {
		head = q[0]
	}
	if p.next != nil && p.next.e != head {
		p.toClose = append(p.toClose, p.next)
		p.next = nil
	}
	if p.prepCancel != nil && p.prepEntry != head {
		p.prepCancel()
	}
	p.kickFetch()
	p.cond.Broadcast()
	p.changedLocked()
}

// SetLive turns live on or off. While off, Enqueue queues nothing; calls
// already queued still play.
func (p *Player) SetLive(on bool) {
	p.mu.Lock()
	defer p.unlock()
	if p.live != on {
		p.live = on
		p.changedLocked()
	}
}

// Pause pauses playback (within one audio buffer).
func (p *Player) Pause() { p.setPaused(true) }

// Resume resumes playback.
func (p *Player) Resume() { p.setPaused(false) }

// TogglePause pauses when playing and resumes when paused.
func (p *Player) TogglePause() {
	p.mu.Lock()
	defer p.unlock()
	p.setPausedLocked(!p.paused)
}

func (p *Player) setPaused(v bool) {
	p.mu.Lock()
	defer p.unlock()
	p.setPausedLocked(v)
}

func (p *Player) setPausedLocked(v bool) {
	if p.paused == v {
		return
	}
	p.paused = v
	p.cond.Broadcast()
	p.changedLocked()
}

// Skip stops the playing call; the next queued one follows.
func (p *Player) Skip() {
	p.mu.Lock()
	defer p.unlock()
	if p.cur != nil {
		p.skip = true
		p.cond.Broadcast()
	}
}

// Replay plays an earlier call again, now. The first press replays the
// latest call (the one playing, or the one that played last); each further
// press while replaying steps one call further back, up to the last 5
// played. Live calls that arrive meanwhile wait in the queue.
func (p *Player) Replay() {
	p.mu.Lock()
	defer p.unlock()
	if len(p.history) == 0 {
		return
	}
	pos := min(p.replayPos+1, len(p.history)-1)
	p.replayPos = pos
	p.playNowLocked(&entry{call: p.history[pos], user: true, replay: pos + 1})
}

// Play plays c now (a history item the listener picked), interrupting the
// playing call; the queue follows it. It ignores live and the filter, and
// resumes if paused.
func (p *Player) Play(c event.Call) {
	p.mu.Lock()
	defer p.unlock()
	p.replayPos = -1
	p.playNowLocked(&entry{call: c, user: true})
}

func (p *Player) playNowLocked(e *entry) {
	// A newer press wins over an earlier one that has not started yet, and
	// the call does not play a second time from the live queue.
	q := slices.DeleteFunc(slices.Clone(p.queue), func(x *entry) bool { return x.user || x.call.ID == e.call.ID })
	q = slices.Insert(q, 0, e)
	if p.cur != nil {
		p.skip = true
	}
	p.paused = false
	p.setQueueLocked(q)
}

// Reset forgets every call it holds — the queue, the playing call (cut
// off with the usual fade) and the calls Replay reaches — as when another
// account's feed takes over: none of them may be heard any more. Live,
// paused, volume, mute and the filter stay.
func (p *Player) Reset() {
	p.mu.Lock()
	defer p.unlock()
	p.history = nil
	p.replayPos = -1
	if p.cur != nil {
		p.skip = true
	}
	p.setQueueLocked(nil)
}

// SetVolume sets the volume, 0 (silent) to 1 (as recorded), applied to the
// samples as a linear gain within one audio buffer.
func (p *Player) SetVolume(v float64) {
	if v != v { // NaN
		return
	}
	v = max(0, min(1, v))
	p.mu.Lock()
	defer p.unlock()
	if p.volume != v {
		p.volume = v
		p.changedLocked()
	}
}

// SetMuted mutes or unmutes (the volume is kept).
func (p *Player) SetMuted(m bool) {
	p.mu.Lock()
	defer p.unlock()
	if p.muted != m {
		p.muted = m
		p.changedLocked()
	}
}

// ToggleMute flips mute.
func (p *Player) ToggleMute() {
	p.mu.Lock()
	defer p.unlock()
	p.muted = !p.muted
	p.changedLocked()
}

// Filter returns a copy of the filter applied to live calls.
func (p *Player) Filter() Filter {
	p.mu.Lock()
	defer p.unlock()
	return p.filter.Clone()
}

// SetFilter replaces the filter (a persisted one, say) and drops queued
// live calls it keeps out.
func (p *Player) SetFilter(f Filter) {
	p.updateFilter(func(g *Filter) { *g = f.Clone() })
}

// HoldTalkgroup hears only this talkgroup until the given time (zero: until
// lifted).
func (p *Player) HoldTalkgroup(systemID, talkgroupID int64, until time.Time) {
	p.updateFilter(func(f *Filter) { f.HoldTalkgroup(systemID, talkgroupID, until) })
}

// HoldSystem hears only this system until the given time (zero: until
// lifted).
func (p *Player) HoldSystem(systemID int64, until time.Time) {
	p.updateFilter(func(f *Filter) { f.HoldSystem(systemID, until) })
}

// ReleaseHold lifts the hold.
func (p *Player) ReleaseHold() { p.updateFilter((*Filter).ReleaseHold) }

// AvoidTalkgroup keeps this talkgroup out until the given time (zero: until
// lifted).
func (p *Player) AvoidTalkgroup(systemID, talkgroupID int64, until time.Time) {
	p.updateFilter(func(f *Filter) { f.AvoidTalkgroup(systemID, talkgroupID, until) })
}

// Unavoid lifts the avoid of a talkgroup.
func (p *Player) Unavoid(systemID, talkgroupID int64) {
	p.updateFilter(func(f *Filter) { f.Unavoid(systemID, talkgroupID) })
}

// SetSelection enables only these talkgroups (none: all).
func (p *Player) SetSelection(tgs []Talkgroup) {
	p.updateFilter(func(f *Filter) { f.SetSelection(tgs) })
}

func (p *Player) updateFilter(change func(*Filter)) {
	p.mu.Lock()
	defer p.unlock()
	change(&p.filter)
	now := p.now()
	q := slices.DeleteFunc(slices.Clone(p.queue), func(e *entry) bool {
		return !e.user && !p.filter.Allows(e.call, now)
	})
	p.setQueueLocked(q)
}

// prefetchLoop decodes the head of the queue ahead of time, so the next
// call starts the moment the playing one ends.
func (p *Player) prefetchLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.fetch:
		}
		for p.prepareHead(ctx) {
		}
	}
}

// prepareHead opens and decodes queue[0] if that is still to do, and
// reports whether to look again (the queue moved on meanwhile).
func (p *Player) prepareHead(ctx context.Context) bool {
	p.mu.Lock()
	if p.stopped || len(p.queue) == 0 || p.next != nil {
		p.unlock()
		return false
	}
	e := p.queue[0]
	fetchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.prepEntry, p.prepCancel = e, cancel
	p.unlock()

	t, err := p.open(fetchCtx, ctx, e)

	p.mu.Lock()
	defer p.unlock()
	p.prepEntry, p.prepCancel = nil, nil
	if err != nil {
		if ctx.Err() != nil || p.stopped {
			return false
		}
		if fetchCtx.Err() != nil {
			return true // superseded by Play, Replay or a filter change
		}
		p.problemLocked(e.call, err)
		if i := slices.Index(p.queue, e); i >= 0 {
			p.setQueueLocked(slices.Delete(slices.Clone(p.queue), i, i+1))
		}
		return true
	}
	if p.stopped || len(p.queue) == 0 || p.queue[0] != e || p.next != nil {
		p.toClose = append(p.toClose, t)
		return !p.stopped
	}
	if t.stream.Decoder == "ffmpeg" && p.ffmpegMissing {
		p.ffmpegMissing = false
		p.changedLocked()
	}
	p.next = t
	p.cond.Broadcast()
	return false
}

// open fetches (fetchCtx) and decodes a call; an ffmpeg process lives with
// runCtx.
func (p *Player) open(fetchCtx, runCtx context.Context, e *entry) (*track, error) {
	ent, err := p.audio.Audio(fetchCtx, e.call.ID)
	if err != nil {
		return nil, fmt.Errorf("getting the call's audio: %w", err)
	}
	f, err := ent.Open()
	if err != nil {
		return nil, fmt.Errorf("opening the call's cached audio: %w", err)
	}
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("reading the call's cached audio: %w", err)
	}
	if n == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: the audio file is empty", ErrBadAudio)
	}
	format := media.Sniff(head[:n])
	trackCtx, stop := context.WithCancel(runCtx)
	s, err := p.dec.Decode(runCtx, f, format, p.rate)
	if err != nil {
		stop()
		f.Close()
		return nil, err
	}
	var lv *level
	if p.gain != nil {
		s, lv = p.levelled(trackCtx, e.call, ent, s)
	}
	p.log.Debug("call decoded ahead", "call", e.call.ID, "decoder", s.Decoder, "frames", s.Frames)
	return &track{e: e, stream: s, file: f, stop: stop, level: lv, ent: ent}, nil
}

// problemLocked records why a call could not be played.
func (p *Player) problemLocked(c event.Call, err error) {
	short := "cannot be played"
	if errors.Is(err, ErrNeedsFFmpeg) {
		short = "needs ffmpeg"
		if !p.ffmpegMissing {
			p.ffmpegMissing = true
			// Said once: every M4A/Ogg call would repeat it.
			p.log.Warn("ffmpeg is not installed, so calls recorded as M4A/AAC or Ogg are skipped; install the ffmpeg package to hear them", "call", c.ID, "err", err)
		}
		p.lastErr = fmt.Sprintf("Call %d (%s) needs ffmpeg, which is not installed: install the ffmpeg package to hear M4A/AAC and Ogg calls.", c.ID, callLabel(c))
	} else {
		p.log.Warn("cannot play call; skipping it", "call", c.ID, "err", err)
		p.lastErr = fmt.Sprintf("Call %d (%s) cannot be played: %v", c.ID, callLabel(c), err)
	}
	if _, ok := p.problems[c.ID]; !ok {
		p.problemOrder = append(p.problemOrder, c.ID)
		if len(p.problemOrder) > maxProblems {
			delete(p.problems, p.problemOrder[0])
			p.problemOrder = slices.Delete(p.problemOrder, 0, 1)
		}
	}
	p.problems[c.ID] = short
	p.changedLocked()
}

func callLabel(c event.Call) string {
	for _, s := range []string{c.TalkgroupLabel, c.TalkgroupName} {
		if s != "" {
			return s
		}
	}
	return fmt.Sprintf("talkgroup %d", c.TalkgroupID)
}

// startNextLocked makes the decoded-ahead head of the queue the playing
// call, if it is ready.
func (p *Player) startNextLocked() bool {
	if len(p.queue) == 0 || p.next == nil || p.next.e != p.queue[0] {
		return false
	}
	t := p.next
	p.next = nil
	p.cur = t
	p.callsStarted++
	if t.e.tone {
		t.stream.Prepend(AlertTone(p.rate))
	}
	if t.e.replay == 0 && !t.e.requeued {
		p.history = slices.Insert(p.history, 0, t.e.call)
		p.history = p.history[:min(len(p.history), maxReplay)]
		p.replayPos = -1
	}
	p.log.Debug("playing call", "call", t.e.call.ID, "replay", t.e.replay)
	p.setQueueLocked(slices.Delete(slices.Clone(p.queue), 0, 1))
	return true
}

// endLocked finishes the playing call.
func (p *Player) endLocked(err error) {
	t := p.cur
	p.cur = nil
	p.toClose = append(p.toClose, t)
	if err != nil && !errors.Is(err, io.EOF) {
		p.problemLocked(t.e.call, fmt.Errorf("playback stopped: %w", err))
	}
	p.changedLocked()
}

// unityGain is a gain of 1 in Q15.
const unityGain = 1 << 15

// gainLocked is the sample gain in Q15.
func (p *Player) gainLocked() int32 {
	if p.muted {
		return 0
	}
	return int32(p.volume*unityGain + 0.5)
}

// feed is the reader the Output pulls PCM from.
type feed struct{ p *Player }

// Read hands the output the next PCM of the playing call, moving on to the
// next call without a gap. It blocks while paused or while nothing is
// ready to play, and returns io.EOF once the player stops. Commands take
// effect at the next Read, so within one output buffer.
//
// So that cutting into a call does not click, a pause, skip or interrupting
// Play/Replay first hands over a 5 ms fade-out of the playing call, and
// playback after it (and any volume change) ramps to the new gain over
// 5 ms. A call that ends by itself is followed by the next with no ramp:
// back-to-back calls stay sample-exact.
func (f feed) Read(b []byte) (int, error) {
	p := f.p
	b = b[:len(b)/FrameSize*FrameSize]
	if len(b) == 0 {
		return 0, nil
	}
	p.readMu.Lock()
	defer p.readMu.Unlock()
	p.mu.Lock()
	empty := 0
	for {
		if p.stopped {
			p.unlock()
			return 0, io.EOF
		}
		if t := p.cur; t != nil && (p.skip || p.paused) && p.fadeFrames > 0 && p.lastGain > 0 {
			from := p.lastGain
			fb := b[:min(len(b), p.fadeFrames*FrameSize)]
			p.unlock()
			n, err := t.stream.Read(fb)
			p.mu.Lock()
			if p.cur != t {
				continue
			}
			t.pos += int64(n / FrameSize)
			if err != nil {
				p.endLocked(err)
			}
			if n > 0 {
				p.lastGain = 0
				p.unlock()
				applyGainRamp(fb[:n], from, 0, n/FrameSize)
				return n, nil
			}
			continue
		}
		if p.skip {
			p.skip = false
			if p.cur != nil {
				p.endLocked(nil)
			}
		}
		if p.paused || (p.cur == nil && !p.startNextLocked()) {
			p.cond.Wait()
			continue
		}
		t := p.cur
		p.unlock()
		n, err := t.stream.Read(b)
		p.mu.Lock()
		if p.cur != t { // stopped meanwhile
			continue
		}
		t.pos += int64(n / FrameSize)
		if err == nil && n == 0 {
			if empty++; empty > 100 {
				err = io.ErrNoProgress
			}
		}
		if err != nil {
			p.endLocked(err)
		}
		if n > 0 {
			from, to := p.lastGain, p.gainLocked()
			p.lastGain = to
			ramp := p.fadeFrames
			p.unlock()
			applyGainRamp(b[:n], from, to, ramp)
			return n, nil
		}
	}
}

// applyGainRamp scales s16le stereo frames by a gain (Q15) going linearly
// from `from` to `to` over the first ramp frames, then holding at `to`.
func applyGainRamp(b []byte, from, to int32, ramp int) {
	if from == to || ramp <= 0 {
		applyGain(b, to)
		return
	}
	frames := len(b) / FrameSize
	k := 0
	for ; k < frames && k < ramp; k++ {
		g := from + (to-from)*int32(k+1)/int32(ramp)
		applyGain(b[k*FrameSize:(k+1)*FrameSize], g)
	}
	applyGain(b[k*FrameSize:], to)
}

// applyGain scales s16le samples by gain/32768.
func applyGain(b []byte, gain int32) {
	switch {
	case gain >= unityGain:
		return
	case gain <= 0:
		clear(b)
		return
	}
	for i := 0; i+1 < len(b); i += 2 {
		s := int32(int16(uint16(b[i]) | uint16(b[i+1])<<8))
		v := uint16(int16(s * gain >> 15))
		b[i], b[i+1] = byte(v), byte(v>>8)
	}
}
