package backendtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is one listener socket.
type wsClient struct {
	conn   *websocket.Conn
	v1     bool
	user   *user
	family string
	send   chan []byte
	// recheckAt is when (by the server's clock) the socket's account is
	// next re-validated; s.mu guards it.
	recheckAt time.Time
	// frozen: the socket has gone silent (FreezeSockets): nothing is
	// written to it and its pings go unanswered.
	frozen atomic.Bool

	writeMu sync.Mutex
}

func (c *wsClient) write(data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteLimit))
	return c.conn.WriteMessage(websocket.TextMessage, data)
}

// signedIn reports whether the socket authenticated (s.mu guards user).
func (c *wsClient) signedIn() bool { return c.family != "" }

// expire sends a session-expired frame and closes the socket.
func (c *wsClient) expire() {
	_ = c.write(frame(c.v1, "session.expired", "XPR", nil, nil))
	c.conn.Close()
}

// frame encodes one frame in the client's framing: {"type":…, …fields} on
// v1, [CMD, payload] (or [CMD]) on legacy.
func frame(v1 bool, typ, cmd string, fields map[string]any, legacy any) []byte {
	var b []byte
	if v1 {
		m := map[string]any{"type": typ}
		for k, v := range fields {
			m[k] = v
		}
		b, _ = json.Marshal(m)
	} else if legacy == nil {
		b, _ = json.Marshal([]any{cmd})
	} else {
		b, _ = json.Marshal([]any{cmd, legacy})
	}
	return b
}

func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1"
}

const (
	wsAuthWait   = 10 * time.Second // the real server's wait for the first message
	wsPingEvery  = 30 * time.Second
	wsReadLimit  = 64 << 10
	wsQueueLen   = 256
	wsWriteLimit = 10 * time.Second
	// wsRecheckEvery is the real server's account re-validation interval
	// for open sockets, on the server's clock; wsRecheckPoll is how often
	// (in real time) the fake looks at that clock, so a test's ManualClock
	// moved past a re-validation is noticed promptly.
	wsRecheckEvery = 5 * time.Minute
	wsRecheckPoll  = 100 * time.Millisecond
)

func (s *Server) handleWS(in *instance, w http.ResponseWriter, r *http.Request, v1 bool) {
	if !s.originAllowed(r) {
		writeError(w, v1, http.StatusForbidden, "forbidden", "origin not allowed")
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	if in.stopped {
		s.mu.Unlock()
		conn.Close()
		return
	}
	in.conns[conn] = struct{}{}
	in.wg.Add(1)
	s.counters.WSConnects++
	reject := s.rejectNext > 0
	reason := s.rejectReason
	if reject {
		s.rejectNext--
	}
	s.mu.Unlock()
	defer in.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(in.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	conn.SetReadLimit(wsReadLimit)
	c := &wsClient{conn: conn, v1: v1, send: make(chan []byte, wsQueueLen)}
	conn.SetPingHandler(func(data string) error {
		s.mu.Lock()
		s.counters.WSPings++
		s.mu.Unlock()
		if c.frozen.Load() {
			return nil
		}
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wsWriteLimit))
		return nil
	})
	if reject {
		s.mu.Lock()
		s.counters.WSRejected++
		s.mu.Unlock()
		c.reject(reason)
		return
	}
	if !s.opts.PublicAccess {
		_ = conn.SetReadDeadline(time.Now().Add(wsAuthWait))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		u, fam, ok := s.authFrame(msg)
		s.mu.Lock()
		if ok && s.refuseSignIns > 0 {
			s.refuseSignIns--
			ok = false
		}
		if !ok {
			s.counters.WSRefused++
		}
		s.mu.Unlock()
		if !ok {
			s.log.Debug("backendtest: WebSocket first message refused")
			c.expire()
			return
		}
		c.user, c.family = u, fam
	}
	_ = conn.SetReadDeadline(time.Time{})

	s.mu.Lock()
	if in.stopped {
		s.mu.Unlock()
		return
	}
	if s.overCapacityLocked(c.user) {
		s.counters.WSRejected++
		s.mu.Unlock()
		c.reject("max_clients")
		return
	}
	s.counters.WSAuthorized++
	c.recheckAt = s.clock.Now().Add(wsRecheckEvery)
	welcome := map[string]any{"version": s.opts.Version, "branding": "", "email": ""}
	c.send <- frame(v1, "connection.welcome", "VER", welcome, welcome)
	c.send <- s.configFrameLocked(c)
	s.clients[c] = struct{}{}
	s.listenersChangedLocked()
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			// Public servers accept a sign-in on the same socket later.
			if s.opts.PublicAccess && !c.signedIn() {
				if u, fam, ok := s.authFrame(msg); ok {
					s.mu.Lock()
					c.user, c.family = u, fam
					s.mu.Unlock()
				}
			}
		}
	}()
	ping := time.NewTicker(wsPingEvery)
	defer ping.Stop()
	recheck := time.NewTicker(wsRecheckPoll)
	defer recheck.Stop()
	defer func() {
		s.mu.Lock()
		if _, ok := s.clients[c]; ok {
			delete(s.clients, c)
			s.listenersChangedLocked()
		}
		s.mu.Unlock()
		conn.Close()
		<-done
	}()
	for {
		select {
		case <-done:
			return
		case <-recheck.C:
			if s.accountLapsed(c) {
				c.expire()
				return
			}
		case <-ping.C:
			if c.frozen.Load() {
				continue
			}
			c.writeMu.Lock()
			err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteLimit))
			c.writeMu.Unlock()
			if err != nil {
				return
			}
		case b := <-c.send:
			if c.frozen.Load() {
				continue // lost on the way, like everything on a dead link
			}
			if err := c.write(b); err != nil {
				return
			}
		}
	}
}

