// Package tokens issues, verifies, lists, revokes and rotates the relay's
// stream tokens: the credentials local programs present to the loopback
// relay.
//
// A stream token is an HS256 JWT (iss "earshot", aud "earshot-relay", kid =
// signing key, jti = token id, scope listen|control, optional exp). The
// signing keys live only in the keyring (secrets.KeyStore); the registry
// (tokens.json, 0600) holds every token's metadata, never a token value.
// Edits are read-modify-write under an advisory file lock, so two Earshot
// processes (a running relay and `earshot token …`) never lose each other's
// changes, and a running Manager notices edits made by another process.
package tokens

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"earshot/relay/secrets"
)

// Scopes.
const (
	ScopeListen  = "listen"  // the live feed, calls and audio
	ScopeControl = "control" // also token management
)

// Claim values that pin a token to this relay.
const (
	Issuer   = "earshot"
	Audience = "earshot-relay"
)

// MaxTokenLen caps what Verify will look at.
const MaxTokenLen = 4 << 10

var (
	// ErrInvalid is every reason a token is refused (bad signature,
	// unknown, revoked, rotated out, expired): callers get one answer, so
	// the relay is no oracle about which.
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
	LastAddr string     `json:"lastAddr,omitempty"`
	Revoked  bool       `json:"revoked,omitempty"`
	// RevokedAt is when Revoke (or a rotation without grace) stopped it.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	// RetiresAt is when a rotated-out token stops working.
	RetiresAt *time.Time `json:"retiresAt,omitempty"`
}

// Status says in a word or two whether the token works at now.
func (i Info) Status(now time.Time) string {
	switch {
	case i.Revoked:
		return "revoked"
	case i.Expires != nil && !now.Before(*i.Expires):
		return "expired"
	case i.RetiresAt != nil && !now.Before(*i.RetiresAt):
		return "rotated out"
	case i.RetiresAt != nil:
		return "rotated (works until " + i.RetiresAt.Local().Format("15:04") + ")"
	}
	return "active"
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
	// Logger gets warnings about the registry; nil discards them.
	Logger *slog.Logger
	// ReloadEvery is how often the registry file is checked for edits by
	// other processes; 0 means 1 s, negative disables the check.
	ReloadEvery time.Duration
	// FlushEvery is how often last-used times are written; 0 means 10 s.
	FlushEvery time.Duration
}

// Manager is the token registry of one relay. It is safe for concurrent
// use. Close it to flush last-used times and stop its goroutine.
type Manager struct {
	file *registryFile
	keys secrets.KeyStore
	now  func() time.Time
	log  *slog.Logger

	mu      sync.RWMutex
	reg     registry
	byID    map[string]*Info
	secrets map[string][]byte // key id → HMAC key
	changed chan struct{}
	used    map[string]usage // pending last-used updates

	reloadMu   sync.Mutex
	lastReload time.Time

	stop    context.CancelFunc
	stopped chan struct{}
}

type usage struct {
	at   time.Time
	addr string
}

// Open opens (creating it if needed) the registry at path, with signing keys
// in keys. The keyring is read once here and again only when another
// process adds a key.
func Open(ctx context.Context, path string, keys secrets.KeyStore, opts Options) (*Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReloadEvery == 0 {
		opts.ReloadEvery = time.Second
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 10 * time.Second
	}
	f, err := openRegistryFile(path)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		file:    f,
		keys:    keys,
		now:     opts.Now,
		log:     opts.Logger,
		secrets: map[string][]byte{},
		changed: make(chan struct{}),
		used:    map[string]usage{},
	}
	reg, err := f.read()
	if err != nil {
		return nil, err
	}
	if err := m.install(ctx, reg, false); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m.stop, m.stopped = cancel, make(chan struct{})
	go func() {
		defer close(m.stopped)
		m.background(runCtx, opts.ReloadEvery, opts.FlushEvery)
	}()
	return m, nil
}

