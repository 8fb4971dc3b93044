package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/backend"
	"earshot/relay/event"
)

// historyBackend is a fakeBackend whose server also has a call history,
// searched the way OpenScanner does: by time only (calls of one second in
// no particular order — here oldest id first, the opposite of Earshot's),
// pages of at most 100, grants cut from a page after it is taken.
type historyBackend struct {
	*fakeBackend
	mu       sync.Mutex
	calls    []event.Call
	hidden   map[int64]bool // outside the account's grants
	err      error
	requests int
	times    []time.Time // when each request came
}

func (h *historyBackend) History(ctx context.Context, q backend.HistoryQuery) (backend.HistoryPage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	h.times = append(h.times, time.Now())
	if h.err != nil {
		return backend.HistoryPage{}, h.err
	}
	var all []event.Call
	for _, c := range h.calls {
		if (q.From > 0 && c.DateTime < q.From) || (q.To > 0 && c.DateTime > q.To) ||
			(len(q.Systems) > 0 && !slices.Contains(q.Systems, c.SystemID)) ||
			(len(q.Talkgroups) > 0 && !slices.Contains(q.Talkgroups, c.TalkgroupID)) ||
			(q.Text != "" && !strings.Contains(strings.ToLower(c.Transcript), strings.ToLower(q.Text))) {
			continue
		}
		all = append(all, c)
	}
	slices.SortStableFunc(all, func(a, b event.Call) int {
		if a.DateTime != b.DateTime {
			return cmp.Compare(b.DateTime, a.DateTime)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	limit := min(q.Limit, 100)
	start := min((q.Page-1)*limit, len(all))
	end := min(start+limit, len(all))
	page := backend.HistoryPage{Total: len(all)}
	for _, c := range all[start:end] {
		if !h.hidden[c.ID] {
			page.Calls = append(page.Calls, c)
		}
	}
	if len(h.hidden) > 0 && len(page.Calls) < limit {
		page.Total = start + len(page.Calls)
	}
	return page, nil
}

var searchT0 = time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)

// serverCall is call id on the server at searchT0 plus sec seconds.
func serverCall(id, sec int64) event.Call {
	return event.Call{ID: id, DateTime: searchT0.Unix() + sec, SystemID: 1 + id%2, TalkgroupID: 100 + id%3}
}

// searchAll pages through a search with limit and returns every call id
// in the order given, failing on a page out of order.
func searchAll(t *testing.T, r *Relay, q SearchQuery) []int64 {
	t.Helper()
	var ids []int64
	var prev *event.Call
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		res, err := r.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Problem != "" {
			t.Fatalf("problem: %s", res.Problem)
		}
		for i := range res.Calls {
			c := &res.Calls[i]
			if prev != nil && newestFirst(*prev, *c) >= 0 {
				t.Fatalf("call %d (%d) after call %d (%d): out of order", c.ID, c.DateTime, prev.ID, prev.DateTime)
			}
			if c.AudioURL != AudioPath(c.ID) {
				t.Fatalf("call %d has audio URL %q", c.ID, c.AudioURL)
			}
			ids = append(ids, c.ID)
			prev = c
		}
		if res.Next.IsZero() {
			return ids
		}
		next, err := ParseCursor(res.Next.String())
		if err != nil || next != res.Next {
			t.Fatalf("cursor %v does not survive its string %q: %v, %v", res.Next, res.Next.String(), next, err)
		}
		q.Before = next
	}
}

func wantIDs(t *testing.T, what string, got []int64, want func(id int64) bool, from, to int64) {
	t.Helper()
	var w []int64
	for id := to; id >= from; id-- {
		if want(id) {
			w = append(w, id)
		}
	}
	if !slices.Equal(got, w) {
		t.Fatalf("%s: got %d calls %v\nwant %d calls %v", what, len(got), got, len(w), w)
	}
}

func TestSearchOfHeldCallsFiltersAndPages(t *testing.T) {
	b := newFakeBackend()
	b.fetch = quietFetch
	r := startRelay(t, b)
	sub := r.Subscribe(256)
	defer sub.Close()
	for id := int64(1); id <= 60; id++ {
		c := serverCall(id, id*60)
		if id%10 == 0 {
			c.Transcript = fmt.Sprintf("Engine %d respond to a Structure Fire", id)
		}
		b.send(event.Event{Type: event.TypeCall, Call: &c})
	}
	for range 60 {
		nextOf(t, sub, event.TypeCall)
	}
	all := func(int64) bool { return true }
	wantIDs(t, "everything, 7 a page", searchAll(t, r, SearchQuery{Limit: 7}), all, 1, 60)
	wantIDs(t, "system 2", searchAll(t, r, SearchQuery{Systems: []int64{2}, Limit: 4}), func(id int64) bool { return id%2 == 1 }, 1, 60)
	wantIDs(t, "talkgroup 101 of system 1", searchAll(t, r, SearchQuery{Systems: []int64{1}, Talkgroups: []int64{101}}),
		func(id int64) bool { return id%2 == 0 && id%3 == 1 }, 1, 60)
	wantIDs(t, "transcript text", searchAll(t, r, SearchQuery{Text: "structure FIRE", Limit: 2}), func(id int64) bool { return id%10 == 0 }, 1, 60)
	wantIDs(t, "a time range", searchAll(t, r, SearchQuery{From: searchT0.Add(20 * time.Minute), To: searchT0.Add(30 * time.Minute), Limit: 3}), all, 20, 30)
	// A bare call id continues below that call.
	wantIDs(t, "before call 5", searchAll(t, r, SearchQuery{Before: Cursor{ID: 5}}), all, 1, 4)
}

func TestSearchMergesHeldCallsWithTheServersHistoryWithoutDuplicates(t *testing.T) {
	fb := newFakeBackend()
	fb.fetch = quietFetch
	h := &historyBackend{fakeBackend: fb}
	// The server has 1..400, several calls in most seconds; the relay
	// holds the newest 50 (with an alert on one of them).
	for id := int64(1); id <= 400; id++ {
		h.calls = append(h.calls, serverCall(id, id/7))
	}
	r := startRelayWith(t, fb, func(r *Relay) {
		r.backend, r.historyGap = h, 0
		if err := r.SetAlertRules([]alerts.Rule{{Name: "tg", Talkgroups: []int64{101}}}); err != nil {
			t.Fatal(err)
		}
	})
	sub := r.Subscribe(256)
	defer sub.Close()
	for id := int64(351); id <= 400; id++ {
		c := serverCall(id, id/7)
		fb.send(event.Event{Type: event.TypeCall, Call: &c})
	}
	for range 50 {
		nextOf(t, sub, event.TypeCall)
	}
	all := func(int64) bool { return true }
	for _, limit := range []int{1, 13, 50, 99, 500} {
		wantIDs(t, fmt.Sprintf("everything, %d a page", limit), searchAll(t, r, SearchQuery{Limit: limit}), all, 1, 400)
	}
	wantIDs(t, "talkgroup 102", searchAll(t, r, SearchQuery{Talkgroups: []int64{102}, Limit: 20}), func(id int64) bool { return id%3 == 2 }, 1, 400)
	wantIDs(t, "a range across held and older calls", searchAll(t, r, SearchQuery{From: searchT0.Add(40 * time.Second), To: searchT0.Add(53 * time.Second), Limit: 10}),
		func(id int64) bool { return id/7 >= 40 && id/7 <= 53 }, 1, 400)

	res, err := r.Search(context.Background(), SearchQuery{Limit: 60})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Calls {
		held := c.ID > 350
		if held && c.TalkgroupID == 101 && len(c.Alerts) != 1 {
			t.Fatalf("held call %d lost its alert in the merge: %+v", c.ID, c)
		}
	}
}

func TestSearchPagesPastCallsTheGrantsCutFromAPage(t *testing.T) {
	fb := newFakeBackend()
	h := &historyBackend{fakeBackend: fb, hidden: map[int64]bool{}}
	for id := int64(1); id <= 330; id++ {
		h.calls = append(h.calls, serverCall(id, id))
		if id%4 != 0 {
			h.hidden[id] = true // only every fourth call is granted
		}
	}
	r := startRelayWith(t, fb, func(r *Relay) { r.backend, r.historyGap = h, 0 })
	wantIDs(t, "granted calls", searchAll(t, r, SearchQuery{Limit: 30}), func(id int64) bool { return id%4 == 0 }, 1, 330)
}

func TestSearchAnswersFromHeldCallsWhenTheServerCannotBeSearched(t *testing.T) {
	fb := newFakeBackend()
	fb.fetch = quietFetch
	h := &historyBackend{fakeBackend: fb, err: errors.New("dial tcp: connection refused")}
	r := startRelayWith(t, fb, func(r *Relay) { r.backend, r.historyGap = h, 0 })
	sub := r.Subscribe(16)
	defer sub.Close()
	c := serverCall(9, 9)
	fb.send(event.Event{Type: event.TypeCall, Call: &c})
	nextOf(t, sub, event.TypeCall)
	res, err := r.Search(context.Background(), SearchQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 1 || res.Calls[0].ID != 9 || !strings.Contains(res.Problem, "connection refused") || !res.Next.IsZero() {
		t.Fatalf("Search with the server down = %+v", res)
	}
}

func TestSearchReadsAtMostTenPagesOfHistoryPerRequest(t *testing.T) {
	fb := newFakeBackend()
	h := &historyBackend{fakeBackend: fb}
	ignoring := &ignoringText{historyBackend: h}
	for id := int64(1); id <= 3000; id++ {
		c := serverCall(id, id)
		if id == 5 {
			c.Transcript = "the needle"
		}
		h.calls = append(h.calls, c)
	}
	// The text is matched by Earshot too, but this server ignores it
	// (as older ones may): a search pages through its history at most ten
	// pages a request, returning no call but where to go on from, until it
	// finds its one call.
	r := startRelayWith(t, fb, func(r *Relay) { r.backend, r.historyGap = ignoring, 0 })
	ids := searchAll(t, r, SearchQuery{Text: "needle"})
	if !slices.Equal(ids, []int64{5}) {
		t.Fatalf("found %v, want [5]", ids)
	}
	// Calls 3000-2001, then 2001-1002 (the second a request stopped at is
	// read again by the next), 1002-3, then 3-1 and an empty page.
	if h.requests != 32 {
		t.Fatalf("%d history requests for 3000 calls, want 32", h.requests)
	}
}

// ignoringText is a server that ignores the transcript parameter.
type ignoringText struct{ *historyBackend }

func (i *ignoringText) History(ctx context.Context, q backend.HistoryQuery) (backend.HistoryPage, error) {
	q.Text = ""
	return i.historyBackend.History(ctx, q)
}

func TestParseCursorRefusesGarbage(t *testing.T) {
	for _, bad := range []string{"x", "-5", "5-", "0", "1-0", "0-1", "1--2", "12345678901234567890", strings.Repeat("1", 50)} {
		if c, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) = %v, want an error", bad, c)
		}
	}
	if c, err := ParseCursor("42"); err != nil || c != (Cursor{ID: 42}) {
		t.Errorf("ParseCursor(42) = %v, %v", c, err)
	}
}

