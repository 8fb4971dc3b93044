package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"earshot/relay/secrets"
)

// ErrInvalidRequest marks a bad create or rotate request (name, scope,
// lifetime, grace). It wraps ErrInvalid so callers map both to "bad
// request".
var ErrInvalidRequest = fmt.Errorf("%w request", ErrInvalid)

// MaxNameLen caps a token's name.
const MaxNameLen = 64

// validName accepts 1–64 bytes of printable text.
func validName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: a token name has 1 to %d characters", ErrInvalidRequest, MaxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return fmt.Errorf("%w: a token name cannot hold control characters or invalid UTF-8", ErrInvalidRequest)
		}
	}
	return nil
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Create issues a token named name with scope, valid for ttl (0: until
// revoked). The value is returned once and never stored anywhere.
func (m *Manager) Create(ctx context.Context, name, scope string, ttl time.Duration) (string, Info, error) {
	name = strings.TrimSpace(name)
	if err := validName(name); err != nil {
		return "", Info{}, err
	}
	if scope != ScopeListen && scope != ScopeControl {
		return "", Info{}, fmt.Errorf("%w: scope must be %q or %q", ErrInvalidRequest, ScopeListen, ScopeControl)
	}
	if ttl < 0 {
		return "", Info{}, fmt.Errorf("%w: a lifetime cannot be negative", ErrInvalidRequest)
	}
	var token string
	var info Info
	err := m.mutate(ctx, func(reg *registry) error {
		var err error
		token, info, err = m.issueLocked(ctx, reg, name, scope, ttl)
		return err
	})
	if err != nil {
		return "", Info{}, err
	}
	return token, info, nil
}

// issueLocked adds a token to reg (under the file lock).
func (m *Manager) issueLocked(ctx context.Context, reg *registry, name, scope string, ttl time.Duration) (string, Info, error) {
	k, err := m.currentKeyLocked(ctx, reg)
	if err != nil {
		return "", Info{}, err
	}
	id, err := randomID(8)
	if err != nil {
		return "", Info{}, err
	}
	now := m.now().UTC().Truncate(time.Second)
	info := Info{ID: id, Name: name, Scope: scope, KeyID: k.id, Created: now}
	c := tokenClaims{Iss: m.iss, Aud: m.aud, Jti: id, Scope: scope, Iat: now.Unix()}
	if ttl > 0 {
		exp := now.Add(ttl)
		if ttl < time.Second || exp.Unix() <= now.Unix() {
			return "", Info{}, fmt.Errorf("%w: a lifetime is at least one second", ErrInvalidRequest)
		}
		info.Expires = &exp
		c.Exp = exp.Unix()
	}
	token, err := k.sign(c)
	if err != nil {
		return "", Info{}, err
	}
	reg.Tokens = append(reg.Tokens, info)
	return token, info, nil
}

// currentKeyLocked returns the current signing key, making one (in the
// keyring first, then the registry) when there is none or the keyring lost
// it.
func (m *Manager) currentKeyLocked(ctx context.Context, reg *registry) (*signingKey, error) {
	if reg.CurrentKey != "" {
		m.mu.RLock()
		k := m.keys[reg.CurrentKey]
		m.mu.RUnlock()
		if k != nil {
			return k, nil
		}
		raw, err := m.loadKey(ctx, reg.CurrentKey)
		switch {
		case err == nil:
			return newSigningKey(reg.CurrentKey, raw), nil
		case errors.Is(err, secrets.ErrNotFound), errors.Is(err, errBadKey):
			m.log.Warn("the current stream-token signing key is missing or damaged in the keyring; making a new one", "key", reg.CurrentKey)
		default:
			return nil, err
		}
	}
	return m.newKeyLocked(ctx, reg)
}

// newKeyLocked makes a signing key, keeps it in the keyring and makes it
// the registry's current key.
func (m *Manager) newKeyLocked(ctx context.Context, reg *registry) (*signingKey, error) {
	kid, err := randomID(4)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("make a signing key: %w", err)
	}
	if err := m.store.Set(ctx, keyItem(kid), base64.StdEncoding.EncodeToString(raw)); err != nil {
		return nil, fmt.Errorf("keep the new stream-token signing key in the keyring: %w", err)
	}
	k := newSigningKey(kid, raw)
	m.mu.Lock()
	m.keys[kid] = k // install keeps it once the registry lists it
	m.mu.Unlock()
	reg.Keys = append(reg.Keys, keyInfo{ID: kid, Created: m.now().UTC().Truncate(time.Second)})
	reg.CurrentKey = kid
	return k, nil
}

