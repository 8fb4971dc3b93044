package server

import (
	"time"

	"earshot/relay/tokens"
)

// NewTokenAuth is the Authenticator backed by the token registry: it
// verifies stream tokens with m, and tells the enforcer when each one
// stops working (Deadliner), so expiry closes live connections on time
// without polling.
func NewTokenAuth(m *tokens.Manager) Authenticator { return tokenAuth{m} }

type tokenAuth struct{ m *tokens.Manager }

var _ Deadliner = tokenAuth{}

func (a tokenAuth) Authenticate(token string) (Identity, error) {
	c, err := a.m.Verify(token)
	if err != nil {
		return Identity{}, err
	}
	return Identity{TokenID: c.ID, Scope: c.Scope}, nil
}

func (a tokenAuth) Touch(id, client string)              { a.m.Touch(id, client) }
func (a tokenAuth) Valid(id string) bool                 { return a.m.Valid(id) }
func (a tokenAuth) Changed() <-chan struct{}             { return a.m.Changed() }
func (a tokenAuth) Deadline(id string) (time.Time, bool) { return a.m.Deadline(id) }
