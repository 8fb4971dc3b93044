// Package server is the relay's loopback HTTP and WebSocket front: the data
// plane local programs use (live feed, recent calls, call audio, status).
//
// Every request passes one gate (gate.go) before routing: Host check, then
// authentication, with security headers set. What a request or connection
// was authenticated as travels with that request; the handler keeps no
// per-connection state of its own. The server reads everything through the
// relay core's Go API (the Source interface) and must never talk to the
// OpenScanner server or import any GUI package.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"earshot/relay"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/stream"
)

// Source is the subset of the relay core the server serves from.
type Source interface {
	Subscribe(queueLen int) *hub.Subscriber
	Calls(q relay.Query) []event.Call
	Call(id int64) (event.Call, bool)
	Audio(ctx context.Context, id int64) (*cache.Entry, error)
	Status() relay.Report
}

var _ Source = (*relay.Relay)(nil)

// Token scopes.
const (
	ScopeListen  = "listen"  // the data plane
	ScopeControl = "control" // the data plane and token management
)

// Identity is what a request was authenticated as.
type Identity struct {
	TokenID string
	Scope   string // ScopeListen or ScopeControl
	// ViaCookie is set when the web player's session cookie, not a token,
	// authenticated the request.
	ViaCookie bool
	session   string // the web-player session id when ViaCookie
}

// Authenticator verifies stream tokens. Implementations must be safe for
// concurrent use and must not include the token in errors.
type Authenticator interface {
	Authenticate(token string) (Identity, error)
	// Touch records that the token id was used by client (a program's
	// name, "this computer", or another machine's address: clientOf).
	Touch(tokenID, client string)
	// Valid reports whether the token id may still be used now.
	Valid(tokenID string) bool
	// Changed returns a channel that is closed at the next change of the
	// token registry (revoke, rotate), so live connections are re-checked
	// at once.
	Changed() <-chan struct{}
}

// An Authenticator that also implements Deadliner (enforce.go) lets the
// enforcer close connections at the moment a token expires instead of
// polling for it.

// Options configure a Server.
type Options struct {
	Source Source
	Auth   Authenticator
	// Admin is the token registry for the control plane; nil leaves the
	// control plane out.
	Admin TokenAdmin
	// Alerts stores and applies the alert rules for the control plane;
	// nil leaves /v1/alerts out.
	Alerts AlertAdmin
	Logger *slog.Logger
	// ExtraHosts are host names besides loopback ones that requests may
	// address (names the operator configured, e.g. for a non-loopback
	// --listen or a local alias).
	ExtraHosts []string
	// QueueLen bounds each live consumer's queue; 0 means 256.
	QueueLen int
	// Clock is the time for sessions, rate limits and token deadlines; nil
	// means the system clock.
	Clock Clock
	// Timeouts bound what a client may hold; zero fields take the defaults.
	Timeouts Timeouts
	// Location is the time zone of the file names audio downloads get;
	// nil means the local one.
	Location *time.Location
	// InstanceSecret, if set, lets the relay prove to the earshot CLI that
	// it is this running relay (GET /v1/identity, identity.go) before the
	// CLI sends it the operator token. Without it the route is absent.
	InstanceSecret []byte
	// AccountChanged, if set, is called by POST /v1/account/reload
	// (control scope): the configured account changed (`earshot login` or
	// `logout` while this relay runs) and should be put behind the relay.
	AccountChanged func(ctx context.Context) error
	// FFmpeg is the ffmpeg the continuous stream encodes with; "" looks it
	// up in PATH when a stream starts.
	FFmpeg string
	// Player is what /v1/stream.mp3?follow=player follows; nil answers
	// such requests 409.
	Player PlayerSelection
}

// Timeouts are the connection limits Serve applies. Zero fields take the
// defaults below.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (slowloris).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Write bounds writing an ordinary response, and each chunk of a
	// streaming one (audio): a reader that stops taking bytes for this long
	// is cut off, however long the download runs while it reads.
	Write time.Duration
	// Idle bounds a kept-alive connection between requests.
	Idle time.Duration
}

