package server

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// The web player: a small embedded page that plays the live feed with
// <audio src>. A browser cannot put a token on <audio src> requests, so
// GET /login?token=… exchanges a token for a session cookie and redirects to
// "/" to take the token out of the address bar. Cookies ignore ports, so any
// other server on 127.0.0.1 would receive the cookie too: it therefore holds
// a relay-issued session id, never the token, and the session is listen-only,
// short-lived and dies with the token it was exchanged for.

//go:embed web
var webFiles embed.FS

const (
	sessionCookie = "earshot_session"
	sessionTTL    = 8 * time.Hour
	maxSessions   = 1024
	// maxSessionsPerToken caps one token's browser sessions: a new login
	// past it ends that token's own oldest session, never another's, so a
	// holder of one listen token cannot log other people's browsers out.
	maxSessionsPerToken = 16
	// maxLoginsPerMinute rate-limits logins per token (a person opens a
	// login link a few times a day; a loop does not get to churn).
	maxLoginsPerMinute = 20
)

// errLoginRateLimited and errSessionsFull are create's refusals.
var (
	errLoginRateLimited = errors.New("too many logins with this token in the last minute")
	errSessionsFull     = errors.New("the relay holds as many web sessions as it allows")
)

// webSession is what a session id stands for.
type webSession struct {
	tokenID string
	created time.Time
	expires time.Time
}

// webSessions maps session ids to sessions. It is shared by every request
// (it is the relay's session store, not per-connection state) and guarded
// by its mutex.
type webSessions struct {
	mu     sync.Mutex
	m      map[string]webSession
	logins map[string][]time.Time // per token id: login times in the last minute
}

// create returns a new session id for tokenID. A token over its login rate
// is refused (errLoginRateLimited); one at its session cap loses its own
// oldest session; a full table is swept of expired sessions and otherwise
// refuses (errSessionsFull) rather than end another token's session.
func (ws *webSessions) create(tokenID string, now time.Time) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = make(map[string]webSession)
		ws.logins = make(map[string][]time.Time)
	}
	recent := ws.logins[tokenID][:0]
	for _, t := range ws.logins[tokenID] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	ws.logins[tokenID] = recent
	if len(recent) >= maxLoginsPerMinute {
		return "", errLoginRateLimited
	}
	ws.logins[tokenID] = append(recent, now)
	// Forget the rate of tokens that have not logged in for a minute.
	for tok, ts := range ws.logins {
		if len(ts) > 0 && now.Sub(ts[len(ts)-1]) >= time.Minute {
			delete(ws.logins, tok)
		}
	}

	var (
		own    int
		oldest string
	)
	for k, s := range ws.m {
		if s.tokenID != tokenID {
			continue
		}
		if !now.Before(s.expires) {
			delete(ws.m, k)
			continue
		}
		own++
		if oldest == "" || s.created.Before(ws.m[oldest].created) {
			oldest = k
		}
	}
	if own >= maxSessionsPerToken {
		delete(ws.m, oldest)
	}
	if len(ws.m) >= maxSessions {
		ws.sweepLocked(now)
		if len(ws.m) >= maxSessions {
			return "", errSessionsFull
		}
	}
	ws.m[id] = webSession{tokenID: tokenID, created: now, expires: now.Add(sessionTTL)}
	return id, nil
}

func (ws *webSessions) sweepLocked(now time.Time) {
	for k, s := range ws.m {
		if !now.Before(s.expires) {
			delete(ws.m, k)
		}
	}
}

// lookup returns the session for id if it exists and has not expired. The
// comparison of ids is a map lookup on a 256-bit random value, so timing
// reveals nothing useful; the explicit check guards against a map hit on a
// malformed id.
func (ws *webSessions) lookup(id string, now time.Time) (webSession, bool) {
	if len(id) != 43 {
		return webSession{}, false
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	s, ok := ws.m[id]
	if !ok || !now.Before(s.expires) {
		return webSession{}, false
	}
	return s, true
}

// dropIf ends every session whose token dead reports as dead.
func (ws *webSessions) dropIf(dead func(tokenID string) bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for k, s := range ws.m {
		if dead(s.tokenID) {
			delete(ws.m, k)
		}
	}
}

// htmlCSP lets the page load only its own script, style and audio and talk
// only to the relay itself.
const htmlCSP = "default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", htmlCSP)
	if _, ok := s.sessionIdentity(r); !ok {
		s.serveWebFile(w, r, "web/signin.html", "text/html; charset=utf-8")
		return
	}
	s.serveWebFile(w, r, "web/index.html", "text/html; charset=utf-8")
}

func (s *Server) handleAsset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.serveWebFile(w, r, "web/"+name, contentType)
	}
}

func (s *Server) serveWebFile(w http.ResponseWriter, r *http.Request, name, contentType string) {
	data, err := webFiles.ReadFile(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "web player file missing from the build")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// handleLogin exchanges ?token= for a session cookie and sends the browser
// to "/" so the token leaves the address bar (and, with Referrer-Policy
// no-referrer, never leaks in a Referer).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		writeError(w, http.StatusForbidden, "forbidden_origin", "the login link must be opened directly, not from another site")
		return
	}
	token, presented, ok := presentedToken(w, r, true)
	if !ok {
		return
	}
	if !presented {
		writeError(w, http.StatusUnauthorized, "unauthorized", "the login link has no token; use the link `earshot token create` prints")
		return
	}
	id, err := s.authenticate(r, token)
	if errors.Is(err, errTooManyFailures) {
		s.refuse(w, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "this login link's token is not valid (revoked, rotated or expired?); create a new one with `earshot token create`")
		return
	}
	sid, err := s.sessions.create(id.TokenID, s.clock.Now())
	switch {
	case errors.Is(err, errLoginRateLimited):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "this token was used to log in too often in the last minute; wait a minute")
		return
	case errors.Is(err, errSessionsFull):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "sessions_full", "the relay has as many browser sessions as it allows; try again later, or revoke tokens you no longer use")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", "could not create a session")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    sid,
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sessionIdentity authenticates a request by its session cookie. The
// session grants only the listen scope, whatever the token's scope was.
func (s *Server) sessionIdentity(r *http.Request) (Identity, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return Identity{}, false
	}
	sess, ok := s.sessions.lookup(c.Value, s.clock.Now())
	if !ok || !s.auth.Valid(sess.tokenID) {
		return Identity{}, false
	}
	return Identity{TokenID: sess.tokenID, Scope: ScopeListen, ViaCookie: true, session: c.Value}, true
}
