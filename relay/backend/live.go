package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/event"
)

// labelBook resolves radio ids to the names in scanner.config.
type labelBook struct {
	mu      sync.Mutex
	systems map[int64]ConfigSystem
	tgs     map[[2]int64]ConfigTalkgroup
	catalog event.Catalog // the last one announced
	known   bool          // a config has been seen
}

// update takes a new config. changed reports whether its catalog differs
// from the last one (servers resend the same config after every connect
// and several times in a row while new talkgroups appear).
func (b *labelBook) update(c *Config) (cat event.Catalog, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cat = catalogOf(c)
	// The maps are rebuilt every time: they also hold the server's row
	// ids (for history searches), which the catalog does not show.
	b.systems = map[int64]ConfigSystem{}
	b.tgs = map[[2]int64]ConfigTalkgroup{}
	for _, sys := range c.Systems {
		b.systems[sys.ID] = sys
		for _, tg := range sys.Talkgroups {
			b.tgs[[2]int64{sys.ID, tg.ID}] = tg
		}
	}
	if b.known && reflect.DeepEqual(cat, b.catalog) {
		return event.Catalog{}, false
	}
	b.catalog, b.known = cat, true
	return cat.Clone(), true
}

// catalogOf turns a server config into the relay's catalog, in the
// server's order.
func catalogOf(c *Config) event.Catalog {
	cat := event.Catalog{Systems: make([]event.System, 0, len(c.Systems))}
	for _, sys := range c.Systems {
		es := event.System{ID: sys.ID, Label: sys.Label, LEDColor: sys.LEDColor,
			Talkgroups: make([]event.Talkgroup, 0, len(sys.Talkgroups))}
		for _, tg := range sys.Talkgroups {
			es.Talkgroups = append(es.Talkgroups, event.Talkgroup{ID: tg.ID, Label: tg.Label, Name: tg.Name,
				Group: tg.Group, Tag: tg.Tag, LEDColor: tg.LEDColor})
		}
		cat.Systems = append(cat.Systems, es)
	}
	return cat
}

// resolve fills c's labels from the config (history rows bring their own;
// the config wins where it has a name).
func (b *labelBook) resolve(c *event.Call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sys, ok := b.systems[c.SystemID]; ok {
		if sys.Label != "" {
			c.SystemLabel = sys.Label
		}
		if c.LEDColor == "" {
			c.LEDColor = sys.LEDColor
		}
	}
	if tg, ok := b.tgs[[2]int64{c.SystemID, c.TalkgroupID}]; ok {
		if tg.Label != "" {
			c.TalkgroupLabel = tg.Label
		}
		if tg.Name != "" {
			c.TalkgroupName = tg.Name
		}
		if tg.Group != "" {
			c.TalkgroupGroup = tg.Group
		}
		if tg.Tag != "" {
			c.TalkgroupTag = tg.Tag
		}
		if tg.LEDColor != "" {
			c.LEDColor = tg.LEDColor
		}
	}
}

