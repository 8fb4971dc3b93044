package backendtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// routes builds the handler for this generation: v1 under /api/v1 (1.3
// only) and the legacy twins under /api.
func (s *Server) routes(in *instance) http.Handler {
	mux := http.NewServeMux()
	add := func(method, path string, h func(w http.ResponseWriter, r *http.Request, v1 bool)) {
		if s.hasV1() {
			mux.HandleFunc(method+" /api/v1"+path, func(w http.ResponseWriter, r *http.Request) { h(w, r, true) })
		}
		mux.HandleFunc(method+" /api"+path, func(w http.ResponseWriter, r *http.Request) {
			if s.legacyDeprecated() {
				// The successor is this request's own v1 twin, with
				// its real call id (never the pattern's "{id}").
				legacyHeaders(w, "/api/v1"+strings.TrimPrefix(r.URL.Path, "/api"))
			}
			h(w, r, false)
		})
	}
	add("GET", "/health", s.handleHealth)
	add("GET", "/setup/status", s.handleSetupStatus)
	add("POST", "/auth/login", s.handleLogin)
	add("POST", "/auth/refresh", s.handleRefresh)
	add("POST", "/auth/logout", s.handleLogout)
	add("GET", "/auth/me", s.handleMe)
	add("GET", "/calls", s.handleHistory)
	add("GET", "/calls/{id}/audio", s.handleAudio)
	// Uploads have no v1 twin.
	mux.HandleFunc("POST /api/call-upload", s.handleUpload)
	if s.hasV1() {
		mux.HandleFunc("GET /api/v1/ws/listener", func(w http.ResponseWriter, r *http.Request) { s.handleWS(in, w, r, true) })
	}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) { s.handleWS(in, w, r, false) })
	mux.HandleFunc("GET /api/ws", func(w http.ResponseWriter, r *http.Request) { s.handleWS(in, w, r, false) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hasV1() {
			// 1.3's request-id middleware; the 1.2 and 1.1 captures
			// carry no such header.
			w.Header().Set("X-Request-Id", newUUID())
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			s.unhandled(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// unhandled answers a route the real server does not have (for this
// generation, /api/v1 on 1.2 and older answers 404 too: clients fall back).
func (s *Server) unhandled(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/") && !s.hasV1() {
		// The expected 404 a pre-1.3 server gives (its router's
		// default, byte for byte: captures/1.2.0/http/v1-health-404.txt);
		// clients probe it.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "404 page not found")
		return
	}
	s.mu.Lock()
	s.counters.Unhandled++
	s.mu.Unlock()
	// Loud on purpose: a client calling this would fail on a real server.
	s.log.Error("backendtest: request to a route OpenScanner does not have", "method", r.Method, "path", r.URL.Path)
	if s.opts.OnUnhandled != nil {
		s.opts.OnUnhandled(r.Method, r.URL.Path)
	}
	writeV1Error(w, http.StatusNotFound, "not_found", "route not found")
}

func legacyHeaders(w http.ResponseWriter, successor string) {
	h := w.Header()
	h.Set("Deprecation", "true")
	h.Set("Sunset", "Mon, 26 Apr 2027 00:00:00 GMT")
	h.Set("Link", "<"+successor+`>; rel="successor-version"`)
}

// writeJSON writes v as the real server does: compact, no trailing newline,
// with a Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":"internal error"}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeV1Error(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeError(w http.ResponseWriter, v1 bool, status int, code, msg string) {
	if v1 {
		writeV1Error(w, status, code, msg)
		return
	}
	writeJSON(w, status, map[string]any{"error": msg})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, v1 bool) {
	writeJSON(w, 200, map[string]any{"status": "ok", "version": s.opts.Version})
}

func (s *Server) handleSetupStatus(w http.ResponseWriter, r *http.Request, v1 bool) {
	writeJSON(w, 200, map[string]any{"needsSetup": false, "publicAccess": s.opts.PublicAccess})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const maxAuthBody = 64 << 10

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, v1 bool) {
	var body struct {
		Username   string `json:"username"`
		Password   string `json:"password"`
		RememberMe bool   `json:"rememberMe"`
	}
	data, _ := io.ReadAll(io.LimitReader(r.Body, maxAuthBody))
	if err := json.Unmarshal(data, &body); err != nil {
		writeError(w, v1, 400, "bad_request", "invalid request body")
		return
	}
	ip := clientIP(r)
	s.mu.Lock()
	now := s.clock.Now()
	f := s.fails[ip]
	if f != nil && now.Before(f.blockedUntil) {
		s.counters.FailedLogins++
		s.counters.RateLimited++
		s.mu.Unlock()
		writeError(w, v1, 429, "rate_limited", "too many failed attempts, try again later")
		return
	}
	u := s.users[body.Username]
	// Disabled and expired accounts get the same 401 as a wrong password.
	// (A legacy 401 carries Cache-Control: no-store on 1.3, the only
	// generation whose wrong-password answer was captured.)
	if u == nil || u.password != body.Password || !s.accountValidLocked(u, now) {
		s.counters.FailedLogins++
		if f == nil {
			f = &failures{}
			s.fails[ip] = f
		}
		f.count++
		if f.count >= 3 {
			f.blockedUntil, f.count = now.Add(10*time.Minute), 0
		}
		s.mu.Unlock()
		if !v1 && s.legacyDeprecated() {
			w.Header().Set("Cache-Control", "no-store")
		}
		writeError(w, v1, 401, "invalid_credentials", "invalid credentials")
		return
	}
	delete(s.fails, ip)
	s.counters.Logins++
	fam := &family{id: randomHex(8), user: u, created: now, remember: body.RememberMe}
	s.families[fam.id] = fam
	u.families = append(u.families, fam.id)
	if len(u.families) > 20 {
		s.revokeFamilyLocked(s.families[u.families[0]])
	}
	refresh := randomHex(32)
	s.refresh[refresh] = &refreshEntry{family: fam, expires: now.Add(s.opts.RefreshTTL)}
	access, _ := s.issueAccessLocked(u, fam)
	needsNewPassword := u.needsNewPassword
	s.mu.Unlock()
	s.setAuthCookies(w, r, access, refresh, body.RememberMe)
	writeJSON(w, 200, map[string]any{
		"token":              access,
		"user":               map[string]any{"id": u.id, "username": u.name, "role": "listener"},
		"passwordNeedChange": needsNewPassword,
	})
}

// setAuthCookies sets os_session (1.2+) and refresh_token with the real
// server's attributes.
func (s *Server) setAuthCookies(w http.ResponseWriter, r *http.Request, access string, refresh string, remember bool) {
	secure := r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
	rc := &http.Cookie{Name: "refresh_token", Value: refresh, Path: s.refreshCookiePath(), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure}
	if remember {
		rc.MaxAge = int(s.opts.RefreshTTL / time.Second)
	}
	http.SetCookie(w, rc)
	if s.setsSessionCookie() {
		http.SetCookie(w, &http.Cookie{Name: "os_session", Value: access, Path: "/api", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: secure, MaxAge: int(s.opts.AccessTTL / time.Second)})
	}
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request, v1 bool) {
	fail := func(msg string) {
		s.mu.Lock()
		s.counters.RefreshFailures++
		s.mu.Unlock()
		writeError(w, v1, 401, "invalid_credentials", msg)
	}
	// The real server puts refresh behind the same per-IP lockout as
	// login: a locked-out address gets 429 here too.
	s.mu.Lock()
	now := s.clock.Now()
	if f := s.fails[clientIP(r)]; f != nil && now.Before(f.blockedUntil) {
		s.counters.RateLimited++
		s.mu.Unlock()
		writeError(w, v1, 429, "rate_limited", "too many failed attempts, try again later")
		return
	}
	s.mu.Unlock()
	ck, err := r.Cookie("refresh_token")
	if err != nil || ck.Value == "" {
		fail("no refresh token")
		return
	}
	s.mu.Lock()
	now = s.clock.Now()
	e := s.refresh[ck.Value]
	switch {
	case e == nil || e.family.revoked:
		s.mu.Unlock()
		fail("invalid refresh token")
		return
	case !now.Before(e.expires):
		s.mu.Unlock()
		fail("refresh token expired")
		return
	case !s.accountValidLocked(e.family.user, now):
		// openscanner-api.md lists "account expired" among refresh's 401
		// messages; which one a disabled account gets is not recorded, and
		// a client must not depend on the words.
		s.mu.Unlock()
		fail("account expired")
		return
	}
	successor := e.successor
	if !e.usedAt.IsZero() {
		if now.Sub(e.usedAt) > s.opts.ReplayGrace {
			// Replay after the grace: treated as theft.
			s.revokeFamilyLocked(e.family)
			closing := s.closeFamilySocketsLocked(e.family.id)
			s.mu.Unlock()
			for _, c := range closing {
				c.expire()
			}
			s.log.Warn("backendtest: refresh token replayed after the grace; family revoked")
			fail("invalid refresh token")
			return
		}
	} else {
		successor = randomHex(32)
		e.usedAt, e.successor = now, successor
		s.refresh[successor] = &refreshEntry{family: e.family, expires: now.Add(s.opts.RefreshTTL)}
	}
	s.counters.Refreshes++
	access, _ := s.issueAccessLocked(e.family.user, e.family)
	u, remember := e.family.user, e.family.remember
	s.mu.Unlock()
	s.setAuthCookies(w, r, access, successor, remember)
	writeJSON(w, 200, map[string]any{"token": access, "user": map[string]any{"id": u.id, "username": u.name, "role": "listener"}})
}

func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, v1 bool) {
	s.mu.Lock()
	u, famID, ok := s.userForAccessLocked(bearer(r))
	if !ok {
		s.mu.Unlock()
		writeError(w, v1, 401, "invalid_credentials", "authentication required")
		return
	}
	_ = u
	var closing []*wsClient
	if f := s.families[famID]; f != nil {
		s.revokeFamilyLocked(f)
		closing = s.closeFamilySocketsLocked(famID)
	}
	if ck, err := r.Cookie("refresh_token"); err == nil {
		if e := s.refresh[ck.Value]; e != nil {
			s.revokeFamilyLocked(e.family)
		}
	}
	s.counters.Logouts++
	s.mu.Unlock()
	for _, c := range closing {
		c.expire()
	}
	http.SetCookie(w, &http.Cookie{Name: "refresh_token", Path: s.refreshCookiePath(), MaxAge: -1, HttpOnly: true})
	if s.setsSessionCookie() {
		http.SetCookie(w, &http.Cookie{Name: "os_session", Path: "/api", MaxAge: -1, HttpOnly: true})
	}
	writeJSON(w, 200, map[string]any{"message": "logged out"})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, v1 bool) {
	s.mu.Lock()
	u, _, ok := s.userForAccessLocked(bearer(r))
	s.mu.Unlock()
	if !ok {
		writeError(w, v1, 401, "invalid_credentials", "authentication required")
		return
	}
	writeJSON(w, 200, map[string]any{"id": u.id, "username": u.name, "role": "listener"})
}

// identity resolves who a history or audio request is: Bearer, else the
// os_session cookie (same-site only), else anonymous. Invalid credentials
// fall through silently, like the real server.
func (s *Server) identityLocked(r *http.Request) (u *user, how string) {
	if tok := bearer(r); tok != "" {
		if u, _, ok := s.userForAccessLocked(tok); ok {
			return u, "bearer"
		}
	}
	if s.setsSessionCookie() {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "same-site", "none":
			if ck, err := r.Cookie("os_session"); err == nil {
				if u, _, ok := s.userForAccessLocked(ck.Value); ok {
					return u, "cookie"
				}
			}
		}
	}
	return nil, "anonymous"
}

