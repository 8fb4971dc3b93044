// Package backendtest is an in-process fake OpenScanner server for tests and
// the demo mode, on a real loopback listener.
//
// It follows ../shared/openscanner-api.md (observed on OpenScanner 1.3.3)
// and the captures of real 1.3.3, 1.2.0 and 1.1.2 servers (copied in
// testdata/captures; the tests hold every frame and exchange to them), for
// the three generations in the field: v1 and legacy routes and WebSocket
// framings (1.2 and 1.1 answer 404 on /api/v1), login/refresh/logout with
// rotating refresh-token families, the 30-second replay grace and theft
// revocation, the 3-failure rate limit, the os_session (1.2+) and
// refresh_token cookies with their real attributes (refresh_token on
// Path=/api on 1.3, /api/auth on 1.2 and 1.1), the audio route's
// Bearer → cookie → anonymous order, http.ServeContent audio, history,
// uploads, first-message WebSocket auth, the per-address lockout in front
// of login and refresh, maxClients and per-user connection limits, the
// 5-minute account re-validation of open sockets, 1.1's inline CAL audio,
// durations measured from the uploaded audio, the listener count debounced
// (one frame 3 s after connects settle), passwordNeedChange for accounts an
// admin created, nameless talkgroups in 1.2/1.1 history, and deprecation
// headers on 1.3's legacy routes only. capture_test.go replays every
// capture against it. Its clock and token lifetimes are injectable, and it has hooks to
// disable or expire accounts, drop broadcasts, close or freeze sockets,
// expire sessions, refuse socket sign-ins, reject connections, send raw
// frames, restart and count what clients did (pings included). It also
// synthesizes real WAV audio.
//
// It owns only the fake: it must not invent routes or fields the real
// server lacks (a route it does not know answers 404, is counted in
// Counters().Unhandled, logged at error level and passed to
// Options.OnUnhandled, so a client calling something imaginary fails
// loudly), keep package-level state, log secrets, or leave a goroutine
// running after Stop or Close.
package backendtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// Generation is an OpenScanner server generation.
type Generation int

const (
	// Gen133 is 1.3.x: v1 and legacy APIs, os_session cookie, metadata-only calls.
	Gen133 Generation = iota
	// Gen120 is 1.2.x: legacy API only (v1 answers 404), os_session cookie.
	Gen120
	// Gen112 is 1.1.x and older: legacy only, no os_session cookie (audio by
	// Bearer only), and CAL frames carry the audio inline.
	Gen112
)

func (g Generation) version() string {
	switch g {
	case Gen120:
		return "1.2.0"
	case Gen112:
		return "1.1.2"
	}
	return "1.3.3"
}

// Clock is the server's notion of now.
type Clock interface{ Now() time.Time }