// Default timeouts.
const (
	defaultReadHeaderTimeout = 5 * time.Second
	defaultReadTimeout       = 15 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	defaultIdleTimeout       = 120 * time.Second
)

func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ReadHeader, defaultReadHeaderTimeout)
	def(&t.Read, defaultReadTimeout)
	def(&t.Write, defaultWriteTimeout)
	def(&t.Idle, defaultIdleTimeout)
	return t
}

// Server is an http.Handler serving the relay's API.
type Server struct {
	src    Source
	auth   Authenticator
	admin  TokenAdmin
	alerts AlertAdmin
	// accountChanged puts the configured account behind the relay (POST
	// /v1/account/reload); nil leaves the route out.
	accountChanged func(context.Context) error
	log            *slog.Logger
	extraHosts     map[string]bool
	queueLen       int
	handler        http.Handler
	clock          Clock
	timeouts       Timeouts
	instance       []byte // Options.InstanceSecret
	loc            *time.Location
	sessions       webSessions
	limiter        failureLimiter
	live           liveConns
	rearm          chan struct{} // a live connection was added: the enforcer recomputes its deadline
	sweeps         atomic.Int64  // enforcer sweeps done (tests wait on it)
	streams        *stream.Streams
	player         PlayerSelection
	stop           context.CancelFunc
	stopped        chan struct{}

	audioRequests   atomic.Int64
	bytesServed     atomic.Int64
	liveConsumers   atomic.Int64
	streamListeners atomic.Int64
}