// reject sends a connection.rejected frame and lets the handler close.
func (c *wsClient) reject(reason string) {
	_ = c.write(frame(c.v1, "connection.rejected", "MAX", map[string]any{"reason": reason}, nil))
}

// overCapacityLocked reports whether one more signed-in socket for u (nil:
// anonymous) would pass the server's maxClients or u's own limit.
func (s *Server) overCapacityLocked(u *user) bool {
	if s.opts.MaxClients > 0 && len(s.clients) >= s.opts.MaxClients {
		return true
	}
	if u == nil || u.connLimit <= 0 {
		return false
	}
	n := 0
	for c := range s.clients {
		if c.user == u {
			n++
		}
	}
	return n >= u.connLimit
}

// accountLapsed runs a socket's 5-minute account re-validation when it is
// due, and reports whether the account is no longer valid (disabled,
// expired or deleted); the caller then closes the socket with a
// session-expired frame. Anonymous sockets have no account to check.
func (s *Server) accountLapsed(c *wsClient) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if c.user == nil || now.Before(c.recheckAt) {
		return false
	}
	s.counters.WSRechecked++
	c.recheckAt = now.Add(wsRecheckEvery)
	if s.accountValidLocked(c.user, now) {
		return false
	}
	if _, ok := s.clients[c]; ok {
		delete(s.clients, c)
		s.listenersChangedLocked()
	}
	return true
}