// Run keeps the live feed going until ctx ends: it signs in, connects,
// backfills from history after every (re)connect, and emits calls in id
// order without repeats, plus transcripts, catalog and status changes. It
// returns ctx's error, or ErrSignInAgain when the server refuses the stored
// sign-in (it never retries that).
//
// Every connection that fails before the server's welcome counts as a
// failed attempt: the waits between attempts grow exponentially (with
// jitter) up to 30 s, and start again from the bottom once a connection
// is welcomed.
func (s *Session) Run(ctx context.Context, emit func(event.Event)) error {
	s.mu.Lock()
	s.emitStatus = func(st event.Status) { emit(event.Event{Type: event.TypeStatus, Status: &st}) }
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.emitStatus = nil
		s.mu.Unlock()
	}()
	f := newFeed(emit)
	attempt := 0
	lastBrief := false // the last welcomed connection ended within stableConnection
	for {
		s.setStatus(event.StateConnecting, "", time.Time{})
		began := s.now()
		connected, wait, err := s.session(ctx, f)
		switch {
		case ctx.Err() != nil:
			s.setStatus(event.StateStopped, "", time.Time{})
			return ctx.Err()
		case IsSignInAgain(err):
			s.setStatus(event.StateSignedOut, err.Error(), time.Time{})
			return err
		}
		if connected {
			// A welcome resets the back-off, except when connections keep
			// ending as soon as they are welcomed (a server that expires
			// every session at once): from the second such in a row they
			// count as failed attempts, so they get rarer too.
			// (A connection refused before its welcome in between leaves
			// the streak as it is: it counts as a failed attempt anyway.)
			brief := s.now().Sub(began) < stableConnection
			if !brief || !lastBrief {
				attempt = 0
			}
			lastBrief = brief
		}
		state := event.StateDisconnected
		var rejected *rejectedError
		switch {
		case errors.As(err, &rejected):
			state = event.StateRejected
			wait = max(wait, rejectedBackoff)
		case errors.Is(err, ErrRateLimited):
			wait = max(wait, rateLimitWait)
		}
		if wait == 0 {
			wait = backoff(attempt)
			attempt++
		}
		reason := "connection lost"
		if err != nil {
			reason = err.Error()
		}
		s.log.Info("live feed down; retrying", "reason", reason, "in", wait.Round(time.Millisecond))
		s.setStatus(state, reason, time.Now().Add(wait))
		if s.sleep(ctx, wait) != nil {
			s.setStatus(event.StateStopped, "", time.Time{})
			return ctx.Err()
		}
	}
}

// stableConnection is how long a welcomed connection must last for the
// next reconnect to start the back-off from the bottom when the one before
// it was brief too.
const stableConnection = 10 * time.Second

// backoff is the wait before reconnect attempt number attempt (0 first):
// exponential from 500 ms, capped at 30 s, with "equal jitter" — a
// uniformly random point in the upper half of that — so clients that lost
// the server together do not come back together. It never exceeds 30 s.
func backoff(attempt int) time.Duration { return backoffAt(attempt, rand.Float64()) }

// backoffAt is backoff with the random number u in [0, 1) given.
func backoffAt(attempt int, u float64) time.Duration {
	d := min(backoffBase<<min(max(attempt, 0), 10), backoffCap)
	return d/2 + time.Duration(float64(d/2)*u)
}

type rejectedError struct{ reason string }

func (e *rejectedError) Error() string {
	if e.reason == "max_clients" {
		// OpenScanner says max_clients both for its own limit of
		// listeners and for the account's connection limit.
		return "too many listeners: the server's limit, or this account's own connection limit " +
			"(close its other listeners — another Earshot, a browser tab — or ask the server's admin)"
	}
	// A reason is the server's text: shown clipped and quoted.
	r := []rune(e.reason)
	if len(r) > 64 {
		r = append(r[:64], '…')
	}
	return "the server refused the live connection: " + strconv.Quote(string(r))
}

var (
	errSessionExpired = errors.New("the server ended the session")
	// errLiveAuthRefused: a session-expired frame before the welcome,
	// which is how the server refuses a revoked or wrong-role token.
	errLiveAuthRefused = errors.New("the server refused the live feed's sign-in")
)