// install makes reg the in-memory registry, loading any signing key not yet
// in memory from the keyring.
func (m *Manager) install(ctx context.Context, reg registry, signal bool) error {
	m.mu.RLock()
	var missing []string
	for _, k := range reg.Keys {
		if _, ok := m.secrets[k.ID]; !ok {
			missing = append(missing, k.ID)
		}
	}
	m.mu.RUnlock()
	loaded := map[string][]byte{}
	for _, kid := range missing {
		v, err := m.keys.Get(ctx, keyItem(kid))
		if errors.Is(err, secrets.ErrNotFound) {
			// Tokens of a key the keyring lost can never verify again.
			m.log.Warn("a stream-token signing key is missing from the keyring; its tokens no longer work", "key", kid)
			continue
		}
		if err != nil {
			return fmt.Errorf("read a stream-token signing key: %w", err)
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) < 32 {
			m.log.Warn("a stream-token signing key in the keyring is malformed; its tokens no longer work", "key", kid)
			continue
		}
		loaded[kid] = b
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range loaded {
		m.secrets[k] = v
	}
	m.reg = reg
	m.byID = make(map[string]*Info, len(reg.Tokens))
	for i := range reg.Tokens {
		t := &m.reg.Tokens[i]
		// Last-used times not flushed yet stay visible.
		if u, ok := m.used[t.ID]; ok && (t.LastUsed == nil || u.at.After(*t.LastUsed)) {
			at := u.at
			t.LastUsed, t.LastAddr = &at, u.addr
		}
		m.byID[t.ID] = t
	}
	if signal {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

func keyItem(kid string) string { return "token-signing-key:" + kid }

// Changed returns a channel that is closed at the next change of the
// registry (create, revoke, rotate, or an edit by another process). Call it
// again after it fires for the following change.
func (m *Manager) Changed() <-chan struct{} {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.changed
}

// List returns every token, oldest first.
func (m *Manager) List() []Info {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Info, len(m.reg.Tokens))
	copy(out, m.reg.Tokens)
	return out
}

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

// Valid reports whether token id may still be used now. Live connections
// call it to re-check the token they were opened with.
func (m *Manager) Valid(id string) bool {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.byID[id]
	if !ok || !t.usable(now) {
		return false
	}
	_, haveKey := m.secrets[t.KeyID]
	return haveKey
}

// tokenHeader is the only JOSE header Earshot issues and accepts.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type tokenClaims struct {
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
	Jti   string `json:"jti"`
	Scope string `json:"scope"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp,omitempty"`
}

// Verify checks a presented token: size, the pinned HS256 header, the
// signature (constant time), issuer, audience, and the registry's word on
// the token (known, not revoked, not rotated out, not expired).
func (m *Manager) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLen || len(token) < 20 {
		return Claims{}, ErrInvalid
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrInvalid
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return Claims{}, ErrInvalid
	}
	var hdr tokenHeader
	if !decodeSegment(h, &hdr) || hdr.Alg != "HS256" || hdr.Typ != "JWT" || hdr.Kid == "" {
		return Claims{}, ErrInvalid
	}
	m.mu.RLock()
	key := m.secrets[hdr.Kid]
	m.mu.RUnlock()
	if key == nil {
		// Perhaps another process (the CLI) just made a new key.
		if !m.reloadIfChanged() {
			return Claims{}, ErrInvalid
		}
		m.mu.RLock()
		key = m.secrets[hdr.Kid]
		m.mu.RUnlock()
		if key == nil {
			return Claims{}, ErrInvalid
		}
	}
	var sum [sha256.Size]byte
	if base64.RawURLEncoding.DecodedLen(len(sig)) != len(sum) {
		return Claims{}, ErrInvalid
	}
	if _, err := base64.RawURLEncoding.Decode(sum[:], []byte(sig)); err != nil {
		return Claims{}, ErrInvalid
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(token[:len(h)+1+len(p)]))
	if !hmac.Equal(mac.Sum(nil), sum[:]) {
		return Claims{}, ErrInvalid
	}
	var c tokenClaims
	if !decodeSegment(p, &c) || c.Iss != Issuer || c.Aud != Audience || c.Jti == "" {
		return Claims{}, ErrInvalid
	}
	now := m.now()
	if c.Exp != 0 && now.Unix() >= c.Exp {
		return Claims{}, ErrInvalid
	}
	m.mu.RLock()
	t, ok := m.byID[c.Jti]
	m.mu.RUnlock()
	if !ok && m.reloadIfChanged() {
		// A correctly signed token we have not seen: another process
		// created it a moment ago.
		m.mu.RLock()
		t, ok = m.byID[c.Jti]
		m.mu.RUnlock()
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !ok || t.KeyID != hdr.Kid || t.Scope != c.Scope || !t.usable(now) {
		return Claims{}, ErrInvalid
	}
	return Claims{ID: t.ID, Name: t.Name, Scope: t.Scope}, nil
}

// reloadIfChanged reloads the registry now if another process changed it,
// at most every 50 ms, and reports whether it did. Only correctly signed
// tokens (or ones naming a key we lack) get here, so a flood of garbage
// cannot make the relay re-read its file.
func (m *Manager) reloadIfChanged() bool {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if time.Since(m.lastReload) < 50*time.Millisecond || !m.file.changedOnDisk() {
		return false
	}
	m.lastReload = time.Now()
	reg, err := m.file.read()
	if err != nil {
		m.log.Warn("could not reload the token registry", "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := m.install(ctx, reg, true); err != nil {
		m.log.Warn("could not reload the token registry", "err", err)
		return false
	}
	return true
}

// decodeSegment decodes one base64url JSON segment strictly.
func decodeSegment(seg string, v any) bool {
	if len(seg) > MaxTokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// sign makes the compact JWT for claims with key kid.
func sign(kid string, key []byte, c tokenClaims) (string, error) {
	claims := jwt.MapClaims{"iss": c.Iss, "aud": c.Aud, "jti": c.Jti, "scope": c.Scope, "iat": c.Iat}
	if c.Exp != 0 {
		claims["exp"] = c.Exp
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign a stream token: %w", err)
	}
	return s, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS is broken; nothing safe to do
	}
	return hex.EncodeToString(b)
}

// validName accepts 1–64 printable characters.
func validName(name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: a token name has 1 to 64 characters", ErrInvalidRequest)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: a token name cannot hold control characters", ErrInvalidRequest)
		}
	}
	return nil
}

