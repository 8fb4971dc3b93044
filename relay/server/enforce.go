package server

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Live enforcement: every long-lived response (live WebSocket, audio
// download, web-player request) registers what it was authenticated by —
// the token, and the web-player session when the cookie was used. One
// enforcer goroutine revokes those whose token or session is no longer
// valid (revoked, rotated out past its grace, expired). It needs no polling
// to be timely:
//
//   - a registry change (revoke, rotate, an edit by another process) closes
//     the Authenticator's Changed channel, and the enforcer sweeps at once;
//   - a token that dies on its own (its exp, or the end of a rotation's
//     grace) and a session that expires have a known moment: the enforcer
//     sets a timer on the Clock for the earliest one (Deadliner) and sweeps
//     when it fires.
//
// The timer is never set further than maxEnforceWait ahead, so that a wall
// clock that jumps (a suspended laptop: Go's timers do not count the time
// asleep) still closes a connection within a second of waking. With an
// Authenticator that cannot tell deadlines, the enforcer sweeps every
// enforceEvery while connections are open.

const (
	maxEnforceWait = time.Second
	enforceEvery   = 200 * time.Millisecond
	// closeGrace is how long a revoked WebSocket gets to take its close
	// frame before its socket is closed under it (a consumer that stopped
	// reading would otherwise hold a blocked write until its deadline).
	closeGrace = 500 * time.Millisecond
)

// Deadliner is an Authenticator that knows when a token stops working by
// itself. tokens.Manager (through NewTokenAuth) is one.
type Deadliner interface {
	// Deadline returns the moment token id stops being valid without any
	// registry change (its exp, or the end of a rotation's grace); ok is
	// false if there is none.
	Deadline(tokenID string) (at time.Time, ok bool)
}

// errTokenRevoked is the cancel cause of a connection whose token died.
var errTokenRevoked = errors.New("stream token revoked, rotated out or expired")

type liveConn struct {
	tokenID string
	session string // the web-player session id, "" for a token
	revoke  func() // cancels the request and unblocks its writes
}

// liveConns is the set of long-lived responses; guarded by its mutex.
type liveConns struct {
	mu sync.Mutex
	m  map[*liveConn]struct{}
	// wakeAt is when the enforcer sweeps next if nothing changes (wakeSet
	// false: only on a change), as its last sweep set it.
	wakeAt  time.Time
	wakeSet bool
}

// track registers a long-lived response authenticated as id and returns a
// context cancelled (with cause errTokenRevoked) when its token or session
// dies, plus a release func to call when the response ends. onRevoke, if
// not nil, runs on revocation too (to unblock a write in progress).
func (s *Server) track(ctx context.Context, id Identity, onRevoke func()) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	lc := &liveConn{tokenID: id.TokenID, session: id.session, revoke: func() {
		cancel(errTokenRevoked)
		if onRevoke != nil {
			onRevoke()
		}
	}}
	s.live.mu.Lock()
	if s.live.m == nil {
		s.live.m = make(map[*liveConn]struct{})
	}
	s.live.m[lc] = struct{}{}
	rearm := s.rearmNeededLocked(lc)
	s.live.mu.Unlock()
	// A token can die between authentication and registration.
	if !s.connValid(lc.tokenID, lc.session, s.clock.Now()) {
		s.live.mu.Lock()
		delete(s.live.m, lc)
		s.live.mu.Unlock()
		lc.revoke()
	} else if rearm {
		select {
		case s.rearm <- struct{}{}:
		default:
		}
	}
	return ctx, func() {
		s.live.mu.Lock()
		delete(s.live.m, lc)
		s.live.mu.Unlock()
		cancel(nil)
	}
}