// ManualClock is a Clock tests move by hand. It is safe for concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock set to t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Set sets the clock to t.
func (c *ManualClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options configure a Server.
type Options struct {
	Generation   Generation
	PublicAccess bool
	// Clock drives token lifetimes and the replay grace; nil is real time.
	Clock       Clock
	AccessTTL   time.Duration // 0: 15 minutes
	RefreshTTL  time.Duration // 0: 30 days
	ReplayGrace time.Duration // 0: 30 seconds
	// Users maps user names to passwords; nil is {"listener": "listener-pass"}.
	Users map[string]string
	// Addr to listen on; "" is 127.0.0.1:0.
	Addr string
	// Version is what health and the welcome frame report; "" is the
	// generation's version (1.3.3, 1.2.0, 1.1.2). Real development builds
	// say "dev", as in the captures.
	Version string
	// APIKey is the upload key POST /api/call-upload accepts; "" is
	// "test-api-key".
	APIKey string
	// OnUnhandled, if set, is called for every request to a route the real
	// server does not have (tests pass a func that calls t.Errorf).
	OnUnhandled func(method, path string)
	Logger      *slog.Logger
	// KeepCalls, when above 0, is how many of the newest calls the server
	// keeps: older ones are pruned (gone from history, their audio 404), as
	// a real server's pruning does. The demo sets it so that a relay left
	// running on demo traffic for weeks does not hold every call's audio in
	// memory. 0 keeps every call.
	KeepCalls int
	// ListenerCountDelay is how long after the last listener connected or
	// left the server broadcasts the listener count: the real server
	// debounces it (one listener.count 3 s after a burst of connects, not
	// one per connect). 0 is 3 s.
	ListenerCountDelay time.Duration
	// MaxClients, when above 0, is the server's maxClients: a socket that
	// would be one more than this many signed-in listeners gets a
	// connection.rejected (MAX) frame and is closed. SetConnectionLimit sets
	// a user's own limit, which works the same way.
	MaxClients int
}

// Counters count what clients did.
type Counters struct {
	Logins          int // successful logins
	FailedLogins    int // logins refused (wrong credentials or rate limited)
	Refreshes       int // successful refreshes
	RefreshFailures int
	RevokedFamilies int // families revoked for replay, cap or logout
	Logouts         int
	AudioRequests   int
	AudioByCookie   int // audio served on the os_session cookie
	AudioByBearer   int // audio served on the Bearer header
	AudioAnonymous  int // audio served anonymously (public access)
	HistoryRequests int
	WSConnects      int // WebSocket upgrades
	WSAuthorized    int // sockets that passed first-message auth (or public)
	WSRefused       int // sockets whose first-message auth was refused (session-expired frame)
	WSRejected      int // sockets turned away with a connection.rejected frame (RejectNext, MaxClients, a user's limit)
	WSRechecked     int // 5-minute account re-validations of open sockets
	WSPings         int // pings received from clients
	RateLimited     int // login and refresh requests answered 429 (the per-IP lockout)
	Unhandled       int // requests to routes the real server does not have
}

// CallSpec describes a call to add.
type CallSpec struct {
	SystemID    int64 // radio system id
	TalkgroupID int64 // radio talkgroup id
	DateTime    time.Time
	Audio       []byte
	AudioName   string
	AudioType   string // as an uploader would declare it; often application/octet-stream
	Frequency   int64
	// Duration is in seconds; 0 has the server measure it from Audio as
	// the real one does at upload (whole seconds; 0 if unmeasurable).
	Duration    float64
	Source      int64
	TalkerAlias string
	Site        string
	Channel     string
	// SystemLabel and TalkgroupLabel label a system or talkgroup the
	// server does not know yet, which an upload creates (and announces in a
	// new scanner.config) as a real server does; "" labels it with its id.
	SystemLabel, TalkgroupLabel string
}

type call struct {
	id         int64
	spec       CallSpec
	transcript string
	systemRow  int64
	tgRow      int64
	uploaded   time.Time
}

type system struct {
	row, id    int64
	label, led string
	tgs        []*talkgroup
}

type talkgroup struct {
	row, id                      int64
	label, name, group, tag, led string
}

type user struct {
	id       int64
	name     string
	password string
	grants   map[int64]bool // radio system ids; nil = all
	families []string       // live family ids, oldest first
	// disabled and expires (zero: never) are the account's state, which
	// login, refresh, token checks and the sockets' 5-minute re-validation
	// consult; connLimit (0: none) caps the user's signed-in sockets.
	disabled  bool
	expires   time.Time
	connLimit int
	// needsNewPassword is the login answer's passwordNeedChange: true for
	// an account an admin created, until its user changes the password.
	needsNewPassword bool
}

// accountValidLocked reports whether u may be signed in at now: the
// account exists, is enabled and has not expired.
func (s *Server) accountValidLocked(u *user, now time.Time) bool {
	return s.users[u.name] == u && !u.disabled && (u.expires.IsZero() || now.Before(u.expires))
}

type family struct {
	id      string
	user    *user
	revoked bool
	created time.Time
	// remember is the login's rememberMe: persistent refresh cookies.
	remember bool
}

type refreshEntry struct {
	family    *family
	expires   time.Time
	usedAt    time.Time // zero until rotated
	successor string
}

type failures struct {
	count        int
	blockedUntil time.Time
}

// instance is one run of the server between Start and Stop.
type instance struct {
	hs      *http.Server
	done    chan struct{} // closed when Serve returns
	quit    chan struct{} // closed by Stop
	stopped bool
	conns   map[*websocket.Conn]struct{} // every upgraded socket, authenticated or not
	wg      sync.WaitGroup               // WebSocket handlers and countLoop
	// countDue wakes countLoop: the set of listeners changed.
	countDue chan struct{}
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	clock  Clock
	log    *slog.Logger
	secret []byte

	mu            sync.Mutex
	addr          string
	cur           *instance // nil while stopped
	closed        bool
	systems       []*system
	calls         []*call // ascending ids (older ones pruned)
	nextID        int64   // the id the next call gets
	users         map[string]*user
	families      map[string]*family
	refresh       map[string]*refreshEntry
	accessFamily  map[string]accessEntry // by access jti
	revokedJTI    map[string]bool
	swept         int // the size of the token tables after the last sweep
	fails         map[string]*failures
	clients       map[*wsClient]struct{}
	dropNext      int
	rejectNext    int
	rejectReason  string
	refuseSignIns int
	audioRedirect func(*http.Request) string // RedirectAudio
	partialAudio  bool                       // PartialAudio
	counters      Counters
	systemRows    int64 // row ids, as the real server's tables number them
	tgRows        int64
}

// NewServer starts a fake server listening on loopback. It panics if it
// cannot listen (a test machine without loopback is beyond saving).
func NewServer(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = 15 * time.Minute
	}
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = 30 * 24 * time.Hour
	}
	if opts.ReplayGrace == 0 {
		opts.ReplayGrace = 30 * time.Second
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"listener": "listener-pass"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.APIKey == "" {
		opts.APIKey = "test-api-key"
	}
	if opts.Version == "" {
		opts.Version = opts.Generation.version()
	}
	if opts.ListenerCountDelay <= 0 {
		opts.ListenerCountDelay = 3 * time.Second
	}
	s := &Server{
		opts:         opts,
		clock:        opts.Clock,
		log:          opts.Logger,
		secret:       randomBytes(32),
		users:        map[string]*user{},
		families:     map[string]*family{},
		refresh:      map[string]*refreshEntry{},
		accessFamily: map[string]accessEntry{},
		revokedJTI:   map[string]bool{},
		fails:        map[string]*failures{},
		clients:      map[*wsClient]struct{}{},
		addr:         opts.Addr,
		nextID:       1,
	}
	var uid int64 = 1 // 1 is the admin on a real server
	names := make([]string, 0, len(opts.Users))
	for n := range opts.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		uid++
		// Listener accounts are created by an admin, so the real server
		// asks their users to change the password (captures: login-ok).
		s.users[n] = &user{id: uid, name: n, password: opts.Users[n], needsNewPassword: true}
	}
	if err := s.Start(); err != nil {
		panic(fmt.Sprintf("backendtest: %v", err))
	}
	return s
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

