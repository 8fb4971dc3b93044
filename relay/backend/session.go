// Package backend is Earshot's OpenScanner client: one signed-in session
// with a server, its live feed and its call audio.
//
// It owns everything about talking to the server: discovery (v1 with legacy
// fallback), sign-in and the refresh-token life cycle (refresh ahead of
// expiry, single flight, every rotated refresh token persisted before it is
// used again, retried and reported in Status.Problem when the keyring
// refuses), the live WebSocket (first-message auth, both framings, pings
// and read deadlines, malformed and oversized frames skipped, reconnect
// with capped and jittered backoff, backfill from history so no call is
// lost or repeated), the server's talkgroup catalogue, and audio
// downloads (the os_session cookie where the server sets one, the Bearer
// header on 1.1, inline audio as is). It knows nothing about local
// consumers; it emits typed events.
package backend

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"earshot/relay/event"
)

var (
	// ErrSignInAgain means the server refused the stored credentials: the
	// user must sign in again. The session never retries it in a loop.
	ErrSignInAgain = errors.New("the server refused the sign-in; sign in again")
	// ErrRateLimited means the server is refusing sign-ins for a while
	// after failed attempts (OpenScanner: 10 minutes).
	ErrRateLimited = errors.New("the server is refusing sign-ins after too many failed attempts; wait 10 minutes")
	// ErrCallUnavailable means the server does not offer the call to this
	// account (not granted, or gone).
	ErrCallUnavailable = errors.New("the server does not offer this call to this account")
	// ErrNotOpenScanner means the URL does not answer like an OpenScanner server.
	ErrNotOpenScanner = errors.New("this address does not answer like an OpenScanner server")
	// ErrAudioTooLarge means a call's audio is larger than Earshot takes
	// (maxAudioBytes): it is not downloaded again.
	ErrAudioTooLarge = fmt.Errorf("the call's audio is larger than Earshot takes (%d MiB)", maxAudioBytes>>20)
	// ErrOffOrigin means the server redirected a request to another
	// origin (scheme, host or port): Earshot follows redirects only on the
	// server itself, so no credential ever reaches another address.
	ErrOffOrigin = errors.New("the server redirected to another address; Earshot follows redirects only within the server's own origin")
)

// IsSignInAgain reports whether err means the user must sign in again.
func IsSignInAgain(err error) bool { return errors.Is(err, ErrSignInAgain) }

// Limits.
const (
	maxJSONBody   = 4 << 20
	maxAudioBytes = 64 << 20
	// The live socket. The server pings every 30 s; Earshot pings every
	// wsPingEvery too. Any frame, ping or pong (or any byte of a long
	// frame) proves the connection alive for another wsPongWait; after
	// that much silence it is dead and replaced.
	wsPingEvery = 25 * time.Second
	wsPongWait  = 60 * time.Second
	wsWriteWait = 10 * time.Second
	// wsHardReadLimit is gorilla's read limit: a frame longer than this
	// ends the connection (a reconnect and backfill follow). Frames
	// between MaxFrameSize and this are read through and skipped without
	// being held in memory; see readFrame.
	wsHardReadLimit = 64 << 20

	backoffBase     = 500 * time.Millisecond
	backoffCap      = 30 * time.Second
	rejectedBackoff = 2 * time.Minute
	rateLimitWait   = 10 * time.Minute
	firstBackfill   = 10 * time.Minute // history fetched on the very first connect
	maxBackfillPage = 100
	maxBackfillRuns = 50 // pages per backfill

	// A rotated refresh token the keyring refused (after the pauses of
	// saveRetryPauses) is reported in Status.Problem and written again
	// every saveRetryEvery while the live feed runs.
	saveRetryEvery = time.Minute
)

// Request timeouts, on the session's clock. A refresh is bounded tightly:
// the server's replay grace is 30 s, and a refresh whose answer was lost
// (the connection reset or went silent after the server had rotated the
// token) must be asked again with the same token within it, or the server
// takes the repeat for theft and revokes the whole family. So an attempt
// waits at most refreshTimeout, and one without an answer is repeated
// after the pauses of refreshRetryPauses: three attempts inside the grace.
const (
	requestTimeout = 30 * time.Second
	audioTimeout   = 60 * time.Second
	dialTimeout    = 15 * time.Second
	refreshTimeout = 8 * time.Second
)

