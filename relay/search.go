package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"earshot/relay/backend"
	"earshot/relay/event"
)

// History is the server's call search. A Backend that also implements it
// (backend.Session does) lets Search reach calls older than those held.
type History interface {
	History(ctx context.Context, q backend.HistoryQuery) (backend.HistoryPage, error)
}

// SearchQuery selects past calls. Zero fields do not restrict.
type SearchQuery struct {
	From, To            time.Time // inclusive, to the second
	Systems, Talkgroups []int64   // radio ids; a talkgroup id in any of Systems
	Text                string    // case-insensitive, anywhere in the transcript
	// Limit is 1 to MaxSearchLimit; 0 means 50.
	Limit int
	// Before continues a search after the last call of an earlier page
	// (its SearchResult.Next); the zero Cursor starts at the newest.
	Before Cursor
}

// MaxSearchLimit caps SearchQuery.Limit.
const MaxSearchLimit = 500

// Search limits on the server's history: pages of MaxHistoryPage, at most
// this many per search.
const maxSearchPages = 10

// Cursor is a place in search order (newest first: by date and time, then
// by id). The zero Cursor is before the newest call.
type Cursor struct {
	DateTime int64 // unix seconds; 0 when only the id is known
	ID       int64
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c == Cursor{} }

// String is the cursor as GET /v1/calls takes it in before=:
// "<dateTime>-<id>", or just the id when the time is unknown.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	if c.DateTime == 0 {
		return strconv.FormatInt(c.ID, 10)
	}
	return strconv.FormatInt(c.DateTime, 10) + "-" + strconv.FormatInt(c.ID, 10)
}

// ParseCursor reads a cursor as String writes it.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > 41 {
		return Cursor{}, errors.New("not a search position")
	}
	dt, id, found := strings.Cut(s, "-")
	if !found {
		dt, id = "", s
	}
	var c Cursor
	var err error
	if c.ID, err = strconv.ParseInt(id, 10, 64); err != nil || c.ID <= 0 {
		return Cursor{}, errors.New("not a search position (a call id, or the next value of a search)")
	}
	if found {
		if c.DateTime, err = strconv.ParseInt(dt, 10, 64); err != nil || c.DateTime <= 0 {
			return Cursor{}, errors.New("not a search position (a call id, or the next value of a search)")
		}
	}
	return c, nil
}

// cursorOf is the cursor just after c.
func cursorOf(c *event.Call) Cursor { return Cursor{DateTime: c.DateTime, ID: c.ID} }

// after reports whether c comes after the cursor in search order.
func (cur Cursor) after(c *event.Call) bool {
	switch {
	case cur.IsZero():
		return true
	case cur.DateTime == 0:
		return c.ID < cur.ID
	case c.DateTime != cur.DateTime:
		return c.DateTime < cur.DateTime
	}
	return c.ID < cur.ID
}

// newestFirst orders calls for search results.
func newestFirst(a, b event.Call) int {
	if a.DateTime != b.DateTime {
		return cmp.Compare(b.DateTime, a.DateTime)
	}
	return cmp.Compare(b.ID, a.ID)
}

// SearchResult is one page of a search.
type SearchResult struct {
	Calls []event.Call `json:"calls"`
	// Next continues the search (SearchQuery.Before); zero when there is
	// nothing more.
	Next Cursor `json:"-"`
	// Problem says why the server's history could not be searched ("" if
	// it was): the calls are then only those the relay holds.
	Problem string `json:"problem,omitempty"`
}

// matches reports whether c passes q's filters (not the cursor).
func (q *SearchQuery) matches(c *event.Call, text string) bool {
	switch {
	case !q.From.IsZero() && c.DateTime < q.From.Unix():
		return false
	case !q.To.IsZero() && c.DateTime > q.To.Unix():
		return false
	case len(q.Systems) > 0 && !slices.Contains(q.Systems, c.SystemID):
		return false
	case len(q.Talkgroups) > 0 && !slices.Contains(q.Talkgroups, c.TalkgroupID):
		return false
	case text != "" && !strings.Contains(strings.ToLower(c.Transcript), text):
		return false
	}
	return true
}