// newUUID is a random (version 4) UUID, the shape of the real server's
// token ids and request ids.
func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

// Start listens again on the server's address (after Stop).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("backendtest: the server is closed")
	}
	if s.cur != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port may linger briefly after Stop.
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("backendtest: listen on %s: %w", s.addr, err)
	}
	s.addr = ln.Addr().String()
	in := &instance{done: make(chan struct{}), quit: make(chan struct{}), conns: map[*websocket.Conn]struct{}{},
		countDue: make(chan struct{}, 1)}
	in.hs = &http.Server{Handler: s.routes(in), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.cur = in
	in.wg.Add(1)
	go s.countLoop(in)
	go func() {
		defer close(in.done)
		_ = in.hs.Serve(ln)
	}()
	return nil
}

// Stop takes the server down: the listener and every connection close, and
// every goroutine of this run ends before Stop returns. State (calls,
// users, sessions) survives for Start, like a real restart.
func (s *Server) Stop() {
	s.mu.Lock()
	in := s.cur
	s.cur = nil
	var conns []*websocket.Conn
	if in != nil {
		in.stopped = true
		for c := range in.conns {
			conns = append(conns, c)
		}
	}
	clear(s.clients)
	s.mu.Unlock()
	if in == nil {
		return
	}
	close(in.quit)
	_ = in.hs.Close() // listener and plain HTTP connections
	for _, c := range conns {
		c.Close() // hijacked: http.Server no longer tracks them
	}
	<-in.done
	in.wg.Wait()
}

