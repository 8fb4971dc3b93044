package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"earshot/relay/tokens"
)

// TokenAdmin is the token registry as the control plane uses it
// (*tokens.Manager implements it).
type TokenAdmin = tokens.Admin

// maxControlBody caps a control-plane request body.
const maxControlBody = 64 << 10

func (s *Server) routeControlPlane(mux *http.ServeMux) {
	if s.admin == nil {
		return
	}
	mux.Handle("GET /v1/tokens", s.require(controlPlane, s.handleListTokens))
	mux.Handle("POST /v1/tokens", s.require(controlPlane, s.handleCreateToken))
	mux.Handle("DELETE /v1/tokens/{id}", s.require(controlPlane, s.handleRevokeToken))
	mux.Handle("POST /v1/tokens/{id}/rotate", s.require(controlPlane, s.handleRotateToken))
	mux.Handle("POST /v1/tokens/rotate-all", s.require(controlPlane, s.handleRotateAll))
	s.routeTokenEvents(mux)
	if s.accountChanged != nil {
		mux.Handle("POST /v1/account/reload", s.require(controlPlane, s.handleAccountReload))
	}
}

// handleAccountReload puts the configured account behind the relay again
// (`earshot login` and `logout` tell a running Earshot this way).
func (s *Server) handleAccountReload(w http.ResponseWriter, r *http.Request) {
	if err := s.accountChanged(r.Context()); err != nil {
		s.log.Warn("could not switch to the configured account", "err", err)
		writeError(w, http.StatusConflict, "account", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CreateRequest is the body of POST /v1/tokens.
type CreateRequest struct {
	Name    string `json:"name"`
	Scope   string `json:"scope,omitempty"`   // default listen
	Expires string `json:"expires,omitempty"` // Go duration, e.g. "720h"; empty: never
}

// GraceRequest is the body of the rotate routes.
type GraceRequest struct {
	Grace string `json:"grace,omitempty"` // Go duration; empty: immediately
}

// IssuedResponse answers create and rotate: the only responses that ever
// carry a token value.
type IssuedResponse struct {
	Token string      `json:"token"`
	Info  tokens.Info `json:"info"`
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	s.writeTokenList(w, r)
}

// writeTokenList answers with the token list.
func (s *Server) writeTokenList(w http.ResponseWriter, r *http.Request) {
	list, err := s.admin.List(r.Context())
	if err != nil {
		s.adminError(w, "list the tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Scope == "" {
		req.Scope = ScopeListen
	}
	ttl, err := parseDuration(req.Expires)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "expires: "+err.Error())
		return
	}
	token, info, err := s.admin.Create(r.Context(), req.Name, req.Scope, ttl)
	if err != nil {
		s.adminError(w, "create the token", err)
		return
	}
	writeJSON(w, http.StatusCreated, IssuedResponse{Token: token, Info: info})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.admin.Revoke(r.Context(), r.PathValue("id")); err != nil {
		s.adminError(w, "revoke the token", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeGrace reads a rotate request's grace period.
func decodeGrace(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	var req GraceRequest
	if !decodeBody(w, r, &req) {
		return 0, false
	}
	grace, err := parseDuration(req.Grace)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "grace: "+err.Error())
		return 0, false
	}
	return grace, true
}

func (s *Server) handleRotateToken(w http.ResponseWriter, r *http.Request) {
	grace, ok := decodeGrace(w, r)
	if !ok {
		return
	}
	token, info, err := s.admin.Rotate(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		s.adminError(w, "rotate the token", err)
		return
	}
	writeJSON(w, http.StatusOK, IssuedResponse{Token: token, Info: info})
}

func (s *Server) handleRotateAll(w http.ResponseWriter, r *http.Request) {
	grace, ok := decodeGrace(w, r)
	if !ok {
		return
	}
	if err := s.admin.RotateAll(r.Context(), grace); err != nil {
		s.adminError(w, "rotate the signing key", err)
		return
	}
	s.writeTokenList(w, r)
}

// adminError maps registry errors to statuses without echoing input.
func (s *Server) adminError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, tokens.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no token with that id")
	case errors.Is(err, tokens.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		s.log.Warn("token management failed", "action", what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not "+what+": "+err.Error())
	}
}

// decodeBody reads a small JSON object body strictly. An empty body is an
// empty object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_request", "send JSON with Content-Type: application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", maxControlBody))
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	if err := decodeStrict(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the request body is not the expected JSON object: "+err.Error())
		return false
	}
	return true
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// parseDuration parses an optional non-negative Go duration (at most ten years).
func parseDuration(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > 10*365*24*time.Hour {
		return 0, errors.New("must be a duration such as 10m or 720h")
	}
	return d, nil
}
