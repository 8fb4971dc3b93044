package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/hub"
)

// Live WebSocket limits.
const (
	maxInboundMessage = 4 << 10 // consumers have nothing to say beyond control frames
	liveWriteWait     = 10 * time.Second
	livePingEvery     = 25 * time.Second
	livePongWait      = 60 * time.Second
	maxResume         = relay.DefaultRecentCalls // calls replayed for ?after= (all the relay holds)
	// closeTokenRevoked is the close code sent when the connection's token
	// dies (4401: "unauthorized" in the private-use range).
	closeTokenRevoked = 4401
)

// handleLive upgrades to a WebSocket and streams events. The request was
// authenticated before the upgrade; an optional ?after=<call id> first
// replays the held calls newer than that id, so a consumer that reconnects
// misses nothing.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, "websocket_required",
			"/v1/live is a WebSocket (ws://…/v1/live); for one endless audio stream a player can open, use /v1/stream.mp3")
		return
	}
	after, err := idParam(r.URL.Query().Get("after"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "after: "+err.Error())
		return
	}
	if !sameOriginOrNone(r) {
		writeError(w, http.StatusForbidden, "forbidden_origin", "WebSocket connections from other web origins are refused")
		return
	}
	up := websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		// Checked above, with a JSON answer; the upgrader must not relax it.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	// Subscribe before the upgrade so no event published meanwhile is lost.
	sub := s.src.Subscribe(s.queueLen)
	defer sub.Close()
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	defer conn.Close()
	s.liveConsumers.Add(1)
	defer s.liveConsumers.Add(-1)

	// Registered for revocation before anything is sent: not one event,
	// the ?after= replay included, goes out on a token that died.
	id := identityFrom(r.Context())
	handlerDone := make(chan struct{})
	defer close(handlerDone)
	ctx, release := s.track(r.Context(), id, func() {
		// The loop below sends the close frame; if it is stuck writing to
		// a consumer that stopped reading, the socket is closed under it.
		go func() {
			select {
			case <-handlerDone:
			case <-time.After(closeGrace):
				_ = conn.NetConn().Close()
			}
		}()
	})
	defer release()
	closeForCause := func() {
		if errors.Is(context.Cause(ctx), errTokenRevoked) {
			closeWith(conn, closeTokenRevoked, "stream token revoked, rotated out or expired")
		} else {
			closeWith(conn, websocket.CloseGoingAway, "relay shutting down")
		}
	}

	conn.SetReadLimit(maxInboundMessage)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_ = conn.SetReadDeadline(time.Now().Add(livePongWait))
		conn.SetPongHandler(func(string) error {
			return conn.SetReadDeadline(time.Now().Add(livePongWait))
		})
		for {
			// Read each message to its end: gorilla counts the read limit
			// only while a message is read, so skipping to the next one
			// would let a fragmented message of any size through.
			_, msg, err := conn.NextReader()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, msg); err != nil {
				return
			}
		}
	}()

	var lastSent int64
	// send writes one event unless the connection's token died: the
	// enforcer cancels ctx at once, and the explicit check makes sure not
	// one event goes out after the moment of revocation, whatever the
	// enforcer's timing.
	send := func(e event.Event) error {
		if ctx.Err() != nil || !s.connValid(id.TokenID, id.session, s.clock.Now()) {
			return errTokenRevoked
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_ = conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	sendOrClose := func(e event.Event) bool {
		err := send(e)
		if errors.Is(err, errTokenRevoked) {
			if ctx.Err() == nil {
				closeWith(conn, closeTokenRevoked, "stream token revoked, rotated out or expired")
			} else {
				closeForCause()
			}
		}
		return err == nil
	}
	st := s.src.Status().Backend
	if !sendOrClose(event.Event{Type: event.TypeStatus, Status: &st}) {
		return
	}
	// catchUp sends the held calls after id, oldest first: the ?after=
	// replay, and what the consumer missed behind a burst (a resync) or
	// after a reset.
	catchUp := func(after int64) bool {
		held := s.src.Calls(relay.Query{After: after, Limit: maxResume})
		for i := len(held) - 1; i >= 0; i-- {
			if !sendOrClose(event.Event{Type: event.TypeCall, Call: &held[i]}) {
				return false
			}
			lastSent = held[i].ID
		}
		return true
	}
	if after != 0 && !catchUp(after) {
		return
	}

	ping := time.NewTicker(livePingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			closeForCause()
			return
		case <-readDone:
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(liveWriteWait)); err != nil {
				return
			}
		case e, ok := <-sub.Events():
			if !ok {
				if errors.Is(sub.Err(), hub.ErrSlowConsumer) {
					closeWith(conn, websocket.ClosePolicyViolation, "consumer too slow: it stopped reading")
				} else {
					closeWith(conn, websocket.CloseGoingAway, "relay shutting down")
				}
				return
			}
			switch {
			case e.Type == event.TypeResync:
				// This consumer fell behind a burst: the hub skipped
				// events for it. Say so (a program that keeps more than
				// calls may reload), then send the calls it missed, and
				// the state now (statuses were skipped too).
				st := s.src.Status().Backend
				if !sendOrClose(event.Event{Type: event.TypeResync, After: lastSent}) || !catchUp(lastSent) ||
					!sendOrClose(event.Event{Type: event.TypeStatus, Status: &st}) {
					return
				}
				continue
			case e.Type == event.TypeReset:
				// Another account's (or a reset server's) ids follow:
				// pass the reset on, then the calls held already.
				lastSent = 0
				if !sendOrClose(e) || !catchUp(0) {
					return
				}
				continue
			case e.Type == event.TypeCall && e.Call != nil && e.Call.ID <= lastSent:
				continue // already sent from the held calls
			}
			if !sendOrClose(e) {
				return
			}
			if e.Type == event.TypeCall && e.Call != nil {
				lastSent = e.Call.ID
			}
		}
	}
}

func closeWith(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}