// Restart stops and starts the server on the same address.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// Close stops the server for good; Start fails afterwards.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Stop()
}

func (s *Server) takeClientsLocked() []*wsClient {
	out := make([]*wsClient, 0, len(s.clients))
	for c := range s.clients {
		out = append(out, c)
		delete(s.clients, c)
	}
	return out
}

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters
}

// AddSystem adds (or relabels) a radio system and broadcasts the config.
func (s *Server) AddSystem(id int64, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sys := s.systemLocked(id); sys != nil {
		sys.label = label
	} else {
		s.newSystemLocked(id, label)
	}
	s.broadcastConfigLocked()
}

// SetSystemLED sets a system's LED colour (e.g. "red" or "#ff0000") and
// broadcasts the config.
func (s *Server) SetSystemLED(id int64, led string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sys := s.systemLocked(id); sys != nil {
		sys.led = led
		s.broadcastConfigLocked()
	}
}

// AddTalkgroup adds (or updates) a talkgroup of system systemID (created if
// needed) and broadcasts the config.
func (s *Server) AddTalkgroup(systemID, tgID int64, label, name, group, tag, led string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sys := s.systemLocked(systemID)
	if sys == nil {
		sys = s.newSystemLocked(systemID, "")
	}
	tg := s.talkgroupLocked(sys, tgID)
	if tg == nil {
		tg = s.newTalkgroupLocked(sys, tgID, "")
	}
	tg.label, tg.name, tg.group, tg.tag, tg.led = label, name, group, tag, led
	s.broadcastConfigLocked()
}

func (s *Server) newSystemLocked(id int64, label string) *system {
	if label == "" {
		label = strconv.FormatInt(id, 10)
	}
	s.systemRows++
	sys := &system{row: s.systemRows, id: id, label: label}
	s.systems = append(s.systems, sys)
	return sys
}

func (s *Server) newTalkgroupLocked(sys *system, id int64, label string) *talkgroup {
	if label == "" {
		label = strconv.FormatInt(id, 10)
	}
	s.tgRows++
	tg := &talkgroup{row: s.tgRows, id: id, label: label}
	sys.tgs = append(sys.tgs, tg)
	return tg
}

func (s *Server) systemLocked(id int64) *system {
	for _, sys := range s.systems {
		if sys.id == id {
			return sys
		}
	}
	return nil
}

func (s *Server) talkgroupLocked(sys *system, id int64) *talkgroup {
	if sys == nil {
		return nil
	}
	for _, t := range sys.tgs {
		if t.id == id {
			return t
		}
	}
	return nil
}

