// Package secrets keeps Earshot's secrets (refresh tokens, remembered
// passwords, stream-token signing keys, the CLI's operator token) in the
// operating system's keyring, and nowhere else.
//
// It owns the bound on every keyring call: a Secret Service that is locked,
// wedged or absent yields a clear error within the timeout instead of a
// hang, and there is no fallback to a file. Calls are serialized; a call the
// Secret Service never answers is abandoned (its goroutine, at most one per
// Store, ends if the service ever replies) and later calls fail within
// their own bound until it does.
//
// It must not write a secret anywhere but the keyring, log one, or put one
// in an error: errors name the item (the key), never its value.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// ErrNotFound means the keyring holds no item under that key.
var ErrNotFound = errors.New("not in the system keyring")

// KeyStore is what the rest of Earshot needs from a keyring. *Store
// implements it; tests may use an in-memory one.
type KeyStore interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
	Delete(ctx context.Context, key string) error
}

// DefaultTimeout bounds a keyring call when New is given none.
const DefaultTimeout = 3 * time.Second

// MaxValueLen caps what Earshot stores in one item.
const MaxValueLen = 16 << 10

// Store is the system keyring under one service name. Calls are serialized
// (Secret Service implementations handle concurrent prompts badly) and
// each is bounded by the timeout: the keyring must answer a call within
// it, counted from when the call's turn comes, not from when it was asked.
type Store struct {
	service string
	timeout time.Duration
	// keyring is the platform's keyring (go-keyring); tests give a fake
	// with another platform's limits.
	keyring keyringAPI

	// The turn: busy while a keyring call is in flight, since when, and
	// freed, closed when it ends. A call that never returns keeps the
	// turn, so the calls waiting behind it fail once it is over its
	// bound instead of piling up.
	mu    sync.Mutex
	busy  bool
	since time.Time
	freed chan struct{}
}

// keyringAPI is go-keyring's API.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// goKeyring is the real one.
type goKeyring struct{}

func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Set(service, user, password string) error {
	return keyring.Set(service, user, password)
}
func (goKeyring) Delete(service, user string) error { return keyring.Delete(service, user) }

var _ KeyStore = (*Store)(nil)

// New returns the keyring store for service ("earshot" in production).
func New(service string, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Store{service: service, timeout: timeout, keyring: goKeyring{}}
}

// Get returns the item stored under key, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	return getFitted(ctx, s, key)
}

// Set stores value under key, replacing any item there. A value too long
// for one item of some platform's keyring is split over several (fit.go).
func (s *Store) Set(ctx context.Context, key, value string) error {
	if len(value) > MaxValueLen {
		return fmt.Errorf("keyring item %q is too large (%d bytes, limit %d)", key, len(value), MaxValueLen)
	}
	return setFitted(ctx, s, key, value)
}

// Delete removes the item under key. Deleting a missing item is not an
// error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return deleteFitted(ctx, s, key)
}

func (s *Store) getItem(ctx context.Context, name string) (string, error) {
	return s.do(ctx, "read", name, func() (string, error) { return s.keyring.Get(s.service, name) })
}

func (s *Store) setItem(ctx context.Context, name, value string) error {
	_, err := s.do(ctx, "write", name, func() (string, error) { return "", s.keyring.Set(s.service, name, value) })
	return err
}

func (s *Store) deleteItem(ctx context.Context, name string) error {
	_, err := s.do(ctx, "delete", name, func() (string, error) { return "", s.keyring.Delete(s.service, name) })
	return err
}

// secretServiceHint is what to check when the keyring fails: Earshot keeps
// secrets only there, never in a file.
const secretServiceHint = "is a Secret Service such as GNOME Keyring, KWallet or KeePassXC running and unlocked in this session?"

// result carries a keyring call's outcome from its goroutine.
type result struct {
	v   string
	err error
}

// do runs one keyring call with the bound, once its turn comes. The call
// itself cannot be cancelled (the keyring library takes no context): on
// timeout it is abandoned, keeps the turn until it returns, and its result
// (which only it and the buffered channel ever see) is dropped. Its
// goroutine ends when the call does, at the latest when the D-Bus
// connection goes.
func (s *Store) do(ctx context.Context, verb, key string, call func() (string, error)) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("could not %s %q in the system keyring: %w", verb, key, err)
	}
	if err := s.takeTurn(ctx); err != nil {
		if errors.Is(err, errNoAnswer) {
			return "", fmt.Errorf("could not %s %q: the system keyring did not answer within %s (%s)", verb, key, s.timeout, secretServiceHint)
		}
		return "", fmt.Errorf("could not %s %q in the system keyring: %w", verb, key, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		defer s.endTurn()
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		switch err := r.err; {
		case err == nil:
			return r.v, nil
		case errors.Is(err, keyring.ErrNotFound):
			return "", fmt.Errorf("keyring item %q: %w", key, ErrNotFound)
		case errors.Is(err, keyring.ErrSetDataTooBig):
			return "", fmt.Errorf("keyring item %q is too large for this keyring", key)
		default:
			// The library's errors describe D-Bus failures, never the value;
			// they mean little to a listener, so say what to check.
			return "", fmt.Errorf("could not %s %q in the system keyring (%s): %w", verb, key, secretServiceHint, err)
		}
	case <-ctx.Done():
		return "", s.timeoutError(ctx, verb, key)
	}
}

// errNoAnswer: the call in flight has gone past its bound (the keyring is
// wedged or waits on a prompt), so the ones behind it give up.
var errNoAnswer = errors.New("the keyring did not answer the call before this one")

// takeTurn waits until no keyring call is in flight and marks one, or
// returns errNoAnswer once the call in flight is over its bound, or ctx's
// error.
func (s *Store) takeTurn(ctx context.Context) error {
	for {
		s.mu.Lock()
		if !s.busy {
			s.busy, s.since, s.freed = true, time.Now(), make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		freed, left := s.freed, time.Until(s.since.Add(s.timeout))
		s.mu.Unlock()
		if left <= 0 {
			return errNoAnswer
		}
		timer := time.NewTimer(left)
		select {
		case <-freed:
		case <-timer.C: // look again: over its bound, or another call's turn
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
}

// endTurn ends the turn of the call in flight.
func (s *Store) endTurn() {
	s.mu.Lock()
	s.busy = false
	close(s.freed)
	s.mu.Unlock()
}

func (s *Store) timeoutError(ctx context.Context, verb, key string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("could not %s %q: the system keyring did not answer within %s (%s)", verb, key, s.timeout, secretServiceHint)
	}
	return fmt.Errorf("could not %s %q in the system keyring: %w", verb, key, ctx.Err())
}

// Memory is an in-memory KeyStore for tests of code that only needs
// somewhere to keep secrets. It is safe for concurrent use.
type Memory struct {
	mu sync.Mutex
	v  map[string]string
}

// NewMemory returns an empty in-memory KeyStore.
func NewMemory() *Memory { return &Memory{v: map[string]string{}} }

// Get implements KeyStore.
func (m *Memory) Get(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.v[key]
	if !ok {
		return "", fmt.Errorf("keyring item %q: %w", key, ErrNotFound)
	}
	return v, nil
}

// Set implements KeyStore.
func (m *Memory) Set(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v[key] = value
	return nil
}

// Delete implements KeyStore.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.v, key)
	return nil
}
