package server

import (
	"context"
	"encoding/json"
	"errors"
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
	maxResume         = 1000 // calls replayed for ?after=
	// closeTokenRevoked is the close code sent when the connection's token
	// dies (4401: "unauthorized" in the private-use range).
	closeTokenRevoked = 4401
)

// handleLive upgrades to a WebSocket and streams events. The request was
// authenticated before the upgrade; an optional ?after=<call id> first
// replays the held calls newer than that id, so a consumer that reconnects
// misses nothing.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
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

	conn.SetReadLimit(maxInboundMessage)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_ = conn.SetReadDeadline(time.Now().Add(livePongWait))
		conn.SetPongHandler(func(string) error {
			return conn.SetReadDeadline(time.Now().Add(livePongWait))
		})
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	var lastSent int64
	send := func(e event.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_ = conn.SetWriteDeadline(time.Now().Add(liveWriteWait))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	st := s.src.Status().Backend
	if err := send(event.Event{Type: event.TypeStatus, Status: &st}); err != nil {
		return
	}
	if after != 0 {
		held := s.src.Calls(relay.Query{After: after, Limit: maxResume})
		for i := len(held) - 1; i >= 0; i-- {
			if err := send(event.Event{Type: event.TypeCall, Call: &held[i]}); err != nil {
				return
			}
			lastSent = held[i].ID
		}
	}

	tokenID := identityFrom(r.Context()).TokenID
	ctx, release := s.track(r.Context(), tokenID, nil)
	defer release()
	ping := time.NewTicker(livePingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errTokenRevoked) {
				closeWith(conn, closeTokenRevoked, "stream token revoked, rotated out or expired")
			} else {
				closeWith(conn, websocket.CloseGoingAway, "relay shutting down")
			}
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
					closeWith(conn, websocket.ClosePolicyViolation, "consumer too slow: event queue full")
				} else {
					closeWith(conn, websocket.CloseGoingAway, "relay shutting down")
				}
				return
			}
			if e.Type == event.TypeCall && e.Call != nil && e.Call.ID <= lastSent {
				continue // already replayed from the held calls
			}
			// The enforcer closes dead tokens' connections within its sweep;
			// this check makes sure not one event goes out after the moment
			// of revocation, whatever the sweep's timing.
			if !s.auth.Valid(tokenID) {
				closeWith(conn, closeTokenRevoked, "stream token revoked, rotated out or expired")
				return
			}
			if err := send(e); err != nil {
				return
			}
		}
	}
}

func closeWith(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}
