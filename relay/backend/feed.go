package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"earshot/relay/event"
)

// Call ids. A server numbers its calls upwards from 1; the session emits
// them in that order, each once. Ids that break the order — going back
// (the server was reinstalled or restored from a backup at the same
// address), or leaping ahead by more than maxIDJump (or a hostile frame
// claiming id 9223372036854775807) — are not trusted on their own: history
// is asked. A call history does not have is dropped; a jump history
// confirms is followed; ids history shows reused mean the server's ids
// were reset: consumers get a TypeReset event (event.ResetServer) and the
// feed carries on in the new numbering. So one frame can never make every
// later call look like a repeat.
const (
	// maxIDJump is the largest step forward taken without asking history
	// first: far more calls than a busy server takes in months.
	maxIDJump = 10_000_000
	// seenCalls is how many emitted calls the feed remembers, to tell a
	// repeat (the same call again) from a different call under an id it
	// has used.
	seenCalls = 4096
	// resyncSlack widens the history read that checks an out-of-order
	// call, for clocks that disagree by a little.
	resyncSlack = 60
)

// fingerprint tells calls under one id apart: the same call has the same
// time, radio ids, frequency and audio name in its live frame and in
// history.
type fingerprint struct {
	dateTime, system, talkgroup, frequency int64
	audioName                              string
}

func fingerprintOf(c *event.Call) fingerprint {
	return fingerprint{c.DateTime, c.SystemID, c.TalkgroupID, c.Frequency, c.AudioName}
}

// feed is the ordering and de-duplication state of the emitted calls.
type feed struct {
	emit     func(event.Event)
	lastID   int64 // highest call id emitted in the server's current numbering
	lastDate int64 // the newest dateTime emitted
	started  bool  // a first backfill happened
	// seen holds the fingerprints of the last seenCalls emitted calls, by
	// id; order is their ids in the order emitted (oldest first).
	seen  map[int64]fingerprint
	order []int64
	// gaps counts the live calls that came after a gap: broadcasts the
	// server dropped, which come in bursts, so the session reads history
	// again soon after one (tailAfterGap) for the burst's end.
	gaps int
}

func newFeed(emit func(event.Event)) *feed {
	return &feed{emit: emit, seen: make(map[int64]fingerprint, seenCalls)}
}

// repeat reports whether c is a call the feed emitted already.
func (f *feed) repeat(c *event.Call) bool {
	fp, ok := f.seen[c.ID]
	return ok && fp == fingerprintOf(c)
}

// inLine reports whether c can follow the last emitted call without
// asking history: a higher id, not absurdly far ahead.
func (f *feed) inLine(c *event.Call) bool {
	return c.ID > f.lastID && (f.lastID == 0 || c.ID-f.lastID <= maxIDJump)
}

// call emits c unless its id is not above the last emitted one.
func (f *feed) call(c *event.Call) {
	if c.ID <= f.lastID {
		return // already emitted (backfill and live overlap)
	}
	f.lastID = c.ID
	if c.DateTime > f.lastDate {
		f.lastDate = c.DateTime
	}
	if _, ok := f.seen[c.ID]; !ok {
		if len(f.order) >= seenCalls {
			delete(f.seen, f.order[0])
			f.order = append(f.order[:0], f.order[1:]...)
		}
		f.order = append(f.order, c.ID)
	}
	f.seen[c.ID] = fingerprintOf(c)
	f.emit(event.Event{Type: event.TypeCall, Call: c})
}

// liveCall emits a call that arrived on the live socket, in order: a gap
// before it is filled from history first, a repeat is dropped, and an
// out-of-order id is checked against history (see maxIDJump).
func (s *Session) liveCall(ctx context.Context, f *feed, c *event.Call) error {
	switch {
	case f.repeat(c):
		return nil
	case !f.inLine(c):
		if err := s.resync(ctx, f, c); err != nil {
			return fmt.Errorf("check an out-of-order call against history: %w", err)
		}
		return nil
	case c.ID-1 > f.lastID:
		f.gaps++
		// A gap: the server may have dropped broadcasts (or the session
		// skipped an oversized frame). History has them (or they belong
		// to systems this account cannot see). Before the first call
		// nothing says where the feed stands, so the first one always
		// looks.
		if err := s.backfillUntil(ctx, f, c.ID); err != nil {
			return fmt.Errorf("fill a gap in the live feed from history: %w", err)
		}
	}
	s.labels.resolve(c)
	f.call(c)
	return nil
}