// ErrInvalidRequest marks a bad create or rotate request (name, scope,
// lifetime). It wraps ErrInvalid so callers map both to "bad request".
var ErrInvalidRequest = fmt.Errorf("%w request", ErrInvalid)

// Create issues a token named name with scope, valid for ttl (0: until
// revoked). The value is returned once and never stored.
func (m *Manager) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, Info, error) {
	if err := validName(name); err != nil {
		return "", Info{}, err
	}
	if scope != ScopeListen && scope != ScopeControl {
		return "", Info{}, fmt.Errorf("%w: scope must be listen or control", ErrInvalidRequest)
	}
	if ttl < 0 {
		return "", Info{}, fmt.Errorf("%w: a lifetime cannot be negative", ErrInvalidRequest)
	}
	var token string
	var info Info
	err := m.mutate(ctx, func(reg *registry) error {
		var err error
		token, info, err = m.issueLocked(ctx, reg, strings.TrimSpace(name), scope, ttl)
		return err
	})
	return token, info, err
}

// issueLocked adds a token to reg (under the file lock).
func (m *Manager) issueLocked(ctx context.Context, reg *registry, name, scope string, ttl time.Duration) (string, Info, error) {
	kid, key, err := m.currentKeyLocked(ctx, reg)
	if err != nil {
		return "", Info{}, err
	}
	now := m.now().UTC().Truncate(time.Second)
	info := Info{ID: randomID(6), Name: name, Scope: scope, KeyID: kid, Created: now}
	c := tokenClaims{Iss: Issuer, Aud: Audience, Jti: info.ID, Scope: scope, Iat: now.Unix()}
	if ttl > 0 {
		exp := now.Add(ttl)
		info.Expires = &exp
		c.Exp = exp.Unix()
	}
	token, err := sign(kid, key, c)
	if err != nil {
		return "", Info{}, err
	}
	reg.Tokens = append(reg.Tokens, info)
	return token, info, nil
}