func refreshRetryPauses() []time.Duration {
	return []time.Duration{500 * time.Millisecond, time.Second}
}

// saveRetryPauses are the pauses between the attempts to keep a rotated
// refresh token in the keyring (a function, so the package has no
// mutable state).
func saveRetryPauses() []time.Duration {
	return []time.Duration{250 * time.Millisecond, time.Second}
}

// Options configure a Session.
type Options struct {
	ServerURL string
	Username  string // empty for a public-access server
	// RefreshToken is the stored refresh token, preferred over Password.
	RefreshToken string
	// Password is used only without a refresh token (or when the server
	// refused it and the password is remembered).
	Password string
	// SaveRefreshToken persists every rotated refresh token; it is called
	// before the new token is used again.
	SaveRefreshToken func(ctx context.Context, token string) error
	// HTTPClient is used for every request; nil builds one with a cookie
	// jar and timeouts. A client without a jar gets one.
	HTTPClient *http.Client
	// Now is the clock used to schedule refreshes; nil means time.Now.
	// Clock, when set, replaces it.
	Now func() time.Time
	// Clock, when set, is the session's time: token expiry, history
	// windows, and every wait (refresh checks, reconnect back-off, the
	// periodic history read, keyring retries). A simulation runs it
	// faster than real time; network deadlines (PingEvery, PongWait, the
	// HTTP client's timeout) stay real.
	Clock Clock
	// PingEvery and PongWait are the live socket's liveness check: a ping
	// every PingEvery, and a connection silent for PongWait is replaced.
	// 0 means 25 s and 60 s.
	PingEvery, PongWait time.Duration
	// PasswordChangeRequested says the server asked, at the sign-in that
	// gave RefreshToken, that the user change the password (its
	// passwordNeedChange): the status says so (Status.PasswordChange and
	// Problem) for this session. A password sign-in the session makes
	// itself sets it afresh from the server's answer.
	PasswordChangeRequested bool
	// BackfillEvery re-reads history while connected, to catch broadcasts
	// the server dropped; 0 means 60 s.
	BackfillEvery time.Duration
	Logger        *slog.Logger
}

// Session is one client session with an OpenScanner server. Its methods are
// safe for concurrent use; Run may be called once.
type Session struct {
	opts Options
	base *url.URL
	http *http.Client
	jar  http.CookieJar
	now  func() time.Time
	log  *slog.Logger

	mu           sync.Mutex
	probed       bool
	v1           bool
	version      string
	publicAccess bool
	access       string
	accessExp    time.Time
	accessMargin time.Duration // refresh this long before accessExp
	refreshTok   string
	cookieAudio  bool // the server set os_session at sign-in
	inflight     *refreshCall
	status       event.Status
	emitStatus   func(event.Status)

	// keyringProblem is what went wrong keeping the newest refresh token
	// in the keyring ("" when it is kept); unsaved is that token.
	keyringProblem string
	// passwordChange: the server asks the user to change the password
	// (the last sign-in's passwordNeedChange).
	passwordChange bool
	unsaved        string
	// waitsOnClock: the session's waits (after) run on the clock its
	// times come from (now), so a wait can be computed from them.
	waitsOnClock bool
	freshWake    chan struct{} // keepFresh looks again (wakeFreshLocked)
	lastSaveTry  time.Time
	saveMu       sync.Mutex // serializes keyring writes, so an older token never overwrites a newer one

	labels labelBook

	// Tunables, fixed by New; tests in this package change them before
	// use (they are fields, not package variables: no shared state).
	after     func(d time.Duration) <-chan time.Time // the clock's
	sleep     func(ctx context.Context, d time.Duration) error
	saveRetry []time.Duration
	saveEvery time.Duration
	frameCap  int64 // frames above this are skipped
	audioCap  int64 // audio above this is refused (maxAudioBytes; tests lower it)
	readLimit int64 // frames above this end the connection
	pingEvery time.Duration
	pongWait  time.Duration
}