func (s *Server) handleAudio(w http.ResponseWriter, r *http.Request, v1 bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	s.counters.AudioRequests++
	if s.audioRedirect != nil {
		if to := s.audioRedirect(r); to != "" {
			s.mu.Unlock()
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
	}
	u, how := s.identityLocked(r)
	if u == nil && !s.opts.PublicAccess {
		s.mu.Unlock()
		writeError(w, v1, 401, "invalid_credentials", "authentication required")
		return
	}
	var c *call
	if err == nil {
		c = s.callLocked(id)
	}
	if c == nil || !u.visible(c) {
		s.mu.Unlock()
		writeError(w, v1, 404, "not_found", "call not found")
		return
	}
	switch how {
	case "bearer":
		s.counters.AudioByBearer++
	case "cookie":
		s.counters.AudioByCookie++
	default:
		s.counters.AudioAnonymous++
	}
	spec := c.spec
	uploaded := c.uploaded
	partial := s.partialAudio
	s.mu.Unlock()
	w.Header().Set("Content-Type", spec.AudioType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename=%q; filename*=UTF-8''%s`, spec.AudioName, spec.AudioName))
	if partial && r.Header.Get("Range") == "" && len(spec.Audio) > 1 {
		half := len(spec.Audio) / 2
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", half-1, len(spec.Audio)))
		w.Header().Set("Content-Length", strconv.Itoa(half))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(spec.Audio[:half])
		return
	}
	http.ServeContent(w, r, "", uploaded, bytes.NewReader(spec.Audio))
}

// historyCall is one call in the history response.
type historyCall struct {
	ID             int64   `json:"id"`
	AudioName      string  `json:"audioName"`
	AudioType      string  `json:"audioType"`
	DateTime       int64   `json:"dateTime"`
	SystemID       int64   `json:"systemId"`
	SystemLabel    string  `json:"systemLabel"`
	TalkgroupID    int64   `json:"talkgroupId"`
	TalkgroupLabel string  `json:"talkgroupLabel"`
	TalkgroupName  string  `json:"talkgroupName"`
	TalkgroupGroup string  `json:"talkgroupGroup,omitempty"`
	TalkgroupTag   string  `json:"talkgroupTag,omitempty"`
	Frequency      int64   `json:"frequency,omitempty"`
	Duration       float64 `json:"duration"`
	Source         int64   `json:"source,omitempty"`
	Transcript     string  `json:"transcript,omitempty"`
	Bookmarked     bool    `json:"bookmarked"`
	granted        bool    // the asking user may see it
}

// handleHistory answers the call search (GET /api/v1/calls), as
// OpenScanner's GetCalls does: system_ids and talkgroup_ids (or the older
// single system_id and talkgroup_id) are the server's row ids — the "id" of
// scanner.config's systems and talkgroups, not the radio ids a call shows —
// lists are comma-separated with blanks ignored, date bounds are inclusive,
// limit defaults to 25 and is clamped to 100, limit and page below 1 are
// refused, and the newest come first unless sort=asc.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request, v1 bool) {
	q := r.URL.Query()
	num := func(k string, def int64) (int64, bool) {
		v := q.Get(k)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	from, ok1 := num("date_from", 0)
	to, ok2 := num("date_to", 1<<62)
	limit, ok3 := num("limit", 25)
	page, ok4 := num("page", 1)
	sortDir := strings.ToLower(q.Get("sort"))
	switch {
	case !ok1:
		writeError(w, v1, 400, "bad_request", "invalid date_from")
		return
	case !ok2:
		writeError(w, v1, 400, "bad_request", "invalid date_to")
		return
	case !ok3 || limit < 1:
		writeError(w, v1, 400, "bad_request", "invalid limit")
		return
	case !ok4 || page < 1:
		writeError(w, v1, 400, "bad_request", "invalid page")
		return
	case sortDir != "" && sortDir != "asc" && sortDir != "desc":
		writeError(w, v1, 400, "bad_request", "sort must be asc or desc")
		return
	}
	limit = min(limit, 100)
	rawSystems, rawTalkgroups := q.Get("system_ids"), q.Get("talkgroup_ids")
	if rawSystems == "" {
		rawSystems = q.Get("system_id")
	}
	if rawTalkgroups == "" {
		rawTalkgroups = q.Get("talkgroup_id")
	}
	systemRows, ok5 := idSet(rawSystems)
	tgRows, ok6 := idSet(rawTalkgroups)
	if !ok5 {
		writeError(w, v1, 400, "bad_request", "invalid system_ids")
		return
	}
	if !ok6 {
		writeError(w, v1, 400, "bad_request", "invalid talkgroup_ids")
		return
	}
	groups, tags := wordSet(q.Get("groups")), wordSet(q.Get("tags"))
	transcript := strings.ToLower(q.Get("transcript"))
	bookmarkedOnly := q.Get("bookmarked_only") == "true" || q.Get("bookmarked_only") == "1"
	s.mu.Lock()
	s.counters.HistoryRequests++
	u, _ := s.identityLocked(r)
	if u == nil && !s.opts.PublicAccess {
		s.mu.Unlock()
		writeError(w, v1, 401, "invalid_credentials", "authentication required")
		return
	}
	var all []historyCall
	for _, c := range s.calls {
		dt := c.spec.DateTime.Unix()
		if dt < from || dt > to || bookmarkedOnly ||
			(systemRows != nil && !systemRows[c.systemRow]) || (tgRows != nil && !tgRows[c.tgRow]) ||
			(transcript != "" && !strings.Contains(strings.ToLower(c.transcript), transcript)) {
			continue
		}
		h := historyCall{ID: c.id, AudioName: c.spec.AudioName, AudioType: c.spec.AudioType, DateTime: dt,
			SystemID: c.spec.SystemID, TalkgroupID: c.spec.TalkgroupID, Frequency: c.spec.Frequency,
			Duration: c.spec.Duration, Source: c.spec.Source, Transcript: c.transcript, granted: u.visible(c)}
		if sys := s.systemLocked(c.spec.SystemID); sys != nil {
			h.SystemLabel = sys.label
			if tg := s.talkgroupLocked(sys, c.spec.TalkgroupID); tg != nil && s.hasV1() {
				// 1.2 and 1.1 answer "talkgroupLabel":"" and
				// "talkgroupName":"" (captures/1.2.0/http/history.txt):
				// there the names come from scanner.config only.
				h.TalkgroupLabel, h.TalkgroupName, h.TalkgroupGroup, h.TalkgroupTag = tg.label, tg.name, tg.group, tg.tag
			}
		}
		if (groups != nil && !groups[h.TalkgroupGroup]) || (tags != nil && !tags[h.TalkgroupTag]) {
			continue
		}
		all = append(all, h)
	}
	s.mu.Unlock()
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].DateTime != all[j].DateTime {
			return all[i].DateTime < all[j].DateTime
		}
		return all[i].ID < all[j].ID
	})
	if sortDir != "asc" {
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
	}
	total := len(all)
	start := min(int((page-1)*limit), total)
	end := min(start+int(limit), total)
	// Like the real server, grants are applied to the page after it is
	// cut, so a page can come back short while more calls follow; and a
	// short page makes the total claim the end (offset plus what is left).
	calls := []historyCall{}
	for _, h := range all[start:end] {
		if h.granted {
			calls = append(calls, h)
		}
	}
	if u != nil && u.grants != nil && len(calls) < int(limit) {
		total = int((page-1)*limit) + len(calls)
	}
	writeJSON(w, 200, map[string]any{"calls": calls, "total": total})
}

// idSet parses a comma-separated id list, blanks ignored; one with no id
// is nil (no filter).
func idSet(v string) (map[int64]bool, bool) {
	out := map[int64]bool{}
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		out[n] = true
	}
	if len(out) == 0 {
		return nil, true
	}
	return out, true
}

// wordSet parses a comma-separated list of names; "" is nil (no filter).
func wordSet(v string) map[string]bool {
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		out[strings.TrimSpace(f)] = true
	}
	return out
}

const maxUpload = 32 << 20

// handleUpload imports a call as a recorder would (multipart: key, audio,
// audioName, audioType, dateTime, system, talkgroup, systemLabel,
// talkgroupLabel, frequency, source, talkerAlias, site, channel).
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		writeError(w, false, 400, "bad_request", "invalid multipart form")
		return
	}
	if r.FormValue("key") != s.opts.APIKey {
		writeError(w, false, 401, "invalid_api_key", "invalid API key")
		return
	}
	f, hdr, err := r.FormFile("audio")
	if err != nil {
		writeError(w, false, 400, "bad_request", "no audio")
		return
	}
	audio, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		writeError(w, false, 400, "bad_request", "unreadable audio")
		return
	}
	num := func(k string) (int64, bool) {
		v := r.FormValue(k)
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	sys, ok1 := num("system")
	tg, ok2 := num("talkgroup")
	freq, ok3 := num("frequency")
	src, ok4 := num("source")
	if !ok1 || !ok2 || !ok3 || !ok4 || sys == 0 || tg == 0 {
		writeError(w, false, 400, "bad_request", "invalid system, talkgroup, frequency or source")
		return
	}
	var at time.Time
	if v := r.FormValue("dateTime"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			at = time.Unix(n, 0)
		} else if at, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(w, false, 400, "bad_request", "invalid dateTime")
			return
		}
	}
	name := r.FormValue("audioName")
	if name == "" {
		name = hdr.Filename
	}
	typ := r.FormValue("audioType")
	if typ == "" {
		typ = hdr.Header.Get("Content-Type")
	}
	id := s.AddCall(CallSpec{SystemID: sys, TalkgroupID: tg, DateTime: at, Audio: audio, AudioName: name, AudioType: typ,
		Frequency: freq, Source: src, TalkerAlias: r.FormValue("talkerAlias"), Site: r.FormValue("site"),
		Channel: r.FormValue("channel"), SystemLabel: r.FormValue("systemLabel"), TalkgroupLabel: r.FormValue("talkgroupLabel")})
	writeJSON(w, 200, map[string]any{"id": id, "message": "Call imported successfully."})
}
