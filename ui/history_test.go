package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"earshot/relay/event"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// fakePast is the relay's search over a fixed list of older calls (newest
// first), paged as GET /v1/calls pages.
type fakePast struct {
	mu       sync.Mutex
	calls    []event.Call
	searches []ipc.Search
	problem  string
	saved    map[string]int64
	exported []string
}

func (f *fakePast) Search(_ context.Context, s ipc.Search) ([]event.Call, string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, s)
	limit := s.Limit
	if limit == 0 {
		limit = 50
	}
	var out []event.Call
	for _, c := range f.calls {
		cur := fmt.Sprintf("%d-%d", c.DateTime, c.ID)
		if s.Before != "" && !before(cur, s.Before) {
			continue
		}
		if s.Text != "" && !strings.Contains(strings.ToLower(c.Transcript), strings.ToLower(s.Text)) {
			continue
		}
		if len(s.Talkgroups) > 0 && s.Talkgroups[0] != c.TalkgroupID {
			continue
		}
		if !s.From.IsZero() && c.DateTime < s.From.Unix() || !s.To.IsZero() && c.DateTime > s.To.Unix() {
			continue
		}
		out = append(out, c)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = fmt.Sprintf("%d-%d", last.DateTime, last.ID)
	}
	return out, next, f.problem, nil
}

// before reports whether cursor a is after cursor b in search order
// (older).
func before(a, b string) bool {
	var at, aid, bt, bid int64
	fmt.Sscanf(a, "%d-%d", &at, &aid)
	fmt.Sscanf(b, "%d-%d", &bt, &bid)
	return at < bt || (at == bt && aid < bid)
}

func (f *fakePast) AudioName(_ context.Context, id int64) (string, error) {
	return fmt.Sprintf("call-%d.mp3", id), nil
}

func (f *fakePast) SaveAudio(_ context.Context, id int64, path string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saved == nil {
		f.saved = map[string]int64{}
	}
	f.saved[path] = id
	return 4096, nil
}

func (f *fakePast) Export(_ context.Context, s ipc.Search, out string, progress func(ipc.Progress)) (ipc.ExportResult, error) {
	progress(ipc.Progress{Done: 1, Total: 2})
	progress(ipc.Progress{Done: 2, Total: 2, Bytes: 8192})
	f.mu.Lock()
	f.exported = append(f.exported, out)
	f.mu.Unlock()
	return ipc.ExportResult{Out: out, Calls: 2, FromServer: 2, Bytes: 8192}, nil
}

// olderCalls are n calls a day before at, a minute apart, newest first.
func olderCalls(at time.Time, n int, firstID int64) []event.Call {
	var out []event.Call
	for i := range n {
		c := call(firstID-int64(i), 102, "Fire Tac")
		c.DateTime = at.Add(-24*time.Hour - time.Duration(i)*time.Minute).Unix()
		out = append(out, c)
	}
	return out
}

func TestHistoryRowsTellACallAtAGlance(t *testing.T) {
	c, _ := goldenWindow(t, &fakeAccounts{server: "https://scanner.example.org"})
	pw := c.win
	rows := []string{historyRowText(pw, 0), historyRowText(pw, 1)}
	if !strings.HasPrefix(rows[0], "Today — Sat 14 Mar\n15:09:26   Fire Dispatch  ·  Harness County · County Fire Dispatch\nnow playing") {
		t.Errorf("the playing call's row:\n%s", rows[0])
	}
	if !strings.Contains(rows[1], "15:08:26   Fire Tac  ·  Harness County") || strings.Contains(rows[1], "Today") {
		t.Errorf("the second call's row (same day: no header):\n%s", rows[1])
	}
}

