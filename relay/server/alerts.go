package server

import (
	"context"
	"errors"
	"net/http"

	"earshot/relay/alerts"
)

// AlertAdmin is the alert rules of the relay's server as the control plane
// edits them: the application stores them (config.json) and applies them
// to the running relay at once.
type AlertAdmin interface {
	// Rules returns the server the rules belong to (its URL, or "demo")
	// and the rules.
	Rules() (server string, rules []alerts.Rule)
	// Add adds a rule (replacing one of the same name when replace is
	// set) and returns it as stored. Errors wrap alerts.ErrInvalid,
	// alerts.ErrExists.
	Add(ctx context.Context, r alerts.Rule, replace bool) (alerts.Rule, error)
	// Remove removes the rule of that name (alerts.ErrNotFound if none).
	Remove(ctx context.Context, name string) error
	// Replace makes rules the whole rule set.
	Replace(ctx context.Context, rules []alerts.Rule) error
}

// AlertRequest is the body of POST /v1/alerts: a rule, and whether it may
// replace one of the same name.
type AlertRequest struct {
	alerts.Rule
	Replace bool `json:"replace,omitempty"`
}

// AlertsResponse is the body of GET and PUT /v1/alerts.
type AlertsResponse struct {
	Server string        `json:"server"`
	Rules  []alerts.Rule `json:"rules"`
}

func (s *Server) routeAlerts(mux *http.ServeMux) {
	if s.alerts == nil {
		return
	}
	mux.Handle("GET /v1/alerts", s.require(controlPlane, s.handleListAlerts))
	mux.Handle("POST /v1/alerts", s.require(controlPlane, s.handleAddAlert))
	mux.Handle("PUT /v1/alerts", s.require(controlPlane, s.handleReplaceAlerts))
	mux.Handle("DELETE /v1/alerts/{name}", s.require(controlPlane, s.handleRemoveAlert))
}

func (s *Server) alertList() AlertsResponse {
	server, rules := s.alerts.Rules()
	if rules == nil {
		rules = []alerts.Rule{}
	}
	return AlertsResponse{Server: server, Rules: rules}
}

func (s *Server) handleListAlerts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.alertList())
}

func (s *Server) handleAddAlert(w http.ResponseWriter, r *http.Request) {
	var req AlertRequest
	if !decodeBody(w, r, &req) {
		return
	}
	rule, err := s.alerts.Add(r.Context(), req.Rule, req.Replace)
	if err != nil {
		s.alertError(w, "add the alert rule", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"rule": rule})
}

func (s *Server) handleReplaceAlerts(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rules []alerts.Rule `json:"rules"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.alerts.Replace(r.Context(), req.Rules); err != nil {
		s.alertError(w, "replace the alert rules", err)
		return
	}
	writeJSON(w, http.StatusOK, s.alertList())
}

func (s *Server) handleRemoveAlert(w http.ResponseWriter, r *http.Request) {
	if err := s.alerts.Remove(r.Context(), r.PathValue("name")); err != nil {
		s.alertError(w, "remove the alert rule", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// alertError maps rule errors to statuses.
func (s *Server) alertError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, alerts.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, alerts.ErrExists):
		writeError(w, http.StatusConflict, "exists", err.Error())
	case errors.Is(err, alerts.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		s.log.Warn("alert rule management failed", "action", what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not "+what+": "+err.Error())
	}
}