// Revoke stops token id now, open connections included (they re-check on
// Changed).
func (m *Manager) Revoke(ctx context.Context, id string) error {
	return m.mutate(ctx, func(reg *registry) error {
		t := reg.find(id)
		if t == nil {
			return fmt.Errorf("revoke %q: %w", id, ErrNotFound)
		}
		if !t.Revoked {
			now := m.now().UTC()
			t.Revoked, t.RevokedAt = true, &now
		}
		return nil
	})
}

// Rotate issues a new token with the same name, scope and lifetime as id;
// id keeps working until now+grace (with 0 it stops at once).
func (m *Manager) Rotate(ctx context.Context, id string, grace time.Duration) (string, Info, error) {
	if grace < 0 {
		return "", Info{}, fmt.Errorf("%w: grace cannot be negative", ErrInvalidRequest)
	}
	var token string
	var info Info
	err := m.mutate(ctx, func(reg *registry) error {
		old := reg.find(id)
		if old == nil {
			return fmt.Errorf("rotate %q: %w", id, ErrNotFound)
		}
		now := m.now().UTC()
		if old.Revoked || (old.RetiresAt != nil && !now.Before(*old.RetiresAt)) {
			// An expired token may be rotated: that renews it.
			return fmt.Errorf("%w: token %s is %s; create a new one instead", ErrInvalidRequest, id, old.Status(now))
		}
		var ttl time.Duration
		if old.Expires != nil {
			ttl = old.Expires.Sub(old.Created)
		}
		name, scope := old.Name, old.Scope
		retire(old, now, grace)
		var err error
		token, info, err = m.issueLocked(ctx, reg, name, scope, ttl)
		return err
	})
	if err != nil {
		return "", Info{}, err
	}
	return token, info, nil
}

// retire ends t at now+grace (at once when grace is 0); it never extends
// an earlier end.
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

// RotateAll makes a new signing key for new tokens; every existing token
// stops working after grace (with 0, at once), and the old keys leave the
// keyring once no token needs them.
func (m *Manager) RotateAll(ctx context.Context, grace time.Duration) error {
	if grace < 0 {
		return fmt.Errorf("%w: grace cannot be negative", ErrInvalidRequest)
	}
	return m.mutate(ctx, func(reg *registry) error {
		now := m.now().UTC()
		for i := range reg.Tokens {
			if !reg.Tokens[i].Revoked {
				retire(&reg.Tokens[i], now, grace)
			}
		}
		_, err := m.newKeyLocked(ctx, reg)
		return err
	})
}

// mutate applies fn to the registry as it is on disk, under the file lock,
// folds in pending last-used times, drops signing keys no token can use any
// more, writes it atomically and installs it. Keys dropped leave the
// keyring after the registry no longer names them.
func (m *Manager) mutate(ctx context.Context, fn func(*registry) error) error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	unlock, err := m.file.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	reg, _, err := m.file.read()
	if err != nil {
		return err
	}
	merged := m.mergeUsage(&reg)
	if err := fn(&reg); err != nil {
		return err
	}
	dropped := pruneKeys(&reg, m.now())
	written, err := m.file.write(reg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	for id, u := range merged {
		if m.used[id] == u { // a newer Touch stays pending
			delete(m.used, id)
		}
	}
	m.mu.Unlock()
	err = m.install(ctx, reg, true)
	if err == nil {
		m.file.markSeen(written)
	}
	for _, kid := range dropped {
		if derr := m.store.Delete(ctx, keyItem(kid)); derr != nil {
			m.log.Warn("could not delete a retired stream-token signing key from the keyring", "key", kid, "err", derr)
		}
	}
	return err
}

// mergeUsage folds pending last-used times into reg and returns what it
// folded.
func (m *Manager) mergeUsage(reg *registry) map[string]usage {
	m.mu.RLock()
	defer m.mu.RUnlock()
	merged := make(map[string]usage, len(m.used))
	for id, u := range m.used {
		merged[id] = u
		if t := reg.find(id); t != nil && (t.LastUsed == nil || u.at.After(*t.LastUsed)) {
			at := u.at
			t.LastUsed, t.LastClient, t.LastAddr = &at, u.client, ""
		}
	}
	return merged
}

// pruneKeys removes from reg every signing key, other than the current
// one, that no token can use at now, and returns their ids.
func pruneKeys(reg *registry, now time.Time) []string {
	needed := map[string]bool{reg.CurrentKey: true}
	for i := range reg.Tokens {
		if reg.Tokens[i].usable(now) {
			needed[reg.Tokens[i].KeyID] = true
		}
	}
	var dropped []string
	kept := reg.Keys[:0]
	for _, k := range reg.Keys {
		if needed[k.ID] {
			kept = append(kept, k)
		} else {
			dropped = append(dropped, k.ID)
		}
	}
	reg.Keys = kept
	return dropped
}
