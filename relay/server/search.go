package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/media"
)

// Searcher is the relay core's search of past calls (*relay.Relay is
// one). A Source that is also a Searcher serves GET /v1/calls with search
// parameters.
type Searcher interface {
	Search(ctx context.Context, q relay.SearchQuery) (relay.SearchResult, error)
}

var _ Searcher = (*relay.Relay)(nil)

// Search parameter limits.
const (
	maxSearchSystems    = 64
	maxSearchTalkgroups = 256
	maxSearchText       = 256 // bytes
	maxSearchTime       = 30 * time.Second
)

// searchParams are the parameters that make GET /v1/calls a search.
var searchParams = []string{"from", "to", "system", "talkgroup", "q"}

// isSearch reports whether a GET /v1/calls asks for a search: one of the
// search parameters, or a before= that is a search position.
func isSearch(q url.Values) bool {
	for _, p := range searchParams {
		if _, ok := q[p]; ok {
			return true
		}
	}
	return strings.Index(q.Get("before"), "-") > 0
}

// SearchResponse is the body of a search: the calls, newest first, and
// where the next page starts (pass it as before=), if there is one.
type SearchResponse struct {
	Calls []event.Call `json:"calls"`
	Next  string       `json:"next,omitempty"`
	// Problem says why only the calls the relay holds were searched.
	Problem string `json:"problem,omitempty"`
}

// handleSearch answers GET /v1/calls?from=&to=&system=&talkgroup=&q=&limit=&before=.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q, err := parseSearch(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	searcher, ok := s.src.(Searcher)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_implemented", "this relay cannot search past calls")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxSearchTime)
	defer cancel()
	res, err := searcher.Search(ctx, q)
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		return // the client left
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "timeout", "the search took too long; narrow it (a shorter time range, a talkgroup)")
		return
	default:
		s.log.Warn("search failed", "err", err)
		writeError(w, http.StatusBadGateway, "search_failed", "the search failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, SearchResponse{Calls: res.Calls, Next: res.Next.String(), Problem: res.Problem})
}

// parseSearch validates the search parameters. Every value is checked:
// a mistake is a 400 saying which parameter and what it takes.
func parseSearch(v url.Values) (relay.SearchQuery, error) {
	var q relay.SearchQuery
	var err error
	for _, single := range []string{"from", "to", "q", "limit", "before"} {
		if len(v[single]) > 1 {
			return q, fmt.Errorf("%s: give it once", single)
		}
	}
	if v.Has("after") {
		return q, errors.New("after: a search pages with before= (the next value of the previous page), not after=")
	}
	if q.From, err = timeParam(v.Get("from")); err != nil {
		return q, fmt.Errorf("from: %w", err)
	}
	if q.To, err = timeParam(v.Get("to")); err != nil {
		return q, fmt.Errorf("to: %w", err)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return q, errors.New("from is after to")
	}
	if q.Systems, err = idList(v["system"], maxSearchSystems); err != nil {
		return q, fmt.Errorf("system: %w", err)
	}
	if q.Talkgroups, err = idList(v["talkgroup"], maxSearchTalkgroups); err != nil {
		return q, fmt.Errorf("talkgroup: %w", err)
	}
	text := strings.TrimSpace(v.Get("q"))
	switch {
	case len(text) > maxSearchText:
		return q, fmt.Errorf("q: at most %d bytes of text", maxSearchText)
	case !utf8.ValidString(text) || strings.ContainsFunc(text, unicode.IsControl):
		return q, errors.New("q: plain text only (no control characters)")
	}
	q.Text = text
	if q.Limit, err = intParam(v.Get("limit"), 50, 1, relay.MaxSearchLimit); err != nil {
		return q, fmt.Errorf("limit: %w", err)
	}
	if q.Before, err = relay.ParseCursor(v.Get("before")); err != nil {
		return q, fmt.Errorf("before: %w", err)
	}
	return q, nil
}

// timeParam reads a time as RFC 3339 (2026-12-01T18:00:00Z, or with an
// offset) or as Unix seconds. "" is the zero time (no bound).
func timeParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if len(v) > 40 {
		return time.Time{}, errors.New("not a time")
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > 1<<40 {
			return time.Time{}, errors.New("Unix seconds must be a positive number of a sensible size")
		}
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errors.New("give a time as RFC 3339 (2026-12-01T18:00:00Z or 2026-12-01T13:00:00-05:00) or as Unix seconds")
	}
	if t.Unix() <= 0 {
		return time.Time{}, errors.New("the time is before 1970")
	}
	return t, nil
}

// idList reads a repeatable id parameter; each value may also be a
// comma-separated list.
func idList(values []string, maxIDs int) ([]int64, error) {
	var out []int64
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			id, err := idParam(strings.TrimSpace(f))
			if err != nil || id == 0 {
				return nil, fmt.Errorf("%q is not a positive id", f)
			}
			if len(out) == maxIDs {
				return nil, fmt.Errorf("at most %d", maxIDs)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// audioDisposition is the Content-Disposition of a call's audio: attachment
// (download=1) or inline, with the readable file name media.FileName gives
// (from what the relay knows of the call) and its exact UTF-8 form.
func (s *Server) audioDisposition(id int64, contentType string, download bool) string {
	c, ok := s.src.Call(id)
	if !ok {
		c = event.Call{ID: id}
	}
	name := media.FileName(c, media.ForContentType(contentType), s.loc)
	kind := "inline"
	if download {
		kind = "attachment"
	}
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, kind, media.ASCIIFileName(name), url.PathEscape(name))
}

// downloadParam reads download= of an audio request.
func downloadParam(v url.Values) (bool, error) {
	switch vs := v["download"]; {
	case len(vs) == 0:
		return false, nil
	case len(vs) > 1:
		return false, errors.New("download: give it once")
	case vs[0] == "1" || vs[0] == "true":
		return true, nil
	case vs[0] == "0" || vs[0] == "false" || vs[0] == "":
		return false, nil
	}
	return false, errors.New("download: 1 to save the file, 0 (or nothing) to play it")
}