// AddCall stores a call as an upload would and broadcasts it (unless a
// DropBroadcasts is pending). Like an upload, a call of a system or
// talkgroup the server does not know creates it, and each creation
// broadcasts a new scanner.config first. It returns the call id; ids
// increase from 1.
func (s *Server) AddCall(spec CallSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if spec.DateTime.IsZero() {
		spec.DateTime = now
	}
	if spec.AudioName == "" {
		spec.AudioName = "call.wav"
	}
	if spec.AudioType == "" {
		spec.AudioType = "application/octet-stream"
	}
	spec.Audio = append([]byte(nil), spec.Audio...)
	if spec.Duration == 0 {
		// The real server measures every upload (ffprobe, rounded).
		spec.Duration = measuredDuration(spec.Audio)
	}
	sys := s.systemLocked(spec.SystemID)
	if sys == nil {
		sys = s.newSystemLocked(spec.SystemID, spec.SystemLabel)
		s.broadcastConfigLocked()
	}
	tg := s.talkgroupLocked(sys, spec.TalkgroupID)
	if tg == nil {
		tg = s.newTalkgroupLocked(sys, spec.TalkgroupID, spec.TalkgroupLabel)
		s.broadcastConfigLocked()
	}
	c := &call{id: s.nextID, spec: spec, uploaded: now, systemRow: sys.row, tgRow: tg.row}
	at := len(s.calls)
	switch {
	case s.nextID == 0:
		// The sequence is spent (math.MaxInt64 was given): like SQLite,
		// take an unused id, here the lowest.
		c.id, at = 1, 0
		for at < len(s.calls) && s.calls[at].id == c.id {
			c.id++
			at++
		}
	case s.nextID == math.MaxInt64:
		s.nextID = 0
	default:
		s.nextID++
	}
	s.calls = slices.Insert(s.calls, at, c)
	if k := s.opts.KeepCalls; k > 0 && len(s.calls) > k {
		n := len(s.calls) - k
		clear(s.calls[:n]) // let the pruned calls' audio be collected
		s.calls = s.calls[n:]
	}
	if s.dropNext > 0 {
		s.dropNext--
		return c.id
	}
	s.broadcastCallLocked(c)
	return c.id
}

// SetTranscript sets a call's transcript and broadcasts it.
func (s *Server) SetTranscript(callID int64, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.callLocked(callID); c != nil {
		c.transcript = text
		s.broadcastTranscriptLocked(c)
	}
}

// SetAudio replaces a stored call's audio (and its declared name and type,
// when not ""), e.g. to serve an MP3 or M4A fixture.
func (s *Server) SetAudio(callID int64, audio []byte, name, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.callLocked(callID); c != nil {
		c.spec.Audio = append([]byte(nil), audio...)
		if name != "" {
			c.spec.AudioName = name
		}
		if typ != "" {
			c.spec.AudioType = typ
		}
		c.uploaded = s.clock.Now()
	}
}

// callLocked returns the stored call with the server's id, or nil when
// there is none (never added, or pruned).
func (s *Server) callLocked(id int64) *call {
	i := sort.Search(len(s.calls), func(i int) bool { return s.calls[i].id >= id })
	if i < len(s.calls) && s.calls[i].id == id {
		return s.calls[i]
	}
	return nil
}

// Calls is the number of stored calls (pruned ones not counted).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// RestoreCalls puts the call table back to what it held after call
// keep, as a restore from a backup taken then does: later calls are gone,
// and the next call gets id keep+1 again (a different call under an id a
// client has seen). RestoreCalls(0) empties it, as a reinstall at the same
// address does. Accounts and sessions stay.
func (s *Server) RestoreCalls(keep int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.calls), func(i int) bool { return s.calls[i].id > keep })
	clear(s.calls[i:])
	s.calls = s.calls[:i]
	s.nextID = max(keep, 0) + 1
}

// SetNextCallID makes the next call get id (and the ones after it count
// on from there), as when a server's id sequence is bumped; an id not above
// every stored one is ignored. After
// math.MaxInt64, calls get the lowest unused ids, as SQLite then does.
func (s *Server) SetNextCallID(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.calls); n > 0 && id <= s.calls[n-1].id {
		return // ids only go forward (RestoreCalls takes them back)
	}
	s.nextID = max(id, 1)
}

// DropBroadcasts makes the next n call broadcasts go to nobody, as when the
// server's own queue is full. The calls are still stored (history has them).
func (s *Server) DropBroadcasts(n int) {
	s.mu.Lock()
	s.dropNext += n
	s.mu.Unlock()
}

// CloseSockets closes every live WebSocket abruptly (no close frame).
func (s *Server) CloseSockets() {
	s.mu.Lock()
	clients := s.takeClientsLocked()
	s.mu.Unlock()
	for _, c := range clients {
		c.conn.Close()
	}
}