// Clock is a session's time (see Options.Clock).
type Clock interface {
	Now() time.Time
	// After sends the time once d of this clock's time has passed.
	After(d time.Duration) <-chan time.Time
}

// errNoAnswer is the cause of a request's context ending at its timeout.
var errNoAnswer = errors.New("the server did not answer in time")

// withTimeout is context.WithTimeout on the session's clock; the context's
// cause is errNoAnswer when the time runs out.
func (s *Session) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if s.opts.Clock == nil {
		return context.WithTimeoutCause(ctx, d, errNoAnswer)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-s.after(d):
			cancel(errNoAnswer)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// wait waits d of the session's time, or until ctx ends (then it returns
// ctx's error).
func (s *Session) wait(ctx context.Context, d time.Duration) error {
	select {
	case <-s.after(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type refreshCall struct {
	done chan struct{}
	err  error
}

// New checks opts and returns a session; nothing is sent yet.
func New(opts Options) (*Session, error) {
	u, err := url.Parse(strings.TrimRight(opts.ServerURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must look like https://scanner.example.org", opts.ServerURL)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// The session's waits run on its clock unless only Now was given.
	waitsOnClock := opts.Clock != nil || opts.Now == nil
	if opts.Clock != nil {
		opts.Now = opts.Clock.Now
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BackfillEvery <= 0 {
		opts.BackfillEvery = 60 * time.Second
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	} else {
		c := *client
		client = &c
	}
	client.CheckRedirect = sameOriginRedirects(u, client.CheckRedirect)
	if client.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		client.Jar = jar
	}
	// The refresh token never enters the jar: the session reads it from
	// the sign-in and refresh answers and sends it only to refresh and
	// logout itself (see refreshCookieName).
	client.Jar = withoutRefreshCookie{client.Jar}
	s := &Session{
		opts: opts, base: u, http: client, jar: client.Jar, now: opts.Now, log: opts.Logger,
		refreshTok:     opts.RefreshToken,
		passwordChange: opts.PasswordChangeRequested,
		after:          time.After,
		waitsOnClock:   waitsOnClock,
		freshWake:      make(chan struct{}, 1),
		saveRetry:      saveRetryPauses(),
		saveEvery:      saveRetryEvery,
		frameCap:       MaxFrameSize,
		audioCap:       maxAudioBytes,
		readLimit:      wsHardReadLimit,
		pingEvery:      cmp.Or(opts.PingEvery, wsPingEvery),
		pongWait:       cmp.Or(opts.PongWait, wsPongWait),
	}
	if opts.Clock != nil {
		s.after = opts.Clock.After
	}
	s.sleep = s.wait
	s.status = event.Status{State: event.StateConnecting, Server: u.String(), User: opts.Username, Since: time.Now()}
	s.problemLocked(&s.status)
	return s, nil
}

// refreshCookieName is the cookie that carries the refresh token. Its Path
// differs by server generation: /api on 1.3, /api/auth on 1.2 and 1.1. A
// jar asked for the cookies of /api/ leaves a /api/auth cookie out, and a
// token seeded into the jar at one path beside the server's at the other
// would be sent twice, the older one a replay the server may take for
// theft. So the session holds the token itself (refreshTok), reads each
// new one from the answer that set it, and sends it, alone, to the refresh
// and logout routes.
const refreshCookieName = "refresh_token"

// withoutRefreshCookie is a cookie jar that never stores or returns the
// refresh token (see refreshCookieName); os_session and any other cookie
// pass through.
type withoutRefreshCookie struct{ http.CookieJar }

func (j withoutRefreshCookie) SetCookies(u *url.URL, cookies []*http.Cookie) {
	kept := make([]*http.Cookie, 0, len(cookies))
	for _, c := range cookies {
		if c.Name != refreshCookieName {
			kept = append(kept, c)
		}
	}
	if len(kept) > 0 {
		j.CookieJar.SetCookies(u, kept)
	}
}

func (j withoutRefreshCookie) Cookies(u *url.URL) []*http.Cookie {
	all := j.CookieJar.Cookies(u)
	kept := all[:0:0]
	for _, c := range all {
		if c.Name != refreshCookieName {
			kept = append(kept, c)
		}
	}
	return kept
}

// refreshFrom returns the refresh token an answer set ("" when it set
// none, or cleared it).
func refreshFrom(cookies []*http.Cookie) string {
	tok := ""
	for _, c := range cookies {
		if c.Name == refreshCookieName {
			tok = c.Value
			if c.MaxAge < 0 {
				tok = ""
			}
		}
	}
	return tok
}

// refreshToken is the newest refresh token ("" when there is none).
func (s *Session) refreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshTok
}

func (s *Session) apiURL() *url.URL { u := *s.base; u.Path += "/api/"; return &u }

func (s *Session) cookie(name string) string {
	for _, c := range s.jar.Cookies(s.apiURL()) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (s *Session) prefix() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v1 {
		return "/api/v1"
	}
	return "/api"
}

// ServerInfo returns what discovery learned (after Probe, Login or Run).
func (s *Session) ServerInfo() (version string, publicAccess bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, s.publicAccess
}

// Status is the connection state now.
func (s *Session) Status() event.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Session) setStatus(state, reason string, retryAt time.Time) {
	s.mu.Lock()
	if s.status.State == state && s.status.Reason == reason && s.status.RetryAt.Equal(retryAt) {
		s.mu.Unlock()
		return
	}
	// The count is kept across a drop: the server does not always say it
	// again after a reconnect (the listener count went missing). Views
	// show it only while connected.
	s.status = event.Status{State: state, Server: s.base.String(), User: s.opts.Username, Reason: reason, Since: time.Now(),
		RetryAt: retryAt, Listeners: s.status.Listeners}
	s.problemLocked(&s.status)
	st, emit := s.status, s.emitStatus
	s.mu.Unlock()
	if emit != nil {
		emit(st)
	}
}

// passwordChangeNotice is what the status tells a user whose server asks
// for a new password.
const passwordChangeNotice = "the server asks you to change your password: do it in its web page " +
	"(Earshot keeps working; sign in again here afterwards only if it asks)"

// problemLocked fills st's Problem (and PasswordChange) from what the
// session knows: a keyring failure first, then the server's request for a
// new password.
func (s *Session) problemLocked(st *event.Status) {
	st.PasswordChange = s.passwordChange
	var parts []string
	if s.keyringProblem != "" {
		parts = append(parts, s.keyringProblem)
	}
	if s.passwordChange {
		parts = append(parts, passwordChangeNotice)
	}
	st.Problem = strings.Join(parts, "; ")
}

// PasswordChangeRequested reports whether the server asked, at the last
// sign-in, that the user change the password (the answer's
// passwordNeedChange). Sign-in works either way.
func (s *Session) PasswordChangeRequested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passwordChange
}

// setKeyringProblem records (or, with "", clears) a keyring failure in
// the status and reports the change.
func (s *Session) setKeyringProblem(problem string) {
	s.mu.Lock()
	if s.keyringProblem == problem {
		s.mu.Unlock()
		return
	}
	s.keyringProblem = problem
	s.problemLocked(&s.status)
	st, emit := s.status, s.emitStatus
	s.mu.Unlock()
	if emit != nil {
		emit(st)
	}
}

// persist keeps tok, the newest refresh token, in the keyring, trying
// again after short pauses when the keyring refuses. If it still cannot,
// the session carries on with tok (the server has already retired the old
// one: going back is impossible), reports the failure in Status.Problem,
// and keepFresh keeps trying; the next rotation tries afresh too.
func (s *Session) persist(ctx context.Context, tok string) {
	if s.opts.SaveRefreshToken == nil || tok == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	var err error
	attempts := 0
	for {
		attempts++
		if err = s.opts.SaveRefreshToken(ctx, tok); err == nil {
			break
		}
		if attempts > len(s.saveRetry) {
			break
		}
		s.log.Warn("the keyring refused the renewed sign-in; trying again", "attempt", attempts, "err", err)
		if s.sleep(ctx, s.saveRetry[attempts-1]) != nil {
			break
		}
	}
	s.mu.Lock()
	s.lastSaveTry = s.now()
	if err == nil {
		s.unsaved = ""
	} else {
		s.unsaved = tok
		s.wakeFreshLocked()
	}
	s.mu.Unlock()
	if err == nil {
		if attempts > 1 {
			s.log.Info("the renewed sign-in is now kept in the keyring", "attempts", attempts)
		}
		s.setKeyringProblem("")
		return
	}
	s.log.Error("could not keep the renewed sign-in in the keyring; the next start may need a sign-in", "attempts", attempts, "err", err)
	s.setKeyringProblem(fmt.Sprintf("the keyring would not keep the renewed sign-in (%v): Earshot works until it quits, "+
		"but may ask you to sign in again at the next start; check that the keyring is unlocked", err))
}

// retryUnsaved writes a refresh token the keyring refused earlier again,
// at most every saveEvery, unless a newer one replaced it meanwhile.
func (s *Session) retryUnsaved(ctx context.Context) {
	s.mu.Lock()
	tok, due := s.unsaved, s.now().Sub(s.lastSaveTry) >= s.saveEvery
	current := tok != "" && tok == s.refreshTok
	s.mu.Unlock()
	if tok == "" || !due {
		return
	}
	if !current {
		return // a newer token was persisted (or failed) since
	}
	s.persist(ctx, tok)
}

// setListeners records the server's listener count and reports it.
func (s *Session) setListeners(n int) {
	s.mu.Lock()
	if s.status.Listeners == n || n < 0 {
		s.mu.Unlock()
		return
	}
	s.status.Listeners = n
	st, emit := s.status, s.emitStatus
	s.mu.Unlock()
	if emit != nil {
		emit(st)
	}
}

// apiError is an error answer from the server, v1 or legacy shape.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("server answered %d", e.Status)
}

func readAPIError(resp *http.Response) *apiError {
	e := &apiError{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var v1 struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &v1) == nil && (v1.Error.Code != "" || v1.Error.Message != "") {
		e.Code, e.Message = v1.Error.Code, v1.Error.Message
		return e
	}
	var legacy struct{ Error string }
	if json.Unmarshal(body, &legacy) == nil {
		e.Message = legacy.Error
	}
	return e
}

// do sends one request to path (relative to the server) and decodes a JSON
// answer into out on 2xx.
func (s *Session) do(ctx context.Context, method, path string, body any, bearer string, out any) error {
	_, err := s.exchange(ctx, method, path, body, bearer, "", out)
	return err
}

// exchange is do that also sends refresh (when not "") as the refresh
// token cookie, and returns the cookies a 2xx answer set.
func (s *Session) exchange(ctx context.Context, method, path string, body any, bearer, refresh string, out any) ([]*http.Cookie, error) {
	ctx, cancel := s.withTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base.String()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if refresh != "" {
		req.AddCookie(&http.Cookie{Name: refreshCookieName, Value: refresh})
	}
	resp, err := s.http.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errNoAnswer) {
			err = errNoAnswer
		}
		return nil, fmt.Errorf("reach %s: %w", s.base.Host, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(resp)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody)).Decode(out); err != nil {
			return nil, fmt.Errorf("%w: %s %s answered something that is not its JSON (%v)", ErrNotOpenScanner, method, path, err)
		}
	}
	return resp.Cookies(), nil
}