// currentKeyLocked returns the current signing key, creating one (in the
// keyring first, then the registry) when there is none.
func (m *Manager) currentKeyLocked(ctx context.Context, reg *registry) (string, []byte, error) {
	if reg.CurrentKey != "" {
		m.mu.RLock()
		key := m.secrets[reg.CurrentKey]
		m.mu.RUnlock()
		if key != nil {
			return reg.CurrentKey, key, nil
		}
		v, err := m.keys.Get(ctx, keyItem(reg.CurrentKey))
		if err == nil {
			if b, derr := base64.StdEncoding.DecodeString(v); derr == nil && len(b) >= 32 {
				m.mu.Lock()
				m.secrets[reg.CurrentKey] = b
				m.mu.Unlock()
				return reg.CurrentKey, b, nil
			}
		} else if !errors.Is(err, secrets.ErrNotFound) {
			return "", nil, fmt.Errorf("read the stream-token signing key: %w", err)
		}
		m.log.Warn("the current stream-token signing key is gone from the keyring; making a new one")
	}
	return m.newKeyLocked(ctx, reg)
}

func (m *Manager) newKeyLocked(ctx context.Context, reg *registry) (string, []byte, error) {
	kid := randomID(4)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("make a signing key: %w", err)
	}
	if err := m.keys.Set(ctx, keyItem(kid), base64.StdEncoding.EncodeToString(key)); err != nil {
		return "", nil, fmt.Errorf("keep the stream-token signing key in the keyring: %w", err)
	}
	m.mu.Lock()
	m.secrets[kid] = key
	m.mu.Unlock()
	reg.Keys = append(reg.Keys, keyInfo{ID: kid, Created: m.now().UTC().Truncate(time.Second)})
	reg.CurrentKey = kid
	return kid, key, nil
}

// Revoke stops token id now, open connections included.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	return m.mutate(ctx, func(reg *registry) error {
		t := reg.find(id)
		if t == nil {
			return ErrNotFound
		}
		if !t.Revoked {
			now := m.now().UTC()
			t.Revoked, t.RevokedAt = true, &now
		}
		return nil
	})
}

// Rotate issues a new token with the same name, scope and lifetime as id;
// id keeps working for grace (0: it stops now).
func (m *Manager) Rotate(ctx context.Context, id string, grace time.Duration) (string, Info, error) {
	if grace < 0 {
		return "", Info{}, fmt.Errorf("%w: grace cannot be negative", ErrInvalidRequest)
	}
	var token string
	var info Info
	err := m.mutate(ctx, func(reg *registry) error {
		old := reg.find(id)
		if old == nil {
			return ErrNotFound
		}
		if old.Revoked {
			return fmt.Errorf("%w: token %s is revoked; create a new one instead", ErrInvalidRequest, id)
		}
		var ttl time.Duration
		if old.Expires != nil {
			ttl = old.Expires.Sub(old.Created)
		}
		name, scope := old.Name, old.Scope
		retire(old, m.now().UTC(), grace)
		var err error
		token, info, err = m.issueLocked(ctx, reg, name, scope, ttl)
		return err
	})
	return token, info, err
}