func TestSearchMarksOldCallsWithTheRulesTheyMatch(t *testing.T) {
	fb := newFakeBackend()
	h := &historyBackend{fakeBackend: fb}
	c := serverCall(1, 1)
	c.Transcript = "MAYDAY MAYDAY"
	h.calls = append(h.calls, c, serverCall(2, 2))
	r := startRelayWith(t, fb, func(r *Relay) {
		r.backend, r.historyGap = h, 0
		if err := r.SetAlertRules([]alerts.Rule{{Name: "mayday", Words: []string{"mayday"}}}); err != nil {
			t.Fatal(err)
		}
	})
	sub := r.Subscribe(16)
	defer sub.Close()
	res, err := r.Search(context.Background(), SearchQuery{})
	if err != nil || len(res.Calls) != 2 {
		t.Fatalf("Search = %+v, %v", res, err)
	}
	if a := res.Calls[1].Alerts; len(a) != 1 || a[0].Rule != "mayday" || len(res.Calls[0].Alerts) != 0 {
		t.Fatalf("alerts on found calls: %+v / %+v", res.Calls[0].Alerts, res.Calls[1].Alerts)
	}
	select {
	case e := <-sub.Events():
		if e.Type == event.TypeAlert {
			t.Fatalf("a search published an alert: %+v", e.Alert)
		}
	default:
	}
	// The found call is known to Call (for its audio's file name).
	if got, ok := r.Call(1); !ok || got.Transcript != "MAYDAY MAYDAY" {
		t.Fatalf("Call(1) after the search = %+v, %v", got, ok)
	}
}

// A local program searching in a loop cannot make the relay ask the server
// for more than one history page per historyGap.
func TestSearchesArePacedTowardTheServer(t *testing.T) {
	fb := newFakeBackend()
	h := &historyBackend{fakeBackend: fb}
	for id := int64(1); id <= 500; id++ {
		h.calls = append(h.calls, serverCall(id, id))
	}
	const gap = 20 * time.Millisecond
	r := startRelayWith(t, fb, func(r *Relay) { r.backend, r.historyGap = h, gap })
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := r.Search(context.Background(), SearchQuery{Limit: 300}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	slices.SortFunc(h.times, func(a, b time.Time) int { return a.Compare(b) })
	// Page i's turn comes i gaps after the first at the earliest.
	for i, at := range h.times {
		if d := at.Sub(start); d < time.Duration(i)*gap {
			t.Fatalf("history page %d asked %v after the searches began, want at least %v", i, d, time.Duration(i)*gap)
		}
	}
	if len(h.times) < 8 {
		t.Fatalf("only %d history requests", len(h.times))
	}
}