// redactURLError drops query strings from URL errors (none carry secrets
// today; this keeps it so).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Probe discovers the server: v1 or legacy API, version and whether it
// offers public access. It needs no credentials.
func (s *Session) Probe(ctx context.Context) error {
	var health struct{ Status, Version string }
	v1 := true
	err := s.do(ctx, "GET", "/api/v1/health", nil, "", &health)
	if statusOf(err) == http.StatusNotFound {
		v1 = false
		err = s.do(ctx, "GET", "/api/health", nil, "", &health)
	}
	if err != nil {
		if statusOf(err) != 0 {
			return fmt.Errorf("%w (%v)", ErrNotOpenScanner, err)
		}
		return err
	}
	if health.Status == "" {
		return ErrNotOpenScanner
	}
	prefix := "/api"
	if v1 {
		prefix = "/api/v1"
	}
	var setup struct {
		PublicAccess bool `json:"publicAccess"`
	}
	if err := s.do(ctx, "GET", prefix+"/setup/status", nil, "", &setup); err != nil {
		return fmt.Errorf("read the server's setup: %w", err)
	}
	s.mu.Lock()
	s.probed, s.v1, s.version, s.publicAccess = true, v1, health.Version, setup.PublicAccess
	s.mu.Unlock()
	return nil
}