// ExpireSessions sends every live WebSocket a session-expired frame and
// closes it, and makes every access token issued so far invalid, as when
// the server's secret rotates.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	for jti := range s.accessFamily {
		s.revokedJTI[jti] = true
	}
	clients := s.takeClientsLocked()
	s.mu.Unlock()
	for _, c := range clients {
		c.expire()
	}
}

// RejectNext makes the next n WebSocket connections get a rejected frame
// with reason (e.g. "max_clients") and close.
func (s *Server) RejectNext(n int, reason string) {
	s.mu.Lock()
	s.rejectNext, s.rejectReason = n, reason
	s.mu.Unlock()
}

// RefuseSignIns makes the next n WebSocket sign-ins (first messages) fail
// whatever the token, with a session-expired frame and a close — what the
// server answers a revoked or wrong-role token. n < 0 refuses every one
// until RefuseSignIns(0).
func (s *Server) RefuseSignIns(n int) {
	s.mu.Lock()
	if n < 0 {
		n = int(^uint(0) >> 1)
	}
	s.refuseSignIns = n
	s.mu.Unlock()
}

// RedirectAudio makes audio requests that target answers a URL for be
// redirected there (302) before anything else is checked, as a hostile or
// misconfigured server might; target returning "" serves the audio as
// usual. nil ends it.
func (s *Server) RedirectAudio(target func(r *http.Request) string) {
	s.mu.Lock()
	s.audioRedirect = target
	s.mu.Unlock()
}

// PartialAudio makes the server answer a plain audio GET (no Range) with
// 206 and the first half of the file, as a broken proxy or hostile server
// might.
func (s *Server) PartialAudio(on bool) {
	s.mu.Lock()
	s.partialAudio = on
	s.mu.Unlock()
}

// SendRaw queues data as one text frame, exactly as given, to every live
// socket (after its welcome): for testing how clients take frames a
// broken or hostile server might send, malformed or oversized.
func (s *Server) SendRaw(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append([]byte(nil), data...)
	s.deliverLocked(func(*wsClient) []byte { return b })
}

// FreezeSockets makes every live socket go silent, as when the network
// between client and server dies without a reset: the server writes
// nothing more to it (frames, its pings, pongs to the client's pings) and
// does not close it. Only the client can notice, by its read deadline.
func (s *Server) FreezeSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		c.frozen.Store(true)
	}
}

// DisableUser disables (or, with false, re-enables) an account, as an
// admin does: login and refresh answer 401 and its access tokens stop
// working at once, but its open sockets stay up until their next 5-minute
// account re-validation (by the server's clock), which closes them with a
// session-expired frame.
func (s *Server) DisableUser(username string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[username]; u != nil {
		u.disabled = disabled
	}
}

// SetAccountExpiry makes an account expire at t (zero: never), with the
// same effects as DisableUser from that moment of the server's clock.
func (s *Server) SetAccountExpiry(username string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[username]; u != nil {
		u.expires = t
	}
}

// SetConnectionLimit caps how many signed-in sockets a user may have at
// once (0: no cap); one more gets a connection.rejected frame.
func (s *Server) SetConnectionLimit(username string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[username]; u != nil {
		u.connLimit = n
	}
}

// ChangePassword sets an account's password as its user does in the web
// UI: the server stops asking for a new one (passwordNeedChange false).
func (s *Server) ChangePassword(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[username]; u != nil {
		u.password, u.needsNewPassword = password, false
	}
}

// GrantSystems restricts user to the given radio systems (none given: all).
func (s *Server) GrantSystems(username string, systemIDs ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[username]
	if u == nil {
		return
	}
	if len(systemIDs) == 0 {
		u.grants = nil
		return
	}
	u.grants = map[int64]bool{}
	for _, id := range systemIDs {
		u.grants[id] = true
	}
}

// visible reports whether u (nil: anonymous) may see c.
func (u *user) visible(c *call) bool {
	return u == nil || u.grants == nil || u.grants[c.spec.SystemID]
}

