// Package tokens owns the relay's stream tokens: the credentials local
// programs present to the loopback relay. It issues, verifies, lists,
// revokes and rotates them, and keeps their registry (tokens.json).
//
// A stream token is an HS256 JWT (iss "earshot", aud "earshot-relay", kid =
// signing key id, jti = token id, scope listen|control, iat, optional exp).
// The signing keys (32 random bytes each) live only in the keyring
// (secrets.KeyStore, items "token-signing-key:<kid>"); the registry (0600,
// written atomically) holds every token's metadata and never a token value
// or a key. Edits are read-modify-write under an advisory file lock, so two
// Earshot processes (a running relay and `earshot token …`) never lose each
// other's changes, and a running Manager notices edits made by another
// process within about a second.
//
// It must not log, return or store a token value or a key, and it must not
// give a caller any hint about why a token was refused (ErrInvalid covers
// every reason).
package tokens

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"earshot/relay/secrets"
)

// Scopes.
const (
	ScopeListen  = "listen"  // the live feed, calls and audio
	ScopeControl = "control" // also token management
)

// Default claim values that pin a token to the relay (Options may change
// them, e.g. to keep two installs' tokens apart).
const (
	Issuer   = "earshot"
	Audience = "earshot-relay"
)

// MaxTokenLen caps what Verify will look at.
const MaxTokenLen = 4 << 10

var (
	// ErrInvalid is every reason a token is refused (malformed, bad
	// signature, another key's, unknown, revoked, rotated out, expired):
	// callers get one answer, so the relay is no oracle about which.
	ErrInvalid = errors.New("invalid stream token")
	// ErrNotFound means no token has that id.
	ErrNotFound = errors.New("no stream token with that id")
)

