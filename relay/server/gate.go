package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// gate is the one security check every request passes before routing:
// a Host that is not loopback (or configured) is refused first, so a
// rebinding DNS name never reaches authentication; then security headers
// are set and the request is logged without its query string.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		if !s.validHost(r.Host) {
			writeError(w, http.StatusForbidden, "forbidden_host", "requests must address the relay by a loopback name such as 127.0.0.1 or localhost")
			s.logRequest(r, http.StatusForbidden, start)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.logRequest(r, sw.status, start)
	})
}

// logRequest logs a request's method and path only: query strings can hold
// tokens, so they never reach a log line.
func (s *Server) logRequest(r *http.Request, status int, start time.Time) {
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", status,
		"remote", r.RemoteAddr, "took", time.Since(start).Round(time.Microsecond))
}

// validHost reports whether a request's Host names this relay: a loopback
// address, "localhost", or a host the operator configured, with at most a
// numeric port. Brackets are for IPv6 literals only.
func (s *Server) validHost(hostport string) bool {
	if hostport == "" {
		return false
	}
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.HasPrefix(hostport, "[") {
		ip := net.ParseIP(host)
		return ip != nil && ip.To4() == nil && ip.IsLoopback()
	}
	host = strings.ToLower(host)
	if host == "localhost" || s.extraHosts[host] {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is needed by the WebSocket upgrader; the status of an upgraded
// request is logged as 101.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

type (
	identityKey  struct{}
	presentedKey struct{}
)

// identityFrom returns what the request was authenticated as.
func identityFrom(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// presentedFrom returns the token value the gate authorised the request
// by ("" for the web player's cookie). Handlers that hand the token on
// (the playlist) use this, never the query string read a second time.
func presentedFrom(ctx context.Context) string {
	v, _ := ctx.Value(presentedKey{}).(string)
	return v
}

// access describes who may call a route.
type access struct {
	scope string // ScopeListen or ScopeControl
	// cookie allows the web player's session cookie (data plane only).
	cookie bool
}

var (
	dataPlane    = access{scope: ScopeListen, cookie: true}
	controlPlane = access{scope: ScopeControl}
)

// errTooManyFailures marks a client that failed authentication too often.
var errTooManyFailures = errors.New("too many failed attempts")

// require authenticates a request for a route with access a and hands the
// identity to next in the request's context. The identity lives with the
// request: nothing about it is stored on the handler.
func (s *Server) require(a access, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.scope == ScopeControl && !s.controlRequestAllowed(r) {
			writeError(w, http.StatusForbidden, "forbidden_origin", "token management accepts no requests from web pages")
			return
		}
		var id Identity
		if a.scope == ScopeControl {
			// Header only: a token in a URL ends up in histories and logs.
			if len(r.URL.Query()["token"]) > 0 {
				writeError(w, http.StatusBadRequest, "bad_request", "token management takes the token in the Authorization header only, never in the URL")
				return
			}
		}
		token, presented, ok := presentedToken(w, r, a.scope != ScopeControl)
		if !ok {
			return
		}
		switch {
		case presented:
			var err error
			if id, err = s.authenticate(r, token); err != nil {
				s.refuse(w, err)
				return
			}
		case a.cookie:
			var found bool
			if id, found = s.sessionIdentity(r); !found {
				s.refuse(w, errNoCredentials)
				return
			}
			if !cookieRequestAllowed(r) {
				writeError(w, http.StatusForbidden, "forbidden_origin", "cross-site requests with the relay's cookie are refused")
				return
			}
		default:
			s.refuse(w, errNoCredentials)
			return
		}
		if a.scope == ScopeControl && id.Scope != ScopeControl {
			writeError(w, http.StatusForbidden, "forbidden_scope", "this token has the listen scope; token management needs a control token")
			return
		}
		s.auth.Touch(id.TokenID, clientOf(r, id.ViaCookie))
		ctx := context.WithValue(r.Context(), identityKey{}, id)
		if presented {
			ctx = context.WithValue(ctx, presentedKey{}, token)
		}
		next(w, r.WithContext(ctx))
	})
}

var errNoCredentials = errors.New("no credentials")

func (s *Server) refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooManyFailures) {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests with invalid tokens from this client; wait a minute")
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="earshot"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "a valid stream token is required (Authorization: Bearer <token>, or ?token=)")
}