// Search finds past calls, newest first: the calls the relay holds, and
// older ones from the server's history through the relay's own session,
// merged without duplicates (a held call wins: it carries its alerts). When
// the server cannot be searched, the held calls still answer and
// SearchResult.Problem says why the rest is missing.
func (r *Relay) Search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, MaxSearchLimit)
	text := strings.ToLower(strings.TrimSpace(q.Text))
	if q.Before.DateTime == 0 && q.Before.ID != 0 {
		// A bare call id: its time, when the relay holds it, bounds the
		// server's search too.
		if c, ok := r.Call(q.Before.ID); ok {
			q.Before.DateTime = c.DateTime
		}
	}

	r.mu.Lock()
	var found []event.Call
	moreHeld := false // more calls than the page holds
	for i := len(r.recent) - 1; i >= 0; i-- {
		c := &r.recent[i]
		if q.matches(c, text) && q.Before.after(c) {
			found = append(found, *c)
		}
	}
	r.mu.Unlock()
	if len(found) > q.Limit {
		moreHeld = true
	}

	var res SearchResult
	var cut int64 // the server's history was read down to this second only
	moreRemote := false
	r.mu.Lock()
	b, gen := r.backend, r.gen
	r.mu.Unlock()
	if h, ok := b.(History); ok {
		// A few searches at a time reach the server: a local program
		// asking in a loop must not turn the relay into a flood.
		select {
		case r.searches <- struct{}{}:
		case <-ctx.Done():
			return SearchResult{}, ctx.Err()
		}
		remote, stoppedAt, more, err := r.searchHistory(ctx, h, q, text)
		<-r.searches
		switch {
		case err != nil && ctx.Err() != nil:
			return SearchResult{}, ctx.Err()
		case err != nil:
			res.Problem = "the server's call history could not be searched, so only the calls Earshot holds are shown: " + err.Error()
			r.log.Warn("searching the server's call history failed", "err", err)
		}
		held := make(map[int64]bool, len(found))
		for _, c := range found {
			held[c.ID] = true
		}
		for _, c := range remote {
			if !held[c.ID] {
				c.AudioURL = AudioPath(c.ID)
				// Which rules it matches, so a search marks it as
				// history does (nothing is published: it is old).
				c.Alerts = r.alerts.Match(&c)
				found = append(found, c)
			}
		}
		r.rememberFound(gen, remote)
		cut, moreRemote = stoppedAt, more
	}
	slices.SortFunc(found, newestFirst)
	if cut > 0 {
		// Nothing at or before the second the server's history was read
		// to: the next page starts there, so no call is skipped.
		found = slices.DeleteFunc(found, func(c event.Call) bool { return c.DateTime <= cut })
	}
	if len(found) > q.Limit {
		found, moreHeld = found[:q.Limit], true
	}
	res.Calls = found
	switch {
	case (moreHeld || moreRemote) && len(found) > 0:
		res.Next = cursorOf(&found[len(found)-1])
	case cut > 0:
		res.Next = Cursor{DateTime: cut, ID: math.MaxInt64}
	}
	if res.Calls == nil {
		res.Calls = []event.Call{}
	}
	return res, nil
}

// maxFound bounds the calls remembered from searches.
const maxFound = 4096

// maxSearches is how many searches read the server's history at once.
const maxSearches = 2

// historyGap spaces the history pages searches ask the server for (20 a
// second at most, however many searches a local program sends).
const historyGap = 50 * time.Millisecond

// paceHistory waits until the next history page may be asked for.
func (r *Relay) paceHistory(ctx context.Context) error {
	r.mu.Lock()
	now := time.Now()
	at := now
	if r.nextHistory.After(now) {
		at = r.nextHistory
	}
	r.nextHistory = at.Add(r.historyGap)
	r.mu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// rememberFound keeps the metadata of calls a search brought from the
// history of the session of generation gen (none if Swap replaced it since).
func (r *Relay) rememberFound(gen uint64, calls []event.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	for _, c := range calls {
		if _, ok := r.found[c.ID]; !ok {
			r.foundList = append(r.foundList, c.ID)
		}
		c.AudioURL = AudioPath(c.ID)
		r.found[c.ID] = c
	}
	if over := len(r.foundList) - maxFound; over > 0 {
		for _, id := range r.foundList[:over] {
			delete(r.found, id)
		}
		r.foundList = append(r.foundList[:0], r.foundList[over:]...)
	}
}

// searchHistory reads pages of the server's history until it has more
// than q.Limit calls past the cursor that pass the filters (the server's own
// filtering is not trusted: older servers ignore some parameters), or the
// history ends, or maxSearchPages were read. If it stopped before the end,
// cut is the oldest second it saw: the server orders by time only, so other
// calls of that second may be on the next page, and the caller leaves that
// second to the next search (0 when every call seen was in one second and
// the ids must tell the order). more reports whether it stopped early.
func (r *Relay) searchHistory(ctx context.Context, h History, q SearchQuery, text string) (calls []event.Call, cut int64, more bool, err error) {
	hq := backend.HistoryQuery{Systems: q.Systems, Talkgroups: q.Talkgroups, Text: text, Limit: backend.MaxHistoryPage}
	if !q.From.IsZero() {
		hq.From = max(q.From.Unix(), 1)
	}
	if !q.To.IsZero() {
		hq.To = max(q.To.Unix(), 1)
	}
	if q.Before.DateTime > 0 && (hq.To == 0 || q.Before.DateTime < hq.To) {
		hq.To = q.Before.DateTime
	}
	if hq.From > 0 && hq.To > 0 && hq.From > hq.To {
		return nil, 0, false, nil
	}
	var oldest, newest int64
	for page := 1; ; page++ {
		hq.Page = page
		if err := r.paceHistory(ctx); err != nil {
			return calls, 0, false, err
		}
		p, err := h.History(ctx, hq)
		if err != nil {
			return calls, 0, false, err
		}
		for i := range p.Calls {
			c := &p.Calls[i]
			if oldest == 0 || c.DateTime < oldest {
				oldest = c.DateTime
			}
			newest = max(newest, c.DateTime)
			if c.ID > 0 && q.matches(c, text) && q.Before.after(c) {
				calls = append(calls, *c)
			}
		}
		// Only an empty page ends the history: OpenScanner cuts the calls
		// outside the account's grants from a page after taking it (and
		// then makes its total say the page was the last), so a short
		// page may be followed by more.
		if len(p.Calls) == 0 {
			return calls, 0, false, nil
		}
		if len(calls) > q.Limit || page >= maxSearchPages {
			break
		}
	}
	if oldest == newest {
		return calls, 0, true, nil
	}
	return calls, oldest, true, nil
}

// String describes a query for logs (no transcript text: it may be
// private).
func (q SearchQuery) String() string {
	return fmt.Sprintf("from %v to %v, %d systems, %d talkgroups, text %v, limit %d", q.From, q.To, len(q.Systems), len(q.Talkgroups), q.Text != "", q.Limit)
}