// New builds the server's handler chain and starts its enforcer, which
// closes live connections whose token dies; Close stops it.
func New(opts Options) (*Server, error) {
	if opts.Source == nil || opts.Auth == nil {
		return nil, errors.New("server: a relay source and an authenticator are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		src:            opts.Source,
		auth:           opts.Auth,
		admin:          opts.Admin,
		alerts:         opts.Alerts,
		accountChanged: opts.AccountChanged,
		log:            log,
		extraHosts:     make(map[string]bool),
		queueLen:       opts.QueueLen,
		clock:          opts.Clock,
		timeouts:       opts.Timeouts.withDefaults(),
		instance:       bytes.Clone(opts.InstanceSecret),
		loc:            opts.Location,
		rearm:          make(chan struct{}, 1),
		player:         opts.Player,
	}
	if s.queueLen <= 0 {
		s.queueLen = 256
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	for _, h := range opts.ExtraHosts {
		s.extraHosts[strings.ToLower(h)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", s.handleHealth)
	if len(s.instance) > 0 {
		mux.HandleFunc("GET /v1/identity", s.handleIdentity)
	}
	mux.Handle("GET /v1/status", s.require(dataPlane, s.handleStatus))
	mux.Handle("GET /v1/live", s.require(dataPlane, s.handleLive))
	mux.Handle("GET /v1/calls", s.require(dataPlane, s.handleCalls))
	mux.Handle("GET /v1/calls/{id}", s.require(dataPlane, s.handleCall))
	mux.Handle("GET /v1/calls/{id}/audio", s.require(dataPlane, s.handleAudio))
	mux.Handle("GET /v1/playlist.m3u", s.require(dataPlane, s.handlePlaylist))
	mux.Handle("GET /v1/stream.mp3", s.require(dataPlane, s.handleStream))
	mux.Handle("GET /v1/stream.m3u", s.require(dataPlane, s.handleStreamPlaylist))
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /app.js", s.handleAsset("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /app.css", s.handleAsset("app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /login", s.handleLogin)
	s.routeControlPlane(mux)
	s.routeAlerts(mux)
	s.handler = s.gate(jsonNotFound(mux))

	s.streams = stream.New(stream.Options{Source: s.src, Logger: log.With("part", "stream"), FFmpeg: opts.FFmpeg})
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.stopped = cancel, make(chan struct{})
	go func() {
		defer close(s.stopped)
		s.enforce(ctx)
	}()
	return s, nil
}

// Close stops the server's enforcer and its streams. Serve calls it when it
// returns; it may be called more than once.
func (s *Server) Close() {
	s.stop()
	<-s.stopped
	s.streams.Close()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// maxHeaderBytes caps a request's header block at 16 KiB, as the README
// says: net/http reads up to MaxHeaderBytes plus 4 KiB of slack (its
// initial read limit), so the setting is 4 KiB under the cap.
const (
	maxHeaderBlock = 16 << 10
	maxHeaderBytes = maxHeaderBlock - 4<<10
)

// Serve serves on ln until ctx ends, then shuts down gracefully (open
// WebSockets are closed). Either way it stops the server (Close).
//
// The write timeout holds for ordinary responses; streaming ones extend it
// chunk by chunk (audio, countingWriter) or set their own per-message
// deadlines once hijacked (the live WebSocket), so a long download that
// keeps moving is never cut while a stalled reader always is.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.timeouts.ReadHeader,
		ReadTimeout:       s.timeouts.Read,
		WriteTimeout:      s.timeouts.Write,
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
		// The things we care about we log ourselves, without query strings.
		ErrorLog:    slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		hs.Close() // connections it still holds
		return fmt.Errorf("relay HTTP server stopped: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	if err != nil {
		hs.Close()
	}
	<-errc
	return nil
}

// Counters reports what the server has served.
type Counters struct {
	AudioRequests int64 `json:"audioRequests"`
	BytesServed   int64 `json:"bytesServed"`
	LiveConsumers int64 `json:"liveConsumers"`
	// StreamListeners and StreamEncoders count /v1/stream.mp3 clients and
	// the encoders (one per distinct filter) serving them.
	StreamListeners int64 `json:"streamListeners"`
	StreamEncoders  int   `json:"streamEncoders"`
}

// Counters returns the server's counters.
func (s *Server) Counters() Counters {
	return Counters{
		AudioRequests:   s.audioRequests.Load(),
		BytesServed:     s.bytesServed.Load(),
		LiveConsumers:   s.liveConsumers.Load(),
		StreamListeners: s.streamListeners.Load(),
		StreamEncoders:  s.streams.Stations(),
	}
}

// ServiceName identifies an Earshot relay in GET /v1/health, so the CLI can
// tell it from another program on the same port.
const ServiceName = "earshot"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": ServiceName})
}

// StatusResponse is the body of GET /v1/status. It holds no secrets.
type StatusResponse struct {
	relay.Report
	Served Counters `json:"served"`
	// TokensInUse counts tokens used in the last hour (0 without a registry).
	TokensInUse int `json:"tokensInUse"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := StatusResponse{Report: s.src.Status(), Served: s.Counters()}
	if s.admin != nil {
		since := s.clock.Now().Add(-time.Hour)
		list, _ := s.admin.List(r.Context()) // a registry in memory: it does not fail
		for _, t := range list {
			if t.LastUsed != nil && t.LastUsed.After(since) {
				st.TokensInUse++
			}
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// handlePlaylist serves an M3U playlist of the held calls' audio, newest
// last, for players such as VLC that take a playlist URL. Each entry carries
// the same token the request presented, because such players cannot send a
// header; the response is marked no-store like every token-bearing one.
func (s *Server) handlePlaylist(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r.URL.Query().Get("limit"), 50, 1, maxCallsPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "limit: "+err.Error())
		return
	}
	// The token the gate authorised, never the query string read again.
	suffix := ""
	if t := presentedFrom(r.Context()); t != "" {
		suffix = "?token=" + url.QueryEscape(t)
	}
	calls := s.src.Calls(relay.Query{Limit: limit})
	var b strings.Builder
	b.WriteString("#EXTM3U\n")
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		title := strings.NewReplacer("\n", " ", "\r", " ", ",", " ").Replace(strings.TrimSpace(c.SystemLabel + " - " + firstNonEmpty(c.TalkgroupLabel, c.TalkgroupName, strconv.FormatInt(c.TalkgroupID, 10))))
		fmt.Fprintf(&b, "#EXTINF:%d,%s\nhttp://%s%s%s\n", int(c.Duration+0.5), title, r.Host, c.AudioURL, suffix)
	}
	w.Header().Set("Content-Type", "audio/x-mpegurl; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="earshot.m3u"`)
	_, _ = io.WriteString(w, b.String())
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// maxCallsPage caps GET /v1/calls.
const maxCallsPage = 500

func (s *Server) handleCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if isSearch(q) {
		s.handleSearch(w, r)
		return
	}
	var query relay.Query
	var err error
	if query.Limit, err = intParam(q.Get("limit"), 50, 1, maxCallsPage); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "limit: "+err.Error())
		return
	}
	before, err := idParam(q.Get("before"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "before: "+err.Error())
		return
	}
	after, err := idParam(q.Get("after"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "after: "+err.Error())
		return
	}
	query.Before, query.After = before, after
	writeJSON(w, http.StatusOK, map[string]any{"calls": s.src.Calls(query)})
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	c, found := s.src.Call(id)
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "no recent call with that id")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"call": c})
}

