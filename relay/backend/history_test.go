package backend

import (
	"context"
	"slices"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
)

func historyIDs(t *testing.T, s *Session, q HistoryQuery) ([]int64, HistoryPage) {
	t.Helper()
	page, err := s.History(context.Background(), q)
	if err != nil {
		t.Fatalf("History(%+v): %v", q, err)
	}
	var ids []int64
	for _, c := range page.Calls {
		ids = append(ids, c.ID)
	}
	return ids, page
}

func TestHistoryFiltersByRadioIDsThroughTheServersRowIDs(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run([]string{"1.3", "1.2", "1.1"}[gen], func(t *testing.T) {
			t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
			srv := fake(t, backendtest.Options{Generation: gen}) // system 1 is row 1, talkgroup 101 row 1
			// Radio ids that are not the row ids: system 7 is row 2,
			// talkgroup 101 of system 7 is row 2, 205 of system 7 row 3.
			srv.AddTalkgroup(7, 101, "Other 101", "", "", "", "")
			srv.AddTalkgroup(7, 205, "EMS", "", "EMS", "", "")
			for i, tg := range [][2]int64{{1, 101}, {7, 101}, {7, 205}, {1, 101}, {7, 205}} {
				srv.AddCall(backendtest.CallSpec{SystemID: tg[0], TalkgroupID: tg[1], DateTime: t0.Add(time.Duration(i) * time.Minute)})
			}
			srv.SetTranscript(3, "Medic 4 respond, cardiac arrest")
			s, _ := signedIn(t, srv, Options{})

			// Before the catalogue arrived, the filter cannot be sent: the
			// page is marked unfiltered for the caller to filter.
			ids, page := historyIDs(t, s, HistoryQuery{Systems: []int64{7}})
			if !page.Unfiltered || len(ids) != 5 {
				t.Fatalf("without a catalogue: %v unfiltered=%v, want all 5 calls, unfiltered", ids, page.Unfiltered)
			}

			col := run(t, s)
			col.waitFor(t, "the catalogue", func(c *collector) bool { return len(c.catalogs) > 0 })
			for _, tc := range []struct {
				q    HistoryQuery
				want []int64
			}{
				{HistoryQuery{}, []int64{5, 4, 3, 2, 1}},
				{HistoryQuery{Systems: []int64{7}}, []int64{5, 3, 2}},
				{HistoryQuery{Talkgroups: []int64{101}}, []int64{4, 2, 1}},
				{HistoryQuery{Systems: []int64{1}, Talkgroups: []int64{101}}, []int64{4, 1}},
				{HistoryQuery{Systems: []int64{7}, Talkgroups: []int64{205}, Limit: 1}, []int64{5}},
				{HistoryQuery{Systems: []int64{7}, Talkgroups: []int64{205}, Limit: 1, Page: 2}, []int64{3}},
				{HistoryQuery{From: t0.Add(time.Minute).Unix(), To: t0.Add(3 * time.Minute).Unix()}, []int64{4, 3, 2}},
				{HistoryQuery{Text: "CARDIAC"}, []int64{3}},
				{HistoryQuery{Systems: []int64{99}}, nil}, // not a system this account sees
			} {
				ids, page := historyIDs(t, s, tc.q)
				if !slices.Equal(ids, tc.want) || page.Unfiltered {
					t.Errorf("History(%+v) = %v (unfiltered %v), want %v", tc.q, ids, page.Unfiltered, tc.want)
				}
			}
			_, page = historyIDs(t, s, HistoryQuery{Talkgroups: []int64{205}})
			if c := page.Calls[0]; c.SystemLabel == "" || c.TalkgroupLabel != "EMS" || c.InlineAudio != nil {
				t.Errorf("a history call lacks its labels or carries audio: %+v", c)
			}
			if _, page = historyIDs(t, s, HistoryQuery{Text: "cardiac"}); page.Calls[0].Transcript == "" {
				t.Errorf("the transcript is missing: %+v", page.Calls[0])
			}
		})
	}
}

func TestHistoryPagesAreCappedAtAHundred(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	for range 120 {
		srv.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101})
	}
	s, _ := signedIn(t, srv, Options{})
	ids, page := historyIDs(t, s, HistoryQuery{Limit: 500})
	if len(ids) != MaxHistoryPage || page.Total != 120 || ids[0] != 120 {
		t.Fatalf("History(limit 500) = %d calls from %v, total %d; want 100 newest first of 120", len(ids), ids[:1], page.Total)
	}
	ids, _ = historyIDs(t, s, HistoryQuery{Page: 2})
	if len(ids) != 20 || ids[0] != 20 {
		t.Fatalf("page 2 = %d calls from %v, want 20 from call 20", len(ids), ids[:1])
	}
}