func TestHistoryMarksWhatBecameOfACall(t *testing.T) {
	base := call(1, 101, "Fire Dispatch")
	alerted := base
	alerted.Alerts = []event.Alert{{CallID: 1, Rule: "Mayday"}}
	backfilled := base
	backfilled.Backfill = true
	for _, tc := range []struct {
		name string
		h    listening.HistoryEntry
		sel  []player.Talkgroup
		want string
	}{
		{"alerted", listening.HistoryEntry{Call: alerted}, nil, "alert: Mayday"},
		{"backfilled", listening.HistoryEntry{Call: backfilled, Held: "from the server's history"}, nil, "backfilled"},
		{"of a talkgroup unticked now", listening.HistoryEntry{Call: base}, []player.Talkgroup{{SystemID: 1, TalkgroupID: 102}}, "not ticked"},
		{"held when unticked", listening.HistoryEntry{Call: base, Held: "talkgroup not selected"}, nil, "was not ticked"},
		{"played", listening.HistoryEntry{Call: base, Played: true}, nil, "played"},
		{"priority", listening.HistoryEntry{Call: base, Priority: true}, nil, "priority"},
		{"interrupted", listening.HistoryEntry{Call: base, Played: true, Interrupted: true}, nil, "cut short by a priority call"},
		{"playing", listening.HistoryEntry{Call: base, Played: true}, nil, "now playing"},
	} {
		s := &listening.Snapshot{}
		s.Filter.SetSelection(tc.sel)
		if tc.name == "playing" {
			s.Call = &base
		}
		var texts []string
		for _, m := range marksOf(tc.h, s) {
			texts = append(texts, m.text)
		}
		if got := strings.Join(texts, ","); !strings.Contains(got, tc.want) || (tc.name == "playing" && strings.Contains(got, "played")) {
			t.Errorf("%s: marks %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHistoryPagesBackThroughTheRelay(t *testing.T) {
	c, fp, feed, _ := newTestController(t)
	at := time.Now()
	past := &fakePast{calls: olderCalls(at, 250, 1000)}
	c.opts.Past = past
	pw := c.win
	pw.hist.more.Show()
	before := len(historyCalls(pw))
	c.Do(pw.hist.loadOlder)
	c.WaitIdle()
	calls := historyCalls(pw)
	if len(calls) != before+olderPage {
		t.Fatalf("after one page the history shows %d calls; want %d", len(calls), before+olderPage)
	}
	oldestRecent := calls[before-1]
	past.mu.Lock()
	first := past.searches[0]
	past.mu.Unlock()
	if first.Before != fmt.Sprintf("%d-%d", oldestRecent.DateTime, oldestRecent.ID) || first.Limit != olderPage {
		t.Fatalf("the first page was asked with %+v; want the cursor after the oldest recent call", first)
	}
	if !strings.Contains(historyRowText(pw, before), "Yesterday") {
		t.Fatalf("the first older call (a day back) has no day header: %q", historyRowText(pw, before))
	}
	c.Do(pw.hist.loadOlder)
	c.WaitIdle()
	c.Do(pw.hist.loadOlder)
	c.WaitIdle()
	if n := len(historyCalls(pw)); n != before+250 {
		t.Fatalf("after paging to the end the history shows %d calls; want %d", n, before+250)
	}
	if !pw.hist.ended || !pw.hist.more.Disabled() || !strings.Contains(pw.hist.status.Text, "no older calls") {
		t.Fatalf("at the end: ended %v, button disabled %v, status %q", pw.hist.ended, pw.hist.more.Disabled(), pw.hist.status.Text)
	}
	// An older call plays: the relay remembers what its search found.
	older := calls[before+3]
	feed.mu.Lock()
	feed.found = map[int64]event.Call{older.ID: older}
	feed.mu.Unlock()
	pw.hist.list.Select(before + 3)
	if st := fp.State(); st.Call == nil || st.Call.ID != older.ID {
		t.Fatalf("activating an older call played %+v; want call %d", st.Call, older.ID)
	}
}

// A history or search row longer than the window was cut without a mark:
// the first line lost its last words ("County Fire Dispatch · " and no
// tag), and a long transcript ran past the row's edge, where the list
// clipped it mid-word. Each line must end with "…" inside the row.
func TestCallRowsCutLongLinesWithAnEllipsis(t *testing.T) {
	test.NewTempApp(t)
	r := newCallRow()
	c := event.Call{ID: 1, DateTime: time.Date(2026, 3, 14, 4, 33, 6, 0, time.UTC).Unix(), SystemLabel: "Harness County Fire & Emergency Medical Services",
		TalkgroupName: "County Fire Dispatch", TalkgroupTag: "Dispatch", Source: 4425, Duration: 1,
		Transcript: "Engine 5, Truck 2, Medic 3, respond to a reported structure fire, 1200 Oak Street, cross street Elm, smoke showing"}
	w := test.NewWindow(r)
	defer w.Close()
	for _, width := range []float32{640, 480} {
		r.Resize(fyne.NewSize(width, 60))
		r.showCall(callRowView{call: c, title: "Fire Dispatch", marks: []callMark{{text: "backfilled"}}}, "", timeFormats{}, time.UTC)
		lines := shownLines(t, r.text)
		if len(lines) != 2 {
			t.Fatalf("at %v px the row has %d lines: %q", width, len(lines), lines)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, "…") {
				t.Errorf("at %v px the line %q is cut without an ellipsis", width, l)
			}
		}
		if !strings.HasPrefix(lines[0], "04:33:06   Fire Dispatch  ·  Harness County") || !strings.Contains(lines[1], "“Engine 5, Truck 2") {
			t.Errorf("at %v px the row says %q", width, lines)
		}
	}
}

// shownLines are the lines text draws; a text drawn past its width (over
// what lies beside it) is an error.
func shownLines(t *testing.T, text *lineFit) []string {
	t.Helper()
	edge := text.Size().Width - theme.InnerPadding()
	var lines []string
	line := ""
	for _, o := range test.TempWidgetRenderer(t, text).Objects() {
		tx, ok := o.(*canvas.Text)
		if !ok {
			continue
		}
		if end := tx.Position().X + fyne.MeasureText(tx.Text, tx.TextSize, tx.TextStyle).Width; end > edge+0.5 {
			t.Errorf("%q ends at %.1f, past the text's edge %.1f", tx.Text, end, edge)
		}
		if tx.Position().X <= theme.InnerPadding() && line != "" {
			lines = append(lines, line)
			line = ""
		}
		line += tx.Text
	}
	return append(lines, line)
}