func (s *Server) handleAudio(w http.ResponseWriter, r *http.Request) {
	download, err := downloadParam(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	var id int64
	if r.PathValue("id") == "latest" {
		newest := s.src.Calls(relay.Query{Limit: 1})
		if len(newest) == 0 {
			writeError(w, http.StatusNotFound, "not_found", "no call has arrived yet; try again in a moment")
			return
		}
		id = newest[0].ID
	} else {
		var ok bool
		if id, ok = pathID(w, r); !ok {
			return
		}
	}
	s.audioRequests.Add(1)
	entry, err := s.src.Audio(r.Context(), id)
	switch {
	case err == nil:
	case errors.Is(err, relay.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "call not found or not available to this account")
		return
	case errors.Is(err, relay.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "backend_unavailable", "the OpenScanner server is unreachable and this call's audio is not cached yet; try again shortly")
		return
	case errors.Is(err, relay.ErrTooLarge):
		writeError(w, http.StatusBadGateway, "audio_too_large", "this call's audio is larger than Earshot takes (64 MiB); it is not downloaded")
		return
	case r.Context().Err() != nil:
		return // the client left
	default:
		s.log.Warn("serving call audio failed", "call", id, "err", err)
		writeError(w, http.StatusBadGateway, "audio_failed", "could not get this call's audio from the server")
		return
	}
	f, err := entry.Open()
	if err != nil {
		s.log.Warn("opening cached audio failed", "call", id, "err", err)
		writeError(w, http.StatusInternalServerError, "cache_error", "the cached audio could not be read")
		return
	}
	defer f.Close()
	rc := http.NewResponseController(w)
	guard := &writeGuard{set: rc.SetWriteDeadline, wait: s.timeouts.Write}
	// On revocation, a write stuck on a slow reader fails at once.
	ctx, release := s.track(r.Context(), identityFrom(r.Context()), guard.cut)
	defer release()
	guard.ctx = ctx
	h := w.Header()
	h.Set("Content-Type", entry.ContentType)
	h.Set("ETag", entry.ETag)
	h.Set("Content-Disposition", s.audioDisposition(id, entry.ContentType, download))
	cw := &countingWriter{ResponseWriter: w, guard: guard}
	http.ServeContent(cw, r.WithContext(ctx), "", entry.ModTime, f)
	s.bytesServed.Add(cw.n)
}

// countingWriter counts the body bytes of an audio response, gives each
// chunk its own write deadline (a reader that stalls is cut off; one that
// keeps reading is not, however long the file), and stops writing once its
// context ends (the token died or the relay stops).
type countingWriter struct {
	http.ResponseWriter
	guard *writeGuard
	n     int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.guard.arm(); err != nil {
		return 0, err
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := idParam(r.PathValue("id"))
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "call id must be a positive integer")
		return 0, false
	}
	return id, true
}

// idParam parses an optional positive call id.
func idParam(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	if len(v) > 19 {
		return 0, errors.New("not a call id")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("not a positive integer")
	}
	return id, nil
}

func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// apiError is the JSON error body: {"error":{"code":…,"message":…}}.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, message
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonNotFound answers unknown routes with the JSON error shape instead of
// the mux's plain text.
func jsonNotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
			return
		}
		mux.ServeHTTP(w, r)
	})
}