// rearmNeededLocked reports whether the enforcer must recompute its timer
// for the new connection lc: only when lc dies on its own earlier than the
// enforcer's next sweep (or, without a Deadliner, when the enforcer is not
// polling yet). Most connections need nothing, so a burst of them (every
// consumer fetching each call's audio) costs no sweeps. The enforcer sets
// its wake time under the same lock, so a connection it did not see in a
// sweep always sees the wake time that sweep set.
func (s *Server) rearmNeededLocked(lc *liveConn) bool {
	dl, canTell := s.auth.(Deadliner)
	if !canTell {
		return !s.live.wakeSet
	}
	at, has := dl.Deadline(lc.tokenID)
	if lc.session != "" {
		if sess, ok := s.sessions.lookup(lc.session, s.clock.Now()); ok && (!has || sess.expires.Before(at)) {
			at, has = sess.expires, true
		}
	}
	return has && (!s.live.wakeSet || at.Before(s.live.wakeAt))
}

// connValid reports whether a connection authenticated by tokenID (and
// web-player session, if not "") may go on at now.
func (s *Server) connValid(tokenID, session string, now time.Time) bool {
	if !s.auth.Valid(tokenID) {
		return false
	}
	if session == "" {
		return true
	}
	_, ok := s.sessions.lookup(session, now)
	return ok
}

// enforce runs until ctx ends, revoking live responses whose token or
// session died.
func (s *Server) enforce(ctx context.Context) {
	for {
		// Taken before the sweep, so a change during it is not missed.
		changed := s.auth.Changed()
		next, ok := s.sweepLive()
		var wake <-chan time.Time
		release := func() {}
		if ok {
			wake, release = s.clock.At(next)
		}
		select {
		case <-ctx.Done():
			release()
			return
		case <-changed:
		case <-s.rearm:
		case <-wake:
		}
		release()
	}
}

// sweepLive revokes the connections that must end now and returns when the
// next sweep is due (ok false: only at a change or a new connection).
func (s *Server) sweepLive() (next time.Time, ok bool) {
	now := s.clock.Now()
	dl, canTell := s.auth.(Deadliner)
	type verdict struct {
		valid    bool
		deadline time.Time
		has      bool
	}
	verdicts := make(map[string]verdict)
	check := func(tokenID string) verdict {
		if v, seen := verdicts[tokenID]; seen {
			return v
		}
		v := verdict{valid: s.auth.Valid(tokenID)}
		if v.valid && canTell {
			v.deadline, v.has = dl.Deadline(tokenID)
		}
		verdicts[tokenID] = v
		return v
	}
	// Sessions of dead tokens end with them, connected or not.
	s.sessions.dropIf(func(tokenID string) bool { return !check(tokenID).valid })

	var dead []*liveConn
	earliest := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	s.live.mu.Lock()
	for lc := range s.live.m {
		v := check(lc.tokenID)
		sess, sessOK := webSession{}, true
		if lc.session != "" {
			sess, sessOK = s.sessions.lookup(lc.session, now)
		}
		if !v.valid || !sessOK {
			dead = append(dead, lc)
			delete(s.live.m, lc)
			continue
		}
		switch {
		case !canTell:
			earliest(now.Add(enforceEvery))
		case v.has:
			earliest(v.deadline)
		}
		if lc.session != "" {
			earliest(sess.expires)
		}
	}
	if ok && next.After(now.Add(maxEnforceWait)) {
		next = now.Add(maxEnforceWait)
	}
	s.live.wakeAt, s.live.wakeSet = next, ok
	s.live.mu.Unlock()
	s.sweeps.Add(1)
	for _, lc := range dead {
		lc.revoke()
	}
	return next, ok
}

// liveCount is how many long-lived responses are registered (for tests).
func (s *Server) liveCount() int {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	return len(s.live.m)
}

// writeGuard sets a per-write deadline on a streaming response and lets
// revocation cut a blocked write at once. The mutex orders the two: a
// deadline is never pushed out again after the cut.
type writeGuard struct {
	mu   sync.Mutex
	ctx  context.Context
	set  func(time.Time) error
	wait time.Duration
}

// arm gives the next write wait to complete; it fails once ctx has ended.
func (g *writeGuard) arm() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ctx.Err(); err != nil {
		return err
	}
	_ = g.set(time.Now().Add(g.wait)) // not supported by test recorders: no deadline then
	return nil
}

// cut makes a write in progress fail now.
func (g *writeGuard) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	_ = g.set(time.Now())
}