// retire ends t at now+grace (now when grace is 0).
func retire(t *Info, now time.Time, grace time.Duration) {
	if grace == 0 {
		t.Revoked, t.RevokedAt = true, &now
		return
	}
	until := now.Add(grace)
	if t.RetiresAt == nil || until.Before(*t.RetiresAt) {
		t.RetiresAt = &until
	}
}

// RotateAll makes a new signing key; every existing token stops working
// after grace.
func (m *Manager) RotateAll(ctx context.Context, grace time.Duration) error {
	if grace < 0 {
		return fmt.Errorf("%w: grace cannot be negative", ErrInvalidRequest)
	}
	var oldKeys []string
	err := m.mutate(ctx, func(reg *registry) error {
		now := m.now().UTC()
		for i := range reg.Tokens {
			if !reg.Tokens[i].Revoked {
				retire(&reg.Tokens[i], now, grace)
			}
		}
		for _, k := range reg.Keys {
			oldKeys = append(oldKeys, k.ID)
		}
		_, _, err := m.newKeyLocked(ctx, reg)
		if err != nil {
			return err
		}
		if grace == 0 {
			// Nothing signed with the old keys can work again: forget them.
			reg.Keys = reg.Keys[len(reg.Keys)-1:]
		}
		return nil
	})
	if err == nil && grace == 0 {
		for _, kid := range oldKeys {
			if derr := m.keys.Delete(ctx, keyItem(kid)); derr != nil {
				m.log.Warn("could not delete a retired signing key from the keyring", "key", kid, "err", derr)
			}
			m.mu.Lock()
			delete(m.secrets, kid)
			m.mu.Unlock()
		}
	}
	return err
}

// Touch records that token id was used from addr. It is cheap: times are
// kept in memory and written in batches.
func (m *Manager) Touch(id, addr string) {
	now := m.now().UTC().Truncate(time.Second)
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.byID[id]
	if !ok {
		return
	}
	if t.LastUsed != nil && t.LastUsed.Equal(now) && t.LastAddr == addr {
		return
	}
	t.LastUsed, t.LastAddr = &now, addr
	m.used[id] = usage{at: now, addr: addr}
}

// mutate applies fn to the registry as it is on disk, under the file lock,
// writes it and installs it.
func (m *Manager) mutate(ctx context.Context, fn func(*registry) error) error {
	unlock, err := m.file.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	reg, err := m.file.read()
	if err != nil {
		return err
	}
	m.mergeUsage(&reg)
	if err := fn(&reg); err != nil {
		return err
	}
	if err := m.file.write(reg); err != nil {
		return err
	}
	m.mu.Lock()
	clear(m.used)
	m.mu.Unlock()
	return m.install(ctx, reg, true)
}

// mergeUsage folds pending last-used times into reg.
func (m *Manager) mergeUsage(reg *registry) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for id, u := range m.used {
		if t := reg.find(id); t != nil && (t.LastUsed == nil || u.at.After(*t.LastUsed)) {
			at := u.at
			t.LastUsed, t.LastAddr = &at, u.addr
		}
	}
}

// flush writes pending last-used times.
func (m *Manager) flush(ctx context.Context) error {
	m.mu.RLock()
	pending := len(m.used)
	m.mu.RUnlock()
	if pending == 0 {
		return nil
	}
	return m.mutate(ctx, func(*registry) error { return nil })
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
			if !m.file.changedOnDisk() {
				continue
			}
			reg, err := m.file.read()
			if err != nil {
				m.log.Warn("could not reload the token registry", "err", err)
				continue
			}
			if err := m.install(ctx, reg, true); err != nil {
				m.log.Warn("could not reload the token registry", "err", err)
			}
		case <-flush.C:
			if err := m.flush(ctx); err != nil {
				m.log.Warn("could not save token last-used times", "err", err)
			}
		}
	}
}

// Close flushes last-used times and stops the background work.
func (m *Manager) Close(ctx context.Context) error {
	m.stop()
	<-m.stopped
	return m.flush(ctx)
}