func (s *Session) ensureProbed(ctx context.Context) error {
	s.mu.Lock()
	probed := s.probed
	s.mu.Unlock()
	if probed {
		return nil
	}
	return s.Probe(ctx)
}

type authAnswer struct {
	Token string `json:"token"`
	// PasswordNeedChange is the login answer's request that the user set
	// a new password (true for accounts an admin created).
	PasswordNeedChange bool `json:"passwordNeedChange"`
}

// Login signs in with a password and returns the new refresh token (the
// caller keeps it in the keyring). A refused password is ErrSignInAgain;
// exactly one attempt is made.
func (s *Session) Login(ctx context.Context, username, password string) (string, error) {
	if err := s.ensureProbed(ctx); err != nil {
		return "", err
	}
	var ans authAnswer
	set, err := s.exchange(ctx, "POST", s.prefix()+"/auth/login",
		map[string]any{"username": username, "password": password, "rememberMe": true}, "", "", &ans)
	switch statusOf(err) {
	case 0:
	case http.StatusUnauthorized:
		return "", fmt.Errorf("%w: the user name or password was refused", ErrSignInAgain)
	case http.StatusTooManyRequests:
		return "", ErrRateLimited
	}
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	refresh := refreshFrom(set)
	if ans.Token == "" || refresh == "" {
		return "", fmt.Errorf("%w: the sign-in answer has no token", ErrNotOpenScanner)
	}
	s.mu.Lock()
	s.setAccessLocked(ans.Token)
	s.refreshTok = refresh
	s.cookieAudio = s.cookie("os_session") != ""
	changed := s.passwordChange != ans.PasswordNeedChange
	s.passwordChange = ans.PasswordNeedChange
	s.problemLocked(&s.status)
	st, emit := s.status, s.emitStatus
	s.mu.Unlock()
	if ans.PasswordNeedChange {
		s.log.Info("the server asks this account's user to change the password in its web page; sign-in works meanwhile")
	}
	if changed && emit != nil {
		emit(st)
	}
	return refresh, nil
}