// accessClaims are the access JWT's claims, as the real server issues them.
type accessClaims struct {
	UserID   int64  `json:"userId"`
	Username string `json:"username"`
	Role     string `json:"role"`
	jwt.RegisteredClaims
}

func (s *Server) issueAccessLocked(u *user, fam *family) (string, time.Time) {
	now := s.clock.Now()
	exp := now.Add(s.opts.AccessTTL)
	jti := newUUID()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims{
		UserID: u.id, Username: u.name, Role: "listener",
		RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), ID: jti,
		},
	})
	signed, err := t.SignedString(s.secret)
	if err != nil {
		panic(err)
	}
	s.accessFamily[jti] = accessEntry{family: fam.id, expires: exp}
	s.sweepLocked(now)
	return signed, exp
}

// accessEntry is what the fake remembers of an access token it issued.
type accessEntry struct {
	family  string
	expires time.Time
}

// sweepLocked forgets the tokens no request can use any more — access and
// refresh tokens past their expiry — whenever the tables have doubled
// since the last sweep, so a long run's memory stays flat (the real
// server's database prunes expired tokens too).
func (s *Server) sweepLocked(now time.Time) {
	n := len(s.accessFamily) + len(s.refresh)
	if n < 1024 || n < 2*s.swept {
		return
	}
	for jti, a := range s.accessFamily {
		if !now.Before(a.expires) {
			delete(s.accessFamily, jti)
			delete(s.revokedJTI, jti)
		}
	}
	for tok, e := range s.refresh {
		if !now.Before(e.expires) {
			delete(s.refresh, tok)
		}
	}
	s.swept = len(s.accessFamily) + len(s.refresh)
}

// userForAccessLocked validates an access JWT against the fake's clock.
func (s *Server) userForAccessLocked(token string) (*user, string, bool) {
	var c accessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.clock.Now), jwt.WithExpirationRequired())
	if err != nil || s.revokedJTI[c.ID] {
		return nil, "", false
	}
	famID := s.accessFamily[c.ID].family
	if f := s.families[famID]; f == nil || f.revoked {
		return nil, "", false
	}
	u := s.users[c.Username]
	if u == nil || !s.accountValidLocked(u, s.clock.Now()) {
		return nil, "", false
	}
	return u, famID, true
}

func (s *Server) revokeFamilyLocked(f *family) {
	if f.revoked {
		return
	}
	f.revoked = true
	s.counters.RevokedFamilies++
	for i, id := range f.user.families {
		if id == f.id {
			f.user.families = append(f.user.families[:i], f.user.families[i+1:]...)
			break
		}
	}
	for jti, a := range s.accessFamily {
		if a.family == f.id {
			s.revokedJTI[jti] = true
		}
	}
}

// closeFamilySocketsLocked takes the sockets of family id for closing.
func (s *Server) closeFamilySocketsLocked(id string) []*wsClient {
	var out []*wsClient
	for c := range s.clients {
		if c.family == id {
			out = append(out, c)
			delete(s.clients, c)
		}
	}
	return out
}

// hasV1 reports whether this generation serves /api/v1.
func (s *Server) hasV1() bool { return s.opts.Generation == Gen133 }

// refreshCookiePath is the refresh_token cookie's Path: /api on 1.3, but
// /api/auth on 1.2 and 1.1 (captures/1.2.0/http/login-ok.txt,
// 1.1.2/http/login-ok.txt), which a cookie jar asked about /api/ does not
// return.
func (s *Server) refreshCookiePath() string {
	if s.opts.Generation == Gen133 {
		return "/api"
	}
	return "/api/auth"
}

// legacyDeprecated reports whether this generation's legacy routes answer
// with Deprecation/Sunset/Link headers: only 1.3, which has the v1
// successors they point to (the 1.2 and 1.1 captures carry none).
func (s *Server) legacyDeprecated() bool { return s.opts.Generation == Gen133 }

// setsSessionCookie reports whether this generation sets os_session.
func (s *Server) setsSessionCookie() bool { return s.opts.Generation != Gen112 }
