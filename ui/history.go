package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/ui/ipc"
	"earshot/ui/listening"
)

// Past is what the windows use of past calls: the relay's search, saving
// a call's audio and exporting calls, carried out by the resident
// (*ipc.Client implements it).
type Past interface {
	Search(ctx context.Context, s ipc.Search) (calls []event.Call, next, problem string, err error)
	AudioName(ctx context.Context, id int64) (string, error)
	SaveAudio(ctx context.Context, id int64, path string) (int64, error)
	Export(ctx context.Context, s ipc.Search, out string, progress func(ipc.Progress)) (ipc.ExportResult, error)
}

var _ Past = (*ipc.Client)(nil)

// olderPage is how many calls "Load older calls" asks for at a time.
const olderPage = 100

// historyView is the History tab: the listening core's recent calls
// (listening.MaxHistory), newest first under day headers, and as many
// older ones as the listener pages back through the relay's search.
type historyView struct {
	pw      *playerWindow
	list    *keyList
	items   []callListItem
	older   []event.Call // pages from further back, newest first
	next    string       // where the next page starts ("": after the oldest shown)
	ended   bool         // the server's history has no older calls
	loading bool
	server  string // the server the older pages came from
	more    *widget.Button
	status  *widget.Label
	content fyne.CanvasObject
}

func newHistoryView(pw *playerWindow) *historyView {
	hv := &historyView{pw: pw, status: widget.NewLabel("")}
	hv.status.Truncation = fyne.TextTruncateEllipsis
	hv.list = newKeyList(pw,
		func() int { return len(hv.items) },
		func() fyne.CanvasObject { return newCallRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) { hv.bind(i, o.(*callRow)) })
	hv.list.OnSelected = func(i widget.ListItemID) {
		hv.list.UnselectAll()
		if i < len(hv.items) {
			_ = pw.c.opts.Core.Play(hv.items[i].entry.Call.ID)
			pw.c.refresh()
		}
	}
	hv.more = widget.NewButtonWithIcon("Load older calls", theme.MoreHorizontalIcon(), hv.loadOlder)
	if pw.c.opts.Past == nil {
		hv.more.Hide()
	}
	hv.content = container.NewBorder(nil, container.NewBorder(nil, nil, nil, hv.more, hv.status), nil, nil, hv.list)
	return hv
}

// entries are the calls shown: the core's, then the older pages.
func (hv *historyView) entries(s *listening.Snapshot) []listening.HistoryEntry {
	out := make([]listening.HistoryEntry, 0, len(s.History)+len(hv.older))
	seen := make(map[int64]bool, len(s.History))
	for _, h := range s.History {
		seen[h.Call.ID] = true
		out = append(out, h)
	}
	for _, c := range hv.older {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, listening.HistoryEntry{Call: c})
		}
	}
	// By the calls' time, newest first: a call from the server's history
	// that arrived late sits where it belongs, under its day.
	slices.SortStableFunc(out, func(a, b listening.HistoryEntry) int {
		return cmp.Or(cmp.Compare(b.Call.DateTime, a.Call.DateTime), cmp.Compare(b.Call.ID, a.Call.ID))
	})
	return out
}

// serverKey names the server the calls belong to.
func serverKey(s *listening.Snapshot) string {
	if s.Demo {
		return "demo"
	}
	return s.Server
}

// update shows snapshot s (Call the window's uiMu held).
func (hv *historyView) update(s *listening.Snapshot) {
	if key := serverKey(s); key != hv.server {
		// Another account: the older pages were another server's.
		hv.server, hv.older, hv.next, hv.ended = key, nil, "", false
	}
	c := hv.pw.c
	hv.items = withDays(hv.entries(s), c.opts.Now(), c.opts.Location, c.times)
	setRowHeights(&hv.list.List, hv.items)
	hv.list.Refresh()
	hv.sayStatus("")
}

func (hv *historyView) bind(i widget.ListItemID, r *callRow) {
	if i >= len(hv.items) {
		return
	}
	it := hv.items[i]
	s := hv.pw.snap
	v := callRowView{call: it.entry.Call, title: titleOf(it.entry.Call, s.Directory), marks: marksOf(it.entry, s),
		playing: s.Call != nil && s.Call.ID == it.entry.Call.ID}
	r.showCall(v, it.day, hv.pw.c.times, hv.pw.c.opts.Location)
}

// sayStatus says how many calls are shown, and why not more (problem).
func (hv *historyView) sayStatus(problem string) {
	recent := len(hv.pw.snap.History)
	text := fmt.Sprintf("%d recent calls", recent)
	if recent == 1 {
		text = "1 recent call"
	}
	if n := len(hv.entries(hv.pw.snap)) - recent; n > 0 {
		text += fmt.Sprintf(" · %d from further back", n)
	}
	switch {
	case hv.loading:
		text += " · loading older calls…"
	case problem != "":
		text += " · " + problem
	case hv.ended:
		text += " · no older calls on the server"
	}
	hv.status.SetText(text)
	if hv.ended || hv.loading {
		hv.more.Disable()
	} else {
		hv.more.Enable()
	}
}

// cursorAfter is the search position just after the oldest call shown.
func (hv *historyView) cursorAfter() string {
	if hv.next != "" {
		return hv.next
	}
	all := hv.entries(hv.pw.snap)
	if len(all) == 0 {
		return ""
	}
	oldest := all[len(all)-1].Call
	return strconv.FormatInt(oldest.DateTime, 10) + "-" + strconv.FormatInt(oldest.ID, 10)
}

// loadOlder asks the relay for the page of calls before the oldest shown.
func (hv *historyView) loadOlder() {
	past := hv.pw.c.opts.Past
	if past == nil || hv.loading || hv.ended {
		return
	}
	hv.loading = true
	before, server := hv.cursorAfter(), hv.server
	hv.sayStatus("")
	c := hv.pw.c
	c.background(time.Minute, func(ctx context.Context) {
		calls, next, problem, err := past.Search(ctx, ipc.Search{Limit: olderPage, Before: before})
		c.onUI(false, func() {
			hv.loading = false
			if hv.server != server || c.win == nil || c.win.hist != hv {
				return // another account since, or the window closed
			}
			switch {
			case err != nil:
				problem = "could not load older calls: " + err.Error()
			case problem != "":
				problem = "older calls are missing: " + problem
			}
			if err == nil {
				hv.older = append(hv.older, calls...)
				hv.next = next
				hv.ended = next == "" && problem == ""
			}
			hv.update(hv.pw.snap)
			hv.sayStatus(problem)
		})
	})
}