// authFrame checks a first message: a JSON array whose first element is
// the access JWT.
func (s *Server) authFrame(msg []byte) (*user, string, bool) {
	var arr []json.RawMessage
	if json.Unmarshal(msg, &arr) != nil || len(arr) == 0 {
		return nil, "", false
	}
	var tok string
	if json.Unmarshal(arr[0], &tok) != nil || strings.Count(tok, ".") != 2 {
		return nil, "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userForAccessLocked(tok)
}

// configLocked is the scanner config as user u (nil: anonymous) sees it.
// Like the real server (1.3.3, 1.2.0 and 1.1.2 alike), it lists every
// system, the ones outside u's grants too: grants limit the calls, their
// audio and history, never the config.
func (s *Server) configLocked(u *user) map[string]any {
	systems := []any{}
	for _, sys := range s.systems {
		tgs := []any{}
		for _, tg := range sys.tgs {
			t := map[string]any{"id": tg.row, "talkgroupId": tg.id, "label": tg.label}
			if tg.name != "" {
				t["name"] = tg.name
			}
			if tg.group != "" {
				t["group"] = tg.group
			}
			if tg.tag != "" {
				t["tag"] = tg.tag
			}
			if tg.led != "" {
				t["ledColor"] = tg.led
			}
			tgs = append(tgs, t)
		}
		m := map[string]any{"id": sys.row, "systemId": sys.id, "label": sys.label, "talkgroups": tgs}
		if sys.led != "" {
			m["ledColor"] = sys.led
		}
		systems = append(systems, m)
	}
	return map[string]any{"keypadBeeps": "uniden", "playbackGoesLive": false, "shareableLinks": false,
		"showListenersCount": false, "systems": systems, "time12hFormat": false, "transcriptionEnabled": false}
}

func (s *Server) configFrameLocked(c *wsClient) []byte {
	cfg := s.configLocked(c.user)
	return frame(c.v1, "scanner.config", "CFG", map[string]any{"config": cfg}, cfg)
}

// deliverLocked queues a frame for every client that may see it; a full
// queue drops the frame, as the real server does.
func (s *Server) deliverLocked(build func(c *wsClient) []byte) {
	for c := range s.clients {
		b := build(c)
		if b == nil {
			continue
		}
		select {
		case c.send <- b:
		default:
			s.log.Debug("backendtest: a client's queue is full; frame dropped")
		}
	}
}

func (s *Server) broadcastConfigLocked() {
	s.deliverLocked(s.configFrameLocked)
}

// listenersChangedLocked (re)starts the listener count's debounce: the
// count goes out ListenerCountDelay after the last change.
func (s *Server) listenersChangedLocked() {
	if s.cur == nil {
		return
	}
	select {
	case s.cur.countDue <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// countLoop broadcasts the listener count once the listeners have stopped
// changing for ListenerCountDelay (the real server's 3-second debounce),
// until the instance stops.
func (s *Server) countLoop(in *instance) {
	defer in.wg.Done()
	t := time.NewTimer(s.opts.ListenerCountDelay)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-in.quit:
			return
		case <-in.countDue:
			t.Reset(s.opts.ListenerCountDelay)
		case <-t.C:
			s.mu.Lock()
			if s.cur == in {
				s.broadcastCountLocked()
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) broadcastCountLocked() {
	n := len(s.clients)
	v1 := frame(true, "listener.count", "LSC", map[string]any{"count": n}, nil)
	legacy := frame(false, "listener.count", "LSC", nil, n)
	s.deliverLocked(func(c *wsClient) []byte {
		if c.v1 {
			return v1
		}
		return legacy
	})
}

func (s *Server) callPayloadLocked(c *call, inline bool) map[string]any {
	m := map[string]any{
		"id": c.id, "audioName": c.spec.AudioName, "audioType": c.spec.AudioType,
		"dateTime": c.spec.DateTime.Unix(), "duration": c.spec.Duration, "frequency": c.spec.Frequency,
		"system": c.systemRow, "systemId": c.spec.SystemID, "talkgroup": c.tgRow, "talkgroupId": c.spec.TalkgroupID,
	}
	if c.spec.Source != 0 {
		m["source"] = c.spec.Source
	}
	if c.spec.TalkerAlias != "" {
		m["talkerAlias"] = c.spec.TalkerAlias
	}
	if c.spec.Site != "" {
		m["site"] = c.spec.Site
	}
	if c.spec.Channel != "" {
		m["channel"] = c.spec.Channel
	}
	if inline {
		m["audio"] = c.spec.Audio // []byte marshals as base64, as 1.1 sends it
	}
	return m
}

func (s *Server) broadcastCallLocked(cl *call) {
	inline := s.opts.Generation == Gen112
	p := s.callPayloadLocked(cl, inline)
	v1 := frame(true, "call.new", "CAL", map[string]any{"call": p}, nil)
	legacy := frame(false, "call.new", "CAL", nil, p)
	s.deliverLocked(func(c *wsClient) []byte {
		if !c.user.visible(cl) {
			return nil
		}
		if c.v1 {
			return v1
		}
		return legacy
	})
}

func (s *Server) broadcastTranscriptLocked(cl *call) {
	p := map[string]any{"callId": cl.id, "text": cl.transcript}
	v1 := frame(true, "call.transcript", "TRN", p, nil)
	legacy := frame(false, "call.transcript", "TRN", nil, p)
	s.deliverLocked(func(c *wsClient) []byte {
		if !c.user.visible(cl) {
			return nil
		}
		if c.v1 {
			return v1
		}
		return legacy
	})
}