// authenticate verifies a presented token, counting failures per client.
// A client over the limit gets 429 for invalid tokens; a valid token still
// works, because every local program shares the loopback address and one
// misconfigured program must not lock out the others (tokens are 256-bit
// HMAC-signed, so the limit is about noise, not guessing).
func (s *Server) authenticate(r *http.Request, token string) (Identity, error) {
	id, err := s.auth.Authenticate(token)
	if err == nil {
		return id, nil
	}
	if s.limiter.fail(clientKey(r), s.clock.Now()) {
		return Identity{}, errTooManyFailures
	}
	return Identity{}, err
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// presentedToken extracts the one token a request carries, if any. Two
// tokens, or a repeated token parameter, are refused so that the value
// authorised is the only value any handler can see.
func presentedToken(w http.ResponseWriter, r *http.Request, allowQuery bool) (token string, presented, ok bool) {
	var header string
	if a := r.Header.Values("Authorization"); len(a) > 1 {
		writeError(w, http.StatusBadRequest, "bad_request", "more than one Authorization header")
		return "", false, false
	} else if len(a) == 1 {
		v, found := strings.CutPrefix(a[0], "Bearer ")
		if !found {
			writeError(w, http.StatusUnauthorized, "unauthorized", "the Authorization header must be \"Bearer <stream token>\"")
			return "", false, false
		}
		header = strings.TrimSpace(v)
		if header == "" {
			writeError(w, http.StatusUnauthorized, "unauthorized", "the Authorization header holds no token")
			return "", false, false
		}
	}
	var query []string
	if allowQuery {
		query = r.URL.Query()["token"]
	}
	switch {
	case len(query) > 1:
		writeError(w, http.StatusBadRequest, "bad_request", "the token parameter is repeated")
		return "", false, false
	case len(query) == 1 && header != "":
		writeError(w, http.StatusBadRequest, "bad_request", "a token in both the Authorization header and the query string")
		return "", false, false
	case len(query) == 1:
		return query[0], true, true
	case header != "":
		return header, true, true
	}
	return "", false, true
}

// cookieRequestAllowed guards cookie-authenticated requests: SameSite does
// not separate ports on localhost, so every page on any local port is
// "same-site"; only the relay's own origin (or none) may use the cookie.
// A browser says where a request comes from in Sec-Fetch-Site: only
// same-origin (the web player itself) and none (the listener opened the
// URL) are accepted, or no such header (a native program, an old
// browser), and then only with no Origin or the relay's own.
func cookieRequestAllowed(r *http.Request) bool {
	switch site := r.Header.Values("Sec-Fetch-Site"); {
	case len(site) > 1:
		return false
	case len(site) == 1 && site[0] != "same-origin" && site[0] != "none":
		return false
	}
	return sameOriginOrNone(r)
}

// controlRequestAllowed refuses token management from any browser context:
// a request carrying a foreign Origin or Referer (a form POST or fetch from
// a web page) never reaches authentication.
func (s *Server) controlRequestAllowed(r *http.Request) bool {
	own := "http://" + r.Host
	if o := r.Header.Values("Origin"); len(o) > 1 || (len(o) == 1 && o[0] != own) {
		return false
	}
	if ref := r.Header.Get("Referer"); ref != "" && ref != own && !strings.HasPrefix(ref, own+"/") {
		return false
	}
	return r.Header.Get("Sec-Fetch-Site") != "cross-site" && r.Header.Get("Sec-Fetch-Site") != "same-site"
}

// sameOriginOrNone reports whether a browser-originated request comes from
// the relay's own origin. Native programs send no Origin at all.
func sameOriginOrNone(r *http.Request) bool {
	origin := r.Header.Values("Origin")
	switch len(origin) {
	case 0:
		return true
	case 1:
		return origin[0] == "http://"+r.Host
	}
	return false
}
