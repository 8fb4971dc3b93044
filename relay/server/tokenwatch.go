package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"earshot/relay/tokens"
)

// TokenWatcher is a token registry that reports its changes
// (*tokens.Manager is one): the control plane streams them to a token
// manager so its list never goes stale.
type TokenWatcher interface {
	// Watch sends the token list now and after every change until ctx
	// ends, then closes the channel.
	Watch(ctx context.Context) <-chan []tokens.Info
}

// tokenEventsPing keeps a quiet stream's connection alive through
// proxies and lets a vanished client be noticed.
const tokenEventsPing = 25 * time.Second

func (s *Server) routeTokenEvents(mux *http.ServeMux) {
	if _, ok := s.admin.(TokenWatcher); ok {
		mux.Handle("GET /v1/tokens/events", s.require(controlPlane, s.handleTokenEvents))
	}
}

// handleTokenEvents streams the token list as server-sent events: one
// "tokens" event with {"tokens":[…]} at once and after every change (a
// token created, revoked, rotated, or used; by this relay or by the CLI
// editing the registry). The stream ends when the control token it was
// opened with dies, or the relay stops.
func (s *Server) handleTokenEvents(w http.ResponseWriter, r *http.Request) {
	watcher := s.admin.(TokenWatcher)
	rc := http.NewResponseController(w)
	guard := &writeGuard{set: rc.SetWriteDeadline, wait: s.timeouts.Write}
	ctx, release := s.track(r.Context(), identityFrom(r.Context()), guard.cut)
	defer release()
	guard.ctx = ctx
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) bool {
		if guard.arm() != nil {
			return false
		}
		if _, err := io.WriteString(w, chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": earshot token list\n\n") {
		return
	}
	updates := watcher.Watch(ctx)
	ping := time.NewTicker(tokenEventsPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if !send(": ping\n\n") {
				return
			}
		case list, ok := <-updates:
			if !ok {
				return
			}
			if list == nil {
				list = []tokens.Info{}
			}
			b, err := json.Marshal(map[string]any{"tokens": list})
			if err != nil {
				return
			}
			if !send(fmt.Sprintf("event: tokens\ndata: %s\n\n", b)) {
				return
			}
		}
	}
}