// resync asks history about live call c, whose id does not follow the
// last one: a call history lacks is dropped; a jump ahead it confirms is
// followed (with the calls before it); an id it shows reused is a reset.
func (s *Session) resync(ctx context.Context, f *feed, c *event.Call) error {
	calls, err := s.history(ctx, min(f.lastDate, c.DateTime)-resyncSlack, "asc", nil)
	if err != nil {
		return err
	}
	var confirmed bool
	for _, h := range calls {
		if h.ID == c.ID && fingerprintOf(h) == fingerprintOf(c) {
			confirmed = true
			break
		}
	}
	switch {
	case !confirmed:
		s.log.Warn("ignoring a call whose id does not follow the feed's and that the server's history does not have",
			"call", c.ID, "last", f.lastID)
		return nil
	case c.ID > f.lastID:
		s.log.Warn("the server's call ids jumped ahead; following them", "from", f.lastID, "to", c.ID)
		s.emitHistory(f, calls, c.ID)
		s.labels.resolve(c)
		f.call(c)
		return nil
	}
	s.serverReset(f, calls, c)
	return nil
}

// resetIn reports whether history shows the server's ids reset: a call
// whose id the feed has emitted already, as a different call.
func (f *feed) resetIn(calls []*event.Call) bool {
	for _, c := range calls {
		if fp, ok := f.seen[c.ID]; ok && c.ID <= f.lastID && fp != fingerprintOf(c) {
			return true
		}
	}
	return false
}