// session runs one connection. connected reports whether it got as far as
// the server's welcome; wait, if set, is how long to wait before the next.
// Every goroutine it starts has ended when it returns.
func (s *Session) session(ctx context.Context, f *feed) (connected bool, wait time.Duration, err error) {
	if err := s.ensureProbed(ctx); err != nil {
		return false, 0, err
	}
	tok, err := s.accessToken(ctx)
	if err != nil {
		return false, 0, err
	}
	s.mu.Lock()
	public := s.publicAccess
	s.mu.Unlock()
	if tok == "" && !public {
		return false, 0, fmt.Errorf("%w: this server needs an account (it has no public access)", ErrSignInAgain)
	}
	conn, err := s.dial(ctx)
	if err != nil {
		return false, 0, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { <-ctx.Done(); conn.Close() })
	conn.SetReadLimit(s.readLimit)
	if tok != "" {
		first, _ := json.Marshal([]string{tok})
		_ = conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		if err := conn.WriteMessage(websocket.TextMessage, first); err != nil {
			return false, 0, fmt.Errorf("authenticate the live feed: %w", err)
		}
	}
	frames := make(chan Frame, 1024)
	readErr := make(chan error, 1)
	wg.Go(func() { s.readFrames(ctx, conn, frames, readErr) })
	wg.Go(func() { s.pinger(ctx, conn) })
	// Refresh ahead of expiry while connected, so audio downloads never
	// wait on a refresh. (If keepFresh is mid-refresh when the connection
	// ends, that refresh runs to its end — see refresh — so the rotated
	// token is kept; the wait is bounded by doRefresh's timeout.)
	wg.Go(func() { s.keepFresh(ctx) })

	backfillDue := s.after(s.opts.BackfillEvery)
	st := &connState{}
	var configWait, tailWait <-chan time.Time
	tailFrames := 0 // frames since the last tail read (see tailEvery)
	for {
		select {
		case <-ctx.Done():
			return st.connected, 0, ctx.Err()
		case err := <-readErr:
			// Frames read before the error still count.
			for {
				select {
				case fr := <-frames:
					if c, w, e := s.handle(ctx, f, fr, st); e != nil {
						return c, w, e
					}
					continue
				default:
				}
				break
			}
			return st.connected, 0, fmt.Errorf("live feed: %w", err)
		case fr := <-frames:
			gaps := f.gaps
			if c, w, e := s.handle(ctx, f, fr, st); e != nil {
				return c, w, e
			}
			if st.backfillDue && configWait == nil {
				configWait = s.after(configAfterWelcome)
			}
			tailFrames++
			if (f.gaps != gaps || tailFrames >= tailEvery) && tailWait == nil {
				tailWait = s.after(tailAfterGap)
			}
		case <-tailWait:
			// The server dropped broadcasts lately, or may have (a run
			// of frames as long as its queue could hold): those at the
			// end of a burst leave no gap before a next call to reveal
			// them.
			tailWait = nil
			tailFrames = 0
			if err := s.backfill(ctx, f); err != nil {
				s.log.Warn("history backfill failed", "err", err)
			}
		case <-configWait:
			// No config came: fill the gap anyway (names as history has
			// them).
			s.welcomeBackfill(ctx, f, st)
		case <-backfillDue:
			backfillDue = s.after(s.opts.BackfillEvery)
			if st.connected {
				s.welcomeBackfill(ctx, f, st)
				if err := s.backfill(ctx, f); err != nil {
					s.log.Warn("history backfill failed", "err", err)
				}
			}
		}
	}
}

// configAfterWelcome is how long the history read that follows a welcome
// waits for the server's scanner.config (servers send it right after the
// welcome): 1.2 and 1.1 history rows carry no talkgroup names, so reading
// history first would emit nameless calls.
const configAfterWelcome = 2 * time.Second

// tailAfterGap is when history is read again after a gap in the live
// feed (see feed.gaps), rather than at the next periodic backfill.
const tailAfterGap = 2 * time.Second

// tailEvery is how many frames the feed may bring before history is read
// again (tailAfterGap later) even with no gap: half the server's queue for
// one client (OpenScanner's sendBufSize, 256). The server drops a frame
// only while that queue is full, so every drop is followed by 256 frames
// it had queued; a read is therefore always due after the last drop, even
// when the drops are a burst's end and no later call shows a gap.
const tailEvery = 128

// connState is what one connection's frames have shown so far.
type connState struct {
	connected bool // welcomed (or, on a public server, a first call)
	// backfillDue: welcomed, and history not read yet — it waits for the
	// config so the calls it brings get their names.
	backfillDue bool
}

// welcomeBackfill reads history once after a welcome, if that is due.
// If history cannot be read now, the first live call's gap check (or the
// periodic backfill) tries again.
func (s *Session) welcomeBackfill(ctx context.Context, f *feed, st *connState) {
	if !st.backfillDue {
		return
	}
	st.backfillDue = false
	if err := s.backfill(ctx, f); err != nil {
		s.log.Warn("history backfill failed; will retry", "err", err)
	}
}