// Info describes a token. It never holds the token's value.
type Info struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Scope    string     `json:"scope"`
	KeyID    string     `json:"keyId"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
	// LastClient says who used it last: the program (from its
	// User-Agent, "VLC", "Firefox (web player)"), or "this computer", or
	// another machine's address when the relay listens beyond loopback.
	LastClient string `json:"lastClient,omitempty"`
	// LastAddr is what registries before LastClient kept: the client's
	// address and port. It is read, never written; UsedBy shows it sensibly.
	LastAddr string `json:"lastAddr,omitempty"`
	Revoked  bool   `json:"revoked,omitempty"`
	// RevokedAt is when Revoke (or a rotation without grace) stopped it.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	// RetiresAt is when a rotated-out token stops working.
	RetiresAt *time.Time `json:"retiresAt,omitempty"`
}

// Status says in a word or two whether the token works at now: "active",
// "revoked", "expired", "rotated out", or "rotated (until …)" while a
// rotated-out token is in its grace period.
func (i Info) Status(now time.Time) string {
	switch {
	case i.Revoked:
		return "revoked"
	case i.Expires != nil && !now.Before(*i.Expires):
		return "expired"
	case i.RetiresAt != nil && !now.Before(*i.RetiresAt):
		return "rotated out"
	case i.RetiresAt != nil:
		return "rotated (until " + i.RetiresAt.Local().Format("Jan 2 15:04:05") + ")"
	}
	return "active"
}

// UsedBy says who used the token last, for people: LastClient, or what
// an older registry kept in LastAddr without its throwaway port ("this
// computer" for a loopback address). "" if it was never used.
func (i Info) UsedBy() string {
	if i.LastClient != "" {
		return i.LastClient
	}
	if i.LastAddr == "" {
		return ""
	}
	host := i.LastAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "this computer"
	}
	return host
}

// usable reports whether the token may be used at now.
func (i *Info) usable(now time.Time) bool {
	return !i.Revoked &&
		(i.Expires == nil || now.Before(*i.Expires)) &&
		(i.RetiresAt == nil || now.Before(*i.RetiresAt))
}

// Claims is what a verified token stands for.
type Claims struct {
	ID    string // the token id (jti)
	Name  string
	Scope string
}

// Options configure a Manager.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Issuer and Audience are the iss and aud claims issued and required;
	// empty means Issuer and Audience.
	Issuer, Audience string
	// Logger gets warnings about the registry and the keyring; nil
	// discards them. Nothing secret is ever logged.
	Logger *slog.Logger
	// ReloadEvery is how often the registry file is checked for edits by
	// other processes; 0 means 1 s, negative disables the check.
	ReloadEvery time.Duration
	// FlushEvery is how often pending last-used times are written; 0
	// means 5 s.
	FlushEvery time.Duration

	// afterReloadRead, when set (by tests), runs in a reload between
	// reading the file and installing it.
	afterReloadRead func()
}

// Manager is the token registry of one process. It is safe for concurrent
// use. Close it to flush last-used times and stop its goroutine.
type Manager struct {
	file  *registryFile
	store secrets.KeyStore
	now   func() time.Time
	log   *slog.Logger
	hook  func() // Options.afterReloadRead
	iss   string
	aud   string

	// syncMu orders every read-and-install of the registry (edits and
	// reloads), so an older file can never be installed over a newer one.
	syncMu sync.Mutex

	mu      sync.RWMutex
	reg     registry
	byID    map[string]*Info
	keys    map[string]*signingKey // key id → key, for keys in reg.Keys
	headers map[string]*signingKey // issued header segment → key
	changed chan struct{}
	// touched is closed (and replaced) when Touch records a use, for
	// Watch: uses are not registry changes, but a token list shows them.
	touched chan struct{}
	used    map[string]usage // last-used times not yet on disk

	claims claimsCache

	installs atomic.Int64 // registries installed so far

	reloadMu         sync.Mutex
	lastFailedReload time.Time

	warnMu     sync.Mutex
	lastWarned string // the reload error last logged, so a bad file is reported once, not every second

	stopOnce sync.Once
	stop     context.CancelFunc
	stopped  chan struct{}
}

type usage struct {
	at     time.Time
	client string
}

func keyItem(kid string) string { return "token-signing-key:" + kid }

// Open opens the registry at path (creating it on the first edit), with
// signing keys in keys. It refuses a registry that other users can write.
// The keyring is read here and again only when a key appears that this
// process has not loaded yet.
func Open(ctx context.Context, path string, keys secrets.KeyStore, opts Options) (*Manager, error) {
	if keys == nil {
		return nil, errors.New("open the token registry: no keyring given")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Issuer == "" {
		opts.Issuer = Issuer
	}
	if opts.Audience == "" {
		opts.Audience = Audience
	}
	if opts.ReloadEvery == 0 {
		opts.ReloadEvery = time.Second
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 5 * time.Second
	}
	f, err := openRegistryFile(path)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		file:    f,
		store:   keys,
		now:     opts.Now,
		log:     opts.Logger,
		hook:    opts.afterReloadRead,
		iss:     opts.Issuer,
		aud:     opts.Audience,
		keys:    map[string]*signingKey{},
		headers: map[string]*signingKey{},
		changed: make(chan struct{}),
		touched: make(chan struct{}),
		used:    map[string]usage{},
	}
	reg, stamp, err := f.read()
	if err != nil {
		return nil, err
	}
	if err := m.install(ctx, reg, false); err != nil {
		return nil, err
	}
	f.markSeen(stamp)
	runCtx, cancel := context.WithCancel(context.Background())
	m.stop, m.stopped = cancel, make(chan struct{})
	go func() {
		defer close(m.stopped)
		m.background(runCtx, opts.ReloadEvery, opts.FlushEvery)
	}()
	return m, nil
}

// install makes reg the in-memory registry: it loads signing keys not yet
// in memory from the keyring, forgets keys the registry no longer lists,
// and (with signal) wakes everyone waiting on Changed.
func (m *Manager) install(ctx context.Context, reg registry, signal bool) error {
	m.mu.RLock()
	var missing []string
	for _, k := range reg.Keys {
		if _, ok := m.keys[k.ID]; !ok {
			missing = append(missing, k.ID)
		}
	}
	m.mu.RUnlock()
	loaded := map[string]*signingKey{}
	for _, kid := range missing {
		raw, err := m.loadKey(ctx, kid)
		if errors.Is(err, secrets.ErrNotFound) || errors.Is(err, errBadKey) {
			// Tokens of a key the keyring lost can never verify again.
			m.log.Warn("a stream-token signing key is missing or damaged in the keyring; its tokens no longer work", "key", kid)
			continue
		}
		if err != nil {
			return err
		}
		loaded[kid] = newSigningKey(kid, raw)
	}
	listed := make(map[string]bool, len(reg.Keys))
	for _, k := range reg.Keys {
		listed[k.ID] = true
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for kid, k := range loaded {
		m.keys[kid] = k
	}
	for kid := range m.keys {
		if !listed[kid] {
			delete(m.keys, kid)
		}
	}
	clear(m.headers)
	for _, k := range m.keys {
		m.headers[k.header] = k
	}
	m.reg = reg
	m.byID = make(map[string]*Info, len(reg.Tokens))
	for i := range m.reg.Tokens {
		t := &m.reg.Tokens[i]
		// Last-used times not flushed yet stay visible.
		if u, ok := m.used[t.ID]; ok && (t.LastUsed == nil || u.at.After(*t.LastUsed)) {
			at := u.at
			t.LastUsed, t.LastClient, t.LastAddr = &at, u.client, ""
		}
		m.byID[t.ID] = t
	}
	m.installs.Add(1)
	if signal {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

var errBadKey = errors.New("malformed signing key")

// loadKey reads signing key kid from the keyring.
func (m *Manager) loadKey(ctx context.Context, kid string) ([]byte, error) {
	v, err := m.store.Get(ctx, keyItem(kid))
	if err != nil {
		if errors.Is(err, secrets.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("read stream-token signing key %s: %w", kid, err)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) < 32 {
		return nil, errBadKey
	}
	return raw, nil
}

// Changed returns a channel that is closed at the next change of the
// registry (create, revoke, rotate, or an edit by another process noticed
// by the reload). Each change closes the current channel and replaces it:
// after it fires, re-check what you hold and call Changed again.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.changed
}

// List returns every token, oldest first.
func (m *Manager) List(context.Context) ([]Info, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Info, len(m.reg.Tokens))
	copy(out, m.reg.Tokens)
	return out, nil
}

// Admin is token administration as every front uses it: the relay's
// control plane, the CLI (on the registry, or through a running relay's
// control plane) and the windows (through the resident process). Every
// method takes a context and may fail: some of them cross a process.
type Admin interface {
	List(ctx context.Context) ([]Info, error)
	Create(ctx context.Context, name, scope string, ttl time.Duration) (string, Info, error)
	Revoke(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string, grace time.Duration) (string, Info, error)
	RotateAll(ctx context.Context, grace time.Duration) error
}

var _ Admin = (*Manager)(nil)

// Get returns the token with id.
func (m *Manager) Get(id string) (Info, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	if !ok {
		return Info{}, false
	}
	return *t, true
}

// Valid reports whether token id may still be used now: known, not revoked,
// not expired, not rotated out past its grace, and its signing key still
// live. It is cheap (a map lookup under a read lock); live connections call
// it to re-check the token they were opened with.
func (m *Manager) Valid(id string) bool {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	if !ok || !t.usable(now) {
		return false
	}
	_, live := m.keys[t.KeyID]
	return live
}

// Deadline returns the moment token id stops working by itself — its
// expiry, or the end of its rotation grace, whichever comes first — if it
// has one and works now. Live connections schedule their re-check for that
// moment instead of polling; every other way a token dies (revoke, a
// rotation without grace, a lost key) goes through Changed.
func (m *Manager) Deadline(id string) (time.Time, bool) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	if !ok || !t.usable(now) {
		return time.Time{}, false
	}
	var at time.Time
	for _, end := range []*time.Time{t.Expires, t.RetiresAt} {
		if end != nil && (at.IsZero() || end.Before(at)) {
			at = *end
		}
	}
	return at, !at.IsZero()
}

// reloadIfChanged reloads the registry now if another process changed it,
// and reports whether it did. Verify calls it only for a well-formed token
// it cannot place. It costs one stat unless the file really changed (only
// Earshot's own edits change it), so garbage cannot make the relay re-read
// its file; after a failed reload it tries again at most every second.
//
// It is not rate-limited otherwise: a limit by time would refuse a token
// the CLI created a moment after some other program presented a token of a
// retired key (as consumers do right after rotate-all).
//
// installs is m.installs as the caller read it before it looked the token
// up: if a registry was installed since (a background reload, an edit),
// the caller looked at an older state and should look again.
func (m *Manager) reloadIfChanged(installs int64) bool {
	// The order matters: a reload installs (counting it) before it marks
	// the file seen, so a file no longer "changed" and an unchanged count
	// mean nothing newer was installed since the caller's look.
	if !m.file.changedOnDisk() {
		return m.installs.Load() != installs
	}
	m.reloadMu.Lock()
	failedRecently := time.Since(m.lastFailedReload) < time.Second
	m.reloadMu.Unlock()
	if failedRecently {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	did, err := m.reload(ctx)
	if err != nil {
		m.reloadMu.Lock()
		m.lastFailedReload = time.Now()
		m.reloadMu.Unlock()
	}
	m.noteReloadError(err)
	// Another goroutine (the background reload, an edit) may have
	// installed the change while this one waited for syncMu: the state is
	// newer either way, and the caller should look again.
	return did || m.installs.Load() != installs
}

// noteReloadError logs a reload failure once per distinct error, and its
// end.
func (m *Manager) noteReloadError(err error) {
	m.warnMu.Lock()
	defer m.warnMu.Unlock()
	switch {
	case err == nil && m.lastWarned != "":
		m.log.Info("the token registry reloads again")
		m.lastWarned = ""
	case err != nil && err.Error() != m.lastWarned:
		m.log.Warn("could not reload the token registry; keeping the tokens as they were", "err", err)
		m.lastWarned = err.Error()
	}
}

// reload installs the registry from disk if it changed since this process
// last read or wrote it.
func (m *Manager) reload(ctx context.Context) (bool, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	if !m.file.changedOnDisk() {
		return false, nil
	}
	reg, stamp, err := m.file.read()
	if err != nil {
		return false, err
	}
	if m.hook != nil {
		m.hook()
	}
	if err := m.install(ctx, reg, true); err != nil {
		return false, err // not marked seen: the next look tries again
	}
	m.file.markSeen(stamp)
	return true, nil
}

// Touch records that token id was used by client (who, in words: see
// Info.LastClient). It is cheap and never touches the disk: last-used
// times are kept in memory and written every few seconds and on Close.
func (m *Manager) Touch(id, client string) {
	now := m.now().UTC().Truncate(time.Second)
	fresh := func(t *Info) bool { return t.LastUsed != nil && !now.After(*t.LastUsed) && t.LastClient == client }
	// Most calls find the time already recorded this second: a read lock
	// keeps them from contending with Verify.
	m.mu.RLock()
	t, ok := m.byID[id]
	skip := !ok || fresh(t)
	m.mu.RUnlock()
	if skip {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok = m.byID[id]
	if !ok || fresh(t) {
		return
	}
	t.LastUsed, t.LastClient, t.LastAddr = &now, client, ""
	m.used[id] = usage{at: now, client: client}
	close(m.touched)
	m.touched = make(chan struct{})
}

// Watch sends the token list now and again after every change — a token
// created, revoked or rotated here or by another process (noticed within
// about a second), or a token used (at most once every usePause) — so a
// token manager shows what `earshot token list` shows, live. The channel
// is closed when ctx ends, after the goroutine feeding it has stopped.
func (m *Manager) Watch(ctx context.Context) <-chan []Info {
	out := make(chan []Info)
	go func() {
		defer close(out)
		for {
			m.mu.RLock()
			changed, touched := m.changed, m.touched
			m.mu.RUnlock()
			list, _ := m.List(ctx) // never fails
			select {
			case out <- list:
			case <-ctx.Done():
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-touched:
				// Uses come in bursts (a player fetching audio):
				// gather them.
				select {
				case <-ctx.Done():
					return
				case <-changed:
				case <-time.After(usePause):
				}
			}
		}
	}()
	return out
}

// usePause bounds how often Watch reports token uses.
const usePause = time.Second

// flush writes pending last-used times.
func (m *Manager) flush(ctx context.Context) error {
	m.mu.RLock()
	pending := len(m.used)
	m.mu.RUnlock()
	if pending == 0 {
		return nil
	}
	if err := m.mutate(ctx, func(*registry) error { return nil }); err != nil {
		return fmt.Errorf("save token last-used times: %w", err)
	}
	return nil
}

// background reloads the registry when another process edits it and
// flushes last-used times, until ctx ends.
func (m *Manager) background(ctx context.Context, reloadEvery, flushEvery time.Duration) {
	var reload <-chan time.Time
	if reloadEvery > 0 {
		t := time.NewTicker(reloadEvery)
		defer t.Stop()
		reload = t.C
	}
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			if _, err := m.reload(ctx); ctx.Err() == nil {
				m.noteReloadError(err)
			}
		case <-flush.C:
			if err := m.flush(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("could not save token last-used times", "err", err)
			}
		}
	}
}

// Close stops the background work and writes pending last-used times. It
// may be called more than once.
func (m *Manager) Close(ctx context.Context) error {
	m.stopOnce.Do(m.stop)
	<-m.stopped
	return m.flush(ctx)
}