// serverReset starts the feed again in the server's new numbering: it
// tells consumers (a TypeReset event) and emits the calls of calls the
// feed has not emitted, in id order; live, if set, is the live call that
// showed the reset (emitted as it came, not as history has it).
func (s *Session) serverReset(f *feed, calls []*event.Call, live *event.Call) {
	s.log.Warn("the server's call ids went back (reinstalled or restored from a backup?); starting again from its history",
		"last", f.lastID)
	f.lastID = 0
	f.emit(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	fresh := calls[:0:0]
	for _, c := range calls {
		if live != nil && c.ID == live.ID {
			c = live
		}
		if !f.repeat(c) {
			fresh = append(fresh, c)
		}
	}
	for _, c := range fresh {
		s.labels.resolve(c)
		if c != live {
			c.Backfill = true // from history, not as it happened
		}
		f.call(c)
	}
}

// backfill emits the calls in history newer than the last one emitted.
func (s *Session) backfill(ctx context.Context, f *feed) error {
	return s.backfillUntil(ctx, f, 0)
}

// backfillUntil emits history calls with ids above the last emitted (and
// below until, if set), oldest first. History that shows the server's ids
// reset starts the feed again (serverReset).
func (s *Session) backfillUntil(ctx context.Context, f *feed, until int64) error {
	from := f.lastDate
	if !f.started {
		f.started = true
		if f.lastID == 0 {
			from = s.now().Add(-firstBackfill).Unix()
		}
	}
	// With a call emitted already, history is read newest first down to
	// the emitted ones: a page emptied by the account's grants is then no
	// end. Any id up to the last emitted one ends it, the emitted call as
	// history has it or not (a reset server's new numbering: resetIn).
	var calls []*event.Call
	var err error
	if last := f.lastID; last > 0 {
		calls, err = s.history(ctx, from, "desc", func(c *event.Call) bool { return c.ID <= last })
	} else {
		calls, err = s.freshHistory(ctx, from)
	}
	if err != nil {
		return err
	}
	if f.resetIn(calls) {
		s.serverReset(f, calls, nil)
		return nil
	}
	if n := s.emitHistory(f, calls, until); n > 0 {
		s.log.Info("filled calls from history", "calls", n)
	}
	return nil
}

// emitHistory emits the calls of calls (sorted by id) with ids above the
// last emitted and below until (0: no bound), and returns how many.
func (s *Session) emitHistory(f *feed, calls []*event.Call, until int64) int {
	n := 0
	for _, c := range calls {
		if until != 0 && c.ID >= until {
			break
		}
		if c.ID <= f.lastID {
			continue
		}
		s.labels.resolve(c)
		c.Backfill = true // from history, not as it happened
		f.call(c)
		n++
	}
	return n
}

// freshHistory reads the calls since from when the feed has emitted none
// yet (a fresh start). Nothing is known there that a read could end at,
// and a page the account's grants emptied looks like the end (see
// history): the read goes newest first to the first empty page, for the
// calls nearest now, and then oldest first up to the oldest of those,
// past any emptied pages, for the ones before. Before, a single read
// oldest first ended at an emptied page, and the newest calls behind it
// (seen on a real OpenScanner 1.3.3, for a listener granted one of two
// systems) reached history only with the next live call.
//
// When the newest page shows nothing, no second read is made: older calls
// behind it are the rare case (a hundred ungranted calls in a row), and a
// second unanchored read would also take in a call that arrives meanwhile,
// which belongs to the live feed.
func (s *Session) freshHistory(ctx context.Context, from int64) ([]*event.Call, error) {
	newest, err := s.history(ctx, from, "desc", nil)
	if err != nil || len(newest) == 0 {
		return nil, err
	}
	oldest := newest[0].ID
	older, err := s.history(ctx, from, "asc", func(c *event.Call) bool { return c.ID >= oldest })
	if err != nil {
		return nil, err
	}
	calls := newest
	for _, c := range older {
		if c.ID < oldest {
			calls = append(calls, c)
		}
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].ID < calls[j].ID })
	return calls, nil
}

// history reads the server's calls from dateTime from on in order ("asc":
// oldest first; "desc": newest first), at most maxBackfillRuns pages, and
// returns them sorted by id.
//
// OpenScanner cuts the calls outside the account's grants from a page
// after taking it: a short page may have more behind it, and so may an
// empty one (a page of calls all outside the grants). Without an anchor
// the read ends at the first empty page. With one (a call the read may
// end at: one the feed has emitted, which the account is shown) it ends
// at the page that holds an anchor call, however many empty pages come
// before it.
func (s *Session) history(ctx context.Context, from int64, order string, anchor func(*event.Call) bool) ([]*event.Call, error) {
	tok, err := s.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	var calls []*event.Call
	seen := make(map[int64]bool)
	for page := 1; page <= maxBackfillRuns; page++ {
		q := url.Values{}
		q.Set("date_from", strconv.FormatInt(max(from, 0), 10))
		q.Set("sort", order)
		q.Set("limit", strconv.Itoa(maxBackfillPage))
		q.Set("page", strconv.Itoa(page))
		var ans struct {
			Calls []json.RawMessage `json:"calls"`
			Total int               `json:"total"`
		}
		if err := s.do(ctx, "GET", s.prefix()+"/calls?"+q.Encode(), nil, tok, &ans); err != nil {
			return nil, err
		}
		reached := false
		for _, raw := range ans.Calls {
			c, err := parseCall(raw)
			if err != nil {
				s.log.Warn("skipping a malformed history row", "err", err)
				continue
			}
			if anchor != nil && anchor(c) {
				reached = true
			}
			// Newest first, calls that arrive meanwhile push rows onto
			// the next page: the same call twice is kept once.
			if !seen[c.ID] {
				seen[c.ID] = true
				calls = append(calls, c)
			}
		}
		if reached || (anchor == nil && len(ans.Calls) == 0) {
			break
		}
	}
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].ID < calls[j].ID })
	return calls, nil
}