// handle processes one frame.
func (s *Session) handle(ctx context.Context, f *feed, fr Frame, st *connState) (bool, time.Duration, error) {
	switch fr.Kind {
	case FrameWelcome:
		st.connected = true
		s.mu.Lock()
		if fr.Version != "" && s.version == "" {
			s.version = fr.Version
		}
		s.mu.Unlock()
		s.setStatus(event.StateConnected, "", time.Time{})
		// Fill what was missed while disconnected, before live calls,
		// once the config (next) has given the talkgroups' names.
		st.backfillDue = true
	case FrameConfig:
		if cat, changed := s.labels.update(fr.Config); changed {
			f.emit(event.Event{Type: event.TypeCatalog, Catalog: &cat})
		}
		s.welcomeBackfill(ctx, f, st)
	case FrameCall:
		c := fr.Call
		if !st.connected {
			st.connected = true // public servers may skip the welcome
			s.setStatus(event.StateConnected, "", time.Time{})
		}
		if st.backfillDue {
			// History before live calls; liveCall's gap check covers it.
			st.backfillDue = false
		}
		if err := s.liveCall(ctx, f, c); err != nil {
			// Emitting this call now could lose calls for good:
			// reconnect instead, which reads history before anything else.
			return st.connected, 0, err
		}
	case FrameTranscript:
		f.emit(event.Event{Type: event.TypeTranscript, Transcript: fr.Transcript})
	case FrameListenerCount:
		s.setListeners(fr.Count)
	case FrameSessionExpired:
		// The access token may have been revoked (a secret rotation, or a
		// logout elsewhere): get a new one for the next connection.
		s.mu.Lock()
		stale := s.access
		s.mu.Unlock()
		if stale != "" {
			if err := s.refresh(ctx, stale); err != nil {
				return st.connected, 0, err
			}
		}
		if !st.connected {
			// Refused at sign-in (revoked or wrong-role token): a failed
			// attempt, so Run backs off further each time instead of
			// refreshing and reconnecting in a tight loop.
			return false, 0, errLiveAuthRefused
		}
		return true, 0, errSessionExpired
	case FrameRejected:
		return st.connected, 0, &rejectedError{reason: fr.Reason}
	}
	return st.connected, 0, nil
}

func (s *Session) dial(ctx context.Context) (*websocket.Conn, error) {
	u := *s.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	s.mu.Lock()
	if s.v1 {
		u.Path += "/api/v1/ws/listener"
	} else {
		u.Path += "/ws"
	}
	s.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	// No Origin: a native client. The token goes in the first message,
	// never in the URL.
	dctx, cancel := s.withTimeout(ctx, dialTimeout)
	defer cancel()
	conn, resp, err := d.DialContext(dctx, u.String(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("open the live feed: the server answered %d", resp.StatusCode)
		}
		return nil, fmt.Errorf("open the live feed: %w", err)
	}
	return conn, nil
}

// readFrames reads frames until the connection fails or ctx ends, and
// hands the parsed ones to out. Malformed frames are logged (without their
// content) and skipped; so are oversized ones (see readFrame). Pings and
// pongs, and every byte that arrives, push the read deadline out by
// pongWait, so a connection that has gone silent is noticed.
func (s *Session) readFrames(ctx context.Context, conn *websocket.Conn, out chan<- Frame, errc chan<- error) {
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(s.pongWait)) }
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	conn.SetPingHandler(func(data string) error {
		alive()
		// As gorilla's default handler: a failed pong is noticed by the
		// next read or ping, not here.
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wsWriteWait))
		return nil
	})
	fail := func(err error) {
		select {
		case errc <- err:
		case <-ctx.Done():
		}
	}
	for {
		typ, rd, err := conn.NextReader()
		if err != nil {
			fail(err)
			return
		}
		data, size, err := readFrame(aliveReader{rd, alive}, typ, s.frameCap)
		if err != nil {
			fail(err)
			return
		}
		switch {
		case typ != websocket.TextMessage:
			s.log.Debug("ignoring a binary frame from the server", "bytes", size)
			continue
		case data == nil:
			s.log.Warn("skipping an oversized frame from the server", "bytes", size, "limit", s.frameCap)
			continue
		}
		fr, err := ParseFrame(data)
		if err != nil {
			s.log.Warn("skipping a malformed frame from the server", "bytes", len(data), "err", err)
			continue
		}
		if fr.Kind == FrameUnknown {
			s.log.Debug("ignoring a frame type Earshot does not use", "type", fr.Type)
			continue
		}
		select {
		case out <- fr:
		case <-ctx.Done():
			return
		}
	}
}