func (s *Session) setAccessLocked(token string) {
	s.access = token
	s.accessExp = time.Time{}
	// exp is read unverified, only to schedule the refresh.
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err == nil && c.ExpiresAt != nil {
		s.accessExp = c.ExpiresAt.Time
		s.accessMargin = refreshMargin(s.accessExp.Sub(s.now()))
	}
	s.wakeFreshLocked()
}

// wakeFreshLocked tells keepFresh to look again now: there is a new token
// to schedule, or one to keep.
func (s *Session) wakeFreshLocked() {
	select {
	case s.freshWake <- struct{}{}:
	default:
	}
}

// hasCredentials reports whether the session can sign in at all.
func (s *Session) hasCredentials() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshTok != "" || (s.opts.Username != "" && s.opts.Password != "")
}

// freshLocked reports whether the access token is good for a while yet.
func (s *Session) freshLocked() bool {
	return s.access != "" && (s.accessExp.IsZero() || s.now().Before(s.accessExp.Add(-s.accessMargin)))
}

// refreshMargin is how long before exp a token is refreshed.
func refreshMargin(ttl time.Duration) time.Duration {
	return min(time.Minute, max(ttl/4, time.Second))
}

// accessToken returns a usable access token, refreshing (or signing in)
// first when there is none or it is about to expire. "" means anonymous.
func (s *Session) accessToken(ctx context.Context) (string, error) {
	if !s.hasCredentials() {
		return "", nil
	}
	s.mu.Lock()
	tok, fresh := s.access, s.freshLocked()
	s.mu.Unlock()
	if fresh {
		return tok, nil
	}
	if err := s.refresh(ctx, tok); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access, nil
}

