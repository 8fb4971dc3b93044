package server

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Live enforcement: every long-lived response (live WebSocket, audio
// download, web-player request) registers the token it was authenticated by.
// One enforcer goroutine re-checks them all whenever the token registry
// changes and at least every enforceEvery, and revokes those whose token is
// no longer valid (revoked, rotated out past its grace, or expired) — well
// within a second of that moment.

const enforceEvery = 200 * time.Millisecond

// errTokenRevoked is the cancel cause of a connection whose token died.
var errTokenRevoked = errors.New("stream token revoked, rotated out or expired")

type liveConn struct {
	tokenID string
	revoke  func() // cancels the request and unblocks its writes
}

// liveConns is the set of long-lived responses; guarded by its mutex.
type liveConns struct {
	mu sync.Mutex
	m  map[*liveConn]struct{}
}

// track registers a long-lived response for tokenID and returns a context
// cancelled (with cause errTokenRevoked) when the token dies, plus a
// release func to call when the response ends. onRevoke, if not nil, runs
// on revocation too (to unblock a write in progress).
func (s *Server) track(ctx context.Context, tokenID string, onRevoke func()) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	lc := &liveConn{tokenID: tokenID, revoke: func() {
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
	s.live.mu.Unlock()
	// A token can die between authentication and registration.
	if !s.auth.Valid(tokenID) {
		lc.revoke()
	}
	return ctx, func() {
		s.live.mu.Lock()
		delete(s.live.m, lc)
		s.live.mu.Unlock()
		cancel(nil)
	}
}

// enforce runs until ctx ends, revoking live responses whose token died.
func (s *Server) enforce(ctx context.Context) {
	tick := time.NewTicker(enforceEvery)
	defer tick.Stop()
	for {
		changed := s.auth.Changed()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-changed:
		}
		s.sweepLive()
	}
}

func (s *Server) sweepLive() {
	var dead []*liveConn
	valid := make(map[string]bool)
	s.live.mu.Lock()
	for lc := range s.live.m {
		ok, seen := valid[lc.tokenID]
		if !seen {
			ok = s.auth.Valid(lc.tokenID)
			valid[lc.tokenID] = ok
		}
		if !ok {
			dead = append(dead, lc)
			delete(s.live.m, lc)
		}
	}
	s.live.mu.Unlock()
	for tokenID, ok := range valid {
		if !ok {
			s.sessions.dropToken(tokenID)
		}
	}
	for _, lc := range dead {
		lc.revoke()
	}
}