// readFrame reads one message of type typ from r. A text message of up to
// limit bytes is returned whole; a longer one, or any binary message, is
// read through to its end and thrown away as it arrives (data is nil), so
// the connection stays usable and memory stays bounded by limit. size is
// the message's length in bytes.
//
// Why skip rather than fail: one odd frame should not cost the whole feed
// (a reconnect, and a backfill to recover what was missed meanwhile). If
// the skipped frame was a call, the next call's id gap makes the session
// backfill it from history, with its audio fetched by URL.
func readFrame(r io.Reader, typ int, limit int64) (data []byte, size int64, err error) {
	if typ == websocket.TextMessage {
		data, err = io.ReadAll(io.LimitReader(r, limit+1))
		size = int64(len(data))
		if err != nil {
			return nil, size, err
		}
		if size <= limit {
			return data, size, nil
		}
		data = nil
	}
	n, err := io.Copy(io.Discard, r)
	return nil, size + n, err
}

// aliveReader calls alive before every read, so a long frame that keeps
// arriving keeps the connection's read deadline ahead.
type aliveReader struct {
	r     io.Reader
	alive func()
}

func (a aliveReader) Read(p []byte) (int, error) {
	a.alive()
	return a.r.Read(p)
}

// pinger pings the server every pingEvery until ctx ends, so a dead
// connection is noticed even when the server's own pings stop too; a ping
// that cannot be written closes the connection (the reader then fails).
func (s *Session) pinger(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(s.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
			s.log.Debug("could not ping the server; closing the live connection", "err", err)
			conn.Close()
			return
		}
	}
}

// keepFreshIdle bounds keepFresh's wait while nothing is due: an idle
// Earshot should not wake every second to find its token still fresh, and
// a computer that slept (timers do not count its sleep) looks again within
// this once it wakes.
const keepFreshIdle = 30 * time.Second

// freshCheckLocked is how long keepFresh may wait before it looks again:
// every (its usual pace) while a refresh token waits for the keyring or
// the session's times do not come from the clock its waits run on
// (Options.Now set without Options.Clock, in tests); otherwise until the
// access token is due for its refresh (keepFreshIdle while there is none,
// or at most), at least every.
func (s *Session) freshCheckLocked(every time.Duration) time.Duration {
	if s.unsaved != "" || !s.waitsOnClock {
		return every
	}
	if s.access == "" || s.accessExp.IsZero() {
		return keepFreshIdle
	}
	return min(keepFreshIdle, max(every, s.accessExp.Add(-s.accessMargin).Sub(s.now())))
}

// keepFresh refreshes the access token ahead of its expiry until ctx ends,
// and retries keeping a refresh token the keyring refused earlier.
func (s *Session) keepFresh(ctx context.Context) {
	for {
		// Look at least twice within the refresh margin, so a short-lived
		// token is renewed before it runs out.
		s.mu.Lock()
		every := time.Second
		if s.accessMargin > 0 {
			every = min(every, s.accessMargin/2)
		}
		every = s.freshCheckLocked(every)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.after(every):
		case <-s.freshWake:
		}
		s.mu.Lock()
		due := s.access != "" && !s.freshLocked()
		stale := s.access
		s.mu.Unlock()
		if due {
			if err := s.refresh(ctx, stale); err != nil && ctx.Err() == nil {
				s.log.Warn("refreshing the sign-in ahead of expiry failed; will retry", "err", err)
			}
		}
		s.retryUnsaved(ctx)
	}
}