// refresh gets a new access token unless it changed from stale meanwhile.
// Concurrent callers share one refresh.
func (s *Session) refresh(ctx context.Context, stale string) error {
	s.mu.Lock()
	if s.access != stale && s.freshLocked() {
		s.mu.Unlock()
		return nil // someone else refreshed already
	}
	if c := s.inflight; c != nil {
		s.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &refreshCall{done: make(chan struct{})}
	s.inflight = c
	s.mu.Unlock()
	// The refresh outlives one caller's cancellation: others wait on it.
	c.err = s.doRefresh(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(c.done)
	return c.err
}

func (s *Session) doRefresh(ctx context.Context) error {
	ctx, cancel := s.withTimeout(ctx, requestTimeout)
	defer cancel()
	if err := s.ensureProbed(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	current, user, pw := s.refreshTok, s.opts.Username, s.opts.Password
	s.mu.Unlock()
	if current != "" {
		var ans authAnswer
		var set []*http.Cookie
		var err error
		pauses := refreshRetryPauses()
		for attempt := 0; ; attempt++ {
			actx, cancel := s.withTimeout(ctx, refreshTimeout)
			set, err = s.exchange(actx, "POST", s.prefix()+"/auth/refresh", nil, "", current, &ans)
			cancel()
			if err == nil || statusOf(err) != 0 || ctx.Err() != nil || attempt >= len(pauses) {
				break
			}
			// No answer: the server may have rotated the token already.
			// Ask again with the same one while its grace lasts.
			s.log.Info("the refresh got no answer; asking again with the same token", "attempt", attempt+1, "err", err)
			if s.wait(ctx, pauses[attempt]) != nil {
				break
			}
		}
		switch {
		case err == nil && ans.Token != "":
			next := refreshFrom(set)
			if next == "" {
				// Every OpenScanner rotates it; one that did not keeps
				// the token it was given working.
				next = current
			}
			// Persist the rotated token before anything can use it again.
			s.persist(ctx, next)
			s.mu.Lock()
			s.setAccessLocked(ans.Token)
			s.refreshTok = next
			s.cookieAudio = s.cookie("os_session") != ""
			s.mu.Unlock()
			s.log.Debug("access token refreshed")
			return nil
		case statusOf(err) == http.StatusTooManyRequests:
			return ErrRateLimited
		case statusOf(err) == http.StatusUnauthorized:
			s.mu.Lock()
			s.refreshTok, s.access = "", ""
			s.mu.Unlock()
			if pw == "" {
				return fmt.Errorf("%w: the stored sign-in was refused (signed out elsewhere, or expired)", ErrSignInAgain)
			}
			s.log.Info("the stored sign-in was refused; signing in with the remembered password")
		case err != nil:
			return fmt.Errorf("refresh the sign-in: %w", err)
		}
	}
	if user == "" || pw == "" {
		return fmt.Errorf("%w: no stored sign-in", ErrSignInAgain)
	}
	refresh, err := s.Login(ctx, user, pw)
	if err != nil {
		return err
	}
	s.persist(ctx, refresh)
	return nil
}

// Logout signs out on the server (revoking the session there). A session
// holding only a refresh token refreshes first to get the Bearer token
// logout needs.
func (s *Session) Logout(ctx context.Context) error {
	if err := s.ensureProbed(ctx); err != nil {
		return err
	}
	tok, err := s.accessToken(ctx)
	if err != nil {
		return err
	}
	if tok == "" {
		return nil // nothing to sign out of
	}
	// The refresh token goes along so the server revokes its family too.
	if _, err := s.exchange(ctx, "POST", s.prefix()+"/auth/logout", nil, tok, s.refreshToken(), nil); err != nil && statusOf(err) != http.StatusUnauthorized {
		return fmt.Errorf("sign out: %w", err)
	}
	s.mu.Lock()
	s.access, s.refreshTok = "", ""
	s.mu.Unlock()
	return nil
}

// FetchAudio writes call's audio to w and returns its declared content
// type. Inline audio (1.1) is written as is. On 401 it refreshes once and
// retries once; 404 is ErrCallUnavailable.
func (s *Session) FetchAudio(ctx context.Context, c event.Call, w io.Writer) (string, error) {
	if len(c.InlineAudio) > 0 {
		_, err := w.Write(c.InlineAudio)
		return c.AudioType, err
	}
	if err := s.ensureProbed(ctx); err != nil {
		return "", err
	}
	ctx, cancel := s.withTimeout(ctx, audioTimeout)
	defer cancel()
	path := s.prefix() + "/calls/" + strconv.FormatInt(c.ID, 10) + "/audio"
	for attempt := 0; ; attempt++ {
		tok, err := s.accessToken(ctx)
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, "GET", s.base.String()+path, nil)
		if err != nil {
			return "", err
		}
		s.mu.Lock()
		useCookie := s.cookieAudio
		s.mu.Unlock()
		if tok != "" && !useCookie {
			// 1.1 and older set no cookie: Bearer is the only way.
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := s.http.Do(req)
		if err != nil {
			return "", fmt.Errorf("download call %d: %w", c.ID, redactURLError(err))
		}
		switch resp.StatusCode {
		case http.StatusOK, http.StatusPartialContent:
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusPartialContent && !wholeRange(resp.Header.Get("Content-Range")) {
				// Asked for the whole file; part of it must never be taken
				// (and cached) for all of it.
				return "", fmt.Errorf("download call %d: the server sent part of the audio (%q) when asked for all of it", c.ID, resp.Header.Get("Content-Range"))
			}
			if resp.ContentLength > s.audioCap {
				return "", fmt.Errorf("call %d (%d bytes): %w", c.ID, resp.ContentLength, ErrAudioTooLarge)
			}
			n, err := io.Copy(w, io.LimitReader(resp.Body, s.audioCap+1))
			if err != nil {
				return "", fmt.Errorf("download call %d: %w", c.ID, err)
			}
			if n > s.audioCap {
				return "", fmt.Errorf("call %d: %w", c.ID, ErrAudioTooLarge)
			}
			if resp.ContentLength >= 0 && n != resp.ContentLength {
				return "", fmt.Errorf("download call %d: the server announced %d bytes and sent %d", c.ID, resp.ContentLength, n)
			}
			return resp.Header.Get("Content-Type"), nil
		case http.StatusUnauthorized:
			resp.Body.Close()
			if attempt == 0 && tok != "" {
				if err := s.refresh(ctx, tok); err != nil {
					return "", err
				}
				continue
			}
			return "", fmt.Errorf("download call %d: the server wants a sign-in for audio", c.ID)
		case http.StatusNotFound:
			resp.Body.Close()
			return "", fmt.Errorf("call %d: %w", c.ID, ErrCallUnavailable)
		case http.StatusTooManyRequests:
			resp.Body.Close()
			return "", ErrRateLimited
		default:
			e := readAPIError(resp)
			resp.Body.Close()
			return "", fmt.Errorf("download call %d: %w", c.ID, e)
		}
	}
}

// sameOriginRedirects is a client's CheckRedirect that follows a redirect
// only to base's own origin (scheme, host and port), and then only what
// next (the caller's own policy, or Go's default of 10) allows. The cookie
// jar matches cookies by host alone, ignoring the port, and Go keeps the
// Authorization header on a redirect to the same host: following a
// redirect to another port of the server's host would hand it the
// refresh token, os_session and Bearer token.
func sameOriginRedirects(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(base, req.URL) {
			return ErrOffOrigin
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// sameOrigin compares scheme, host and port (the scheme's default port
// when none is given).
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// wholeRange reports whether a 206's Content-Range ("bytes 0-99/100")
// covers the whole file.
func wholeRange(cr string) bool {
	spec, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return false
	}
	rng, total, ok := strings.Cut(spec, "/")
	if !ok {
		return false
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return false
	}
	f, err1 := strconv.ParseInt(first, 10, 64)
	l, err2 := strconv.ParseInt(last, 10, 64)
	t, err3 := strconv.ParseInt(total, 10, 64)
	return err1 == nil && err2 == nil && err3 == nil && f == 0 && t > 0 && l == t-1
}
