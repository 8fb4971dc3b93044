package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// The Search tab: past calls by time range, system, talkgroup and
// transcript text, served by the relay (the calls it holds and the
// server's history), a page at a time; any result plays, saves its audio
// (the resident writes the file the save dialog chose) or is exported
// with the rest (a .zip or a folder, with progress). Keyboard: ↑ ↓ move
// through the results, Enter plays, Ctrl+S saves.

// searchPage is how many results a page holds.
const searchPage = 50

// Time range choices.
const (
	rangeAny       = "Any time"
	rangeHour      = "Last hour"
	rangeToday     = "Today"
	rangeYesterday = "Yesterday"
	rangeWeek      = "Last 7 days"
	rangeBetween   = "Between…"
)

var rangeChoices = []string{rangeAny, rangeHour, rangeToday, rangeYesterday, rangeWeek, rangeBetween}

// Select choices meaning "any".
const (
	allSystems    = "All systems"
	allTalkgroups = "All talkgroups"
)

type searchView struct {
	pw *playerWindow

	when              *keySelect
	fromDate, toDate  *widget.DateEntry
	fromTime, toTime  *searchEntry
	between           *fyne.Container
	system, talkgroup *keySelect
	systemIDs         map[string]int64
	talkgroupKeys     map[string]player.Talkgroup
	text              *searchEntry
	find              *widget.Button
	list              *resultList
	results           []event.Call
	items             []callListItem
	next              string
	query             ipc.Search // the search the results answer
	selected          int        // the result acted on; -1 none
	searching         bool
	gen               int // searches started: an answer to an older one is dropped
	status            *widget.Label
	more, play, save  *widget.Button
	export, cancel    *widget.Button
	progress          *callProgress
	progressRow       *fyne.Container
	stopExport        context.CancelFunc
	content           fyne.CanvasObject
	dirRev            uint64
}

func newSearchView(pw *playerWindow) *searchView {
	sv := &searchView{pw: pw, selected: -1, status: widget.NewLabel("Search the calls Earshot holds and the server's history.")}
	sv.status.Wrapping = fyne.TextWrapWord
	sv.when = newKeySelect(pw, rangeChoices, rangeAny, func(choice string) {
		if choice == rangeBetween {
			sv.between.Show()
		} else {
			sv.between.Hide()
		}
		sv.content.Refresh()
	})
	sv.fromDate, sv.toDate = widget.NewDateEntry(), widget.NewDateEntry()
	sv.fromTime, sv.toTime = newSearchEntry(pw), newSearchEntry(pw)
	sv.fromTime.SetPlaceHolder("00:00")
	sv.toTime.SetPlaceHolder("23:59")
	for _, e := range []*searchEntry{sv.fromTime, sv.toTime} {
		e.OnSubmitted = func(string) { sv.search() }
	}
	fromRow := container.NewBorder(nil, nil, widget.NewLabel("From"), steadyWidth(sv.fromTime, "00:00:00"), sv.fromDate)
	toRow := container.NewBorder(nil, nil, widget.NewLabel("to"), steadyWidth(sv.toTime, "00:00:00"), sv.toDate)
	sv.between = container.NewGridWithColumns(2, fromRow, toRow)
	sv.between.Hide()

	sv.system = newKeySelect(pw, []string{allSystems}, allSystems, nil)
	sv.system.SetSelected(allSystems)
	sv.talkgroup = newKeySelect(pw, []string{allTalkgroups}, allTalkgroups, nil)
	sv.talkgroup.SetSelected(allTalkgroups)
	sv.system.OnChanged = func(string) { sv.fillTalkgroups() }
	sv.text = newSearchEntry(pw)
	sv.text.SetPlaceHolder("Transcript says… (any words)")
	sv.text.OnSubmitted = func(string) { sv.search() }
	sv.find = widget.NewButtonWithIcon("Search", theme.SearchIcon(), sv.search)
	sv.find.Importance = widget.HighImportance

	sv.list = newResultList(sv)
	sv.more = widget.NewButtonWithIcon("More", theme.MoreHorizontalIcon(), sv.loadMore)
	sv.play = widget.NewButtonWithIcon("Play", theme.MediaPlayIcon(), sv.playSelected)
	sv.save = widget.NewButtonWithIcon("Save audio…", theme.DocumentSaveIcon(), sv.saveSelected)
	sv.export = widget.NewButtonWithIcon("Export…", theme.UploadIcon(), sv.exportDialog)
	sv.cancel = widget.NewButton("Cancel", func() {
		if sv.stopExport != nil {
			sv.stopExport()
		}
	})
	sv.progress = newCallProgress()
	sv.progressRow = container.NewBorder(nil, nil, nil, sv.cancel, sv.progress)
	sv.progressRow.Hide()

	top := container.NewVBox(
		container.NewBorder(nil, nil, steadyWidth(sv.when, "Last 7 days  ▾"), nil,
			container.NewGridWithColumns(2, sv.system, sv.talkgroup)),
		sv.between,
		container.NewBorder(nil, nil, nil, sv.find, sv.text),
	)
	actions := container.NewHBox(sv.play, sv.save, sv.more, sv.export)
	bottom := container.NewVBox(sv.progressRow, container.NewBorder(nil, nil, nil, actions, sv.status))
	sv.content = container.NewBorder(top, bottom, nil, nil, sv.list)
	sv.when.SetSelected(rangeAny)
	sv.showActions()
	return sv
}

// update follows the talkgroups on offer (Call with the window's uiMu
// held).
func (sv *searchView) update(s *listening.Snapshot) {
	if s.DirRev != sv.dirRev {
		sv.dirRev = s.DirRev
		sv.fillSystems(s.Directory)
	}
}

func (sv *searchView) fillSystems(d listening.Directory) {
	sv.systemIDs = map[string]int64{}
	options := []string{allSystems}
	for _, sys := range d.Systems {
		name := d.SystemLabel(sys.ID)
		if _, dup := sv.systemIDs[name]; dup {
			name = fmt.Sprintf("%s (%d)", name, sys.ID)
		}
		sv.systemIDs[name] = sys.ID
		options = append(options, name)
	}
	cur := sv.system.Selected
	sv.system.SetOptions(options)
	if !slices.Contains(options, cur) {
		cur = allSystems
	}
	sv.system.SetSelected(cur)
	sv.fillTalkgroups()
}

// fillTalkgroups offers the talkgroups of the chosen system (of every
// system when none is).
func (sv *searchView) fillTalkgroups() {
	d := sv.pw.snap.Directory
	sysID, one := sv.systemIDs[sv.system.Selected]
	sv.talkgroupKeys = map[string]player.Talkgroup{}
	options := []string{allTalkgroups}
	for _, sys := range d.Systems {
		if one && sys.ID != sysID {
			continue
		}
		for _, k := range sys.Talkgroups {
			name := d.TalkgroupLabel(k)
			if !one {
				name += " — " + d.SystemLabel(sys.ID)
			}
			if _, dup := sv.talkgroupKeys[name]; dup {
				name = fmt.Sprintf("%s (%d)", name, k.TalkgroupID)
			}
			sv.talkgroupKeys[name] = k
			options = append(options, name)
		}
	}
	cur := sv.talkgroup.Selected
	sv.talkgroup.SetOptions(options)
	if !slices.Contains(options, cur) {
		cur = allTalkgroups
	}
	sv.talkgroup.SetSelected(cur)
}

// rangeOf is the time range a choice stands for at now (zero: open).
func rangeOf(choice string, now time.Time) (from, to time.Time) {
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	switch choice {
	case rangeHour:
		return now.Add(-time.Hour), time.Time{}
	case rangeToday:
		return midnight, time.Time{}
	case rangeYesterday:
		return midnight.AddDate(0, 0, -1), midnight.Add(-time.Second)
	case rangeWeek:
		return midnight.AddDate(0, 0, -6), time.Time{}
	}
	return time.Time{}, time.Time{}
}

// clockOf reads "15:04" (or "3:04 PM", "15:04:05") as a time of day; "" is
// def.
func clockOf(text string, def time.Duration) (time.Duration, error) {
	text = strings.TrimSpace(strings.ToUpper(text))
	if text == "" {
		return def, nil
	}
	for _, layout := range []string{"15:04", "15:04:05", "3:04 PM", "3:04PM", "3 PM", "3PM", "15"} {
		if t, err := time.Parse(layout, text); err == nil {
			return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
		}
	}
	return 0, fmt.Errorf("%q is not a time of day (say 18:30)", text)
}

// querySearch reads the controls into a search.
func (sv *searchView) querySearch() (ipc.Search, error) {
	c := sv.pw.c
	now := c.opts.Now().In(c.opts.Location)
	q := ipc.Search{Text: strings.TrimSpace(sv.text.Text), Limit: searchPage}
	if len(q.Text) > 200 {
		return q, errors.New("the transcript text is too long (200 characters at most)")
	}
	if sv.when.Selected == rangeBetween {
		day := func(d *time.Time, clock string, def time.Duration, what string) (time.Time, error) {
			if d == nil {
				if strings.TrimSpace(clock) != "" {
					return time.Time{}, fmt.Errorf("choose the %s date too", what)
				}
				return time.Time{}, nil
			}
			off, err := clockOf(clock, def)
			if err != nil {
				return time.Time{}, err
			}
			y, m, dd := d.Date()
			return time.Date(y, m, dd, 0, 0, 0, 0, c.opts.Location).Add(off), nil
		}
		var err error
		if q.From, err = day(sv.fromDate.Date, sv.fromTime.Text, 0, "start"); err != nil {
			return q, err
		}
		if q.To, err = day(sv.toDate.Date, sv.toTime.Text, 24*time.Hour-time.Second, "end"); err != nil {
			return q, err
		}
		if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
			return q, errors.New("the end is before the start")
		}
	} else {
		q.From, q.To = rangeOf(sv.when.Selected, now)
	}
	if id, ok := sv.systemIDs[sv.system.Selected]; ok {
		q.Systems = []int64{id}
	}
	if k, ok := sv.talkgroupKeys[sv.talkgroup.Selected]; ok {
		q.Systems, q.Talkgroups = []int64{k.SystemID}, []int64{k.TalkgroupID}
	}
	return q, nil
}

// search runs the search the controls say, from the newest call.
func (sv *searchView) search() {
	q, err := sv.querySearch()
	if err != nil {
		sv.status.SetText(err.Error())
		return
	}
	sv.query, sv.results, sv.next, sv.selected = q, nil, "", -1
	sv.relist()
	sv.run(q, false)
}

// loadMore asks for the next page of the same search.
func (sv *searchView) loadMore() {
	if sv.next == "" || sv.searching {
		return
	}
	q := sv.query
	q.Before = sv.next
	sv.run(q, true)
}

func (sv *searchView) run(q ipc.Search, more bool) {
	past := sv.pw.c.opts.Past
	if past == nil {
		sv.status.SetText("Searching is not available.")
		return
	}
	sv.gen++
	gen := sv.gen
	sv.searching = true
	sv.status.SetText("Searching…")
	sv.showActions()
	c := sv.pw.c
	c.background(time.Minute, func(ctx context.Context) {
		calls, next, problem, err := past.Search(ctx, q)
		c.onUI(false, func() {
			if gen != sv.gen || c.win == nil || c.win.past != sv {
				return
			}
			sv.searching = false
			if err != nil {
				sv.status.SetText("The search failed: " + err.Error())
				sv.showActions()
				return
			}
			sv.results = append(sv.results, calls...)
			sv.next = next
			sv.relist()
			if !more && len(sv.results) > 0 {
				sv.choose(0)
			}
			sv.sayFound(problem)
			sv.showActions()
		})
	})
}

// sayFound says how many calls were found, whether there are more, and
// why some may be missing.
func (sv *searchView) sayFound(problem string) {
	var text string
	switch n := len(sv.results); {
	case n == 0:
		text = "No calls match."
	case n == 1:
		text = "1 call"
	default:
		text = fmt.Sprintf("%d calls", n)
	}
	if len(sv.results) > 0 {
		if sv.next != "" {
			text += ", more with More"
		} else {
			text += ", all shown"
		}
	}
	if problem != "" {
		text += ". " + problem
	}
	sv.status.SetText(text)
}

func (sv *searchView) relist() {
	entries := make([]listening.HistoryEntry, len(sv.results))
	for i, c := range sv.results {
		entries[i] = listening.HistoryEntry{Call: c}
	}
	c := sv.pw.c
	sv.items = withDays(entries, c.opts.Now(), c.opts.Location, c.times)
	setRowHeights(&sv.list.List, sv.items)
	sv.list.Refresh()
}

// showActions enables what can be done now.
func (sv *searchView) showActions() {
	enable(sv.find, !sv.searching)
	enable(sv.more, sv.next != "" && !sv.searching)
	has := sv.selected >= 0 && sv.selected < len(sv.results)
	enable(sv.play, has)
	enable(sv.save, has)
	enable(sv.export, len(sv.results) > 0 && sv.stopExport == nil)
}

// choose makes result i the one acted on, and shows it.
func (sv *searchView) choose(i int) {
	if i < 0 || i >= len(sv.results) {
		return
	}
	old := sv.selected
	sv.selected = i
	// The row shows it is chosen (bind): the list's own selection would
	// highlight the day's header above the first call of a day too.
	if old >= 0 && old < len(sv.items) {
		sv.list.RefreshItem(old)
	}
	sv.list.RefreshItem(i)
	if sv.list.Size().Height > 0 { // laid out: scrolling a list of no height leaves it scrolled
		sv.list.ScrollTo(i)
	}
	sv.showActions()
}

func (sv *searchView) chosen() (event.Call, bool) {
	if sv.selected < 0 || sv.selected >= len(sv.results) {
		return event.Call{}, false
	}
	return sv.results[sv.selected], true
}

// playSelected plays the chosen result.
func (sv *searchView) playSelected() {
	call, ok := sv.chosen()
	if !ok {
		return
	}
	if err := sv.pw.c.opts.Core.Play(call.ID); err != nil {
		sv.status.SetText("Could not play it: " + err.Error())
		return
	}
	sv.pw.c.refresh()
}

// saveSelected asks where to save the chosen result's audio (under the
// name the resident gives it), then has the resident write it there.
func (sv *searchView) saveSelected() {
	call, ok := sv.chosen()
	past := sv.pw.c.opts.Past
	if !ok || past == nil {
		return
	}
	c := sv.pw.c
	sv.status.SetText("Getting the call's audio…")
	c.background(time.Minute, func(ctx context.Context) {
		name, err := past.AudioName(ctx, call.ID)
		c.onUI(false, func() {
			if err != nil {
				sv.status.SetText("Could not save it: " + err.Error())
				return
			}
			sv.status.SetText("")
			sv.saveDialog(call, name)
		})
	})
}

func (sv *searchView) saveDialog(call event.Call, name string) {
	c := sv.pw.c
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled
		}
		path := w.URI().Path()
		_ = w.Close() // the resident writes the file (into place, whole)
		sv.status.SetText("Saving " + filepath.Base(path) + "…")
		c.background(saveTimeout, func(ctx context.Context) {
			n, err := c.opts.Past.SaveAudio(ctx, call.ID, path)
			c.onUI(false, func() {
				if err != nil {
					removeIfEmpty(path)
					sv.status.SetText("Could not save " + filepath.Base(path) + ": " + err.Error())
					return
				}
				sv.status.SetText(fmt.Sprintf("Saved %s (%s).", path, sizeOf(n)))
			})
		})
	}, sv.pw.w)
	d.SetFileName(name)
	if dir := saveDir(); dir != nil {
		d.SetLocation(dir)
	}
	d.Resize(fyne.NewSize(600, 440))
	d.Show()
}

// saveTimeout bounds a save of one call's audio (up to 64 MiB from the
// server).
const saveTimeout = 10 * time.Minute

// removeIfEmpty removes the empty file a save dialog created for a save
// that then failed.
func removeIfEmpty(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		_ = os.Remove(path)
	}
}

// saveDir is where save dialogs open: the Downloads folder, else home.
func saveDir() fyne.ListableURI {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	for _, d := range []string{filepath.Join(home, "Downloads"), home} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if l, err := storage.ListerForURI(storage.NewFileURI(d)); err == nil {
				return l
			}
		}
	}
	return nil
}

// sizeOf words a size in bytes.
func sizeOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// exportDialog asks how to export the search's calls (every page, not only
// those loaded): a .zip file or a folder.
func (sv *searchView) exportDialog() {
	as := widget.NewRadioGroup([]string{"A .zip file", "A new folder"}, nil)
	as.SetSelected("A .zip file")
	what := "every call this search finds, not only those shown,"
	note := widget.NewLabel("Exports " + what + " with calls.csv and calls.json holding every detail.")
	note.Wrapping = fyne.TextWrapWord
	dialog.ShowCustomConfirm("Export the calls", "Choose where…", "Cancel", container.NewVBox(note, as), func(ok bool) {
		if !ok {
			return
		}
		name := "earshot-calls-" + sv.pw.c.opts.Now().In(sv.pw.c.opts.Location).Format("2006-01-02_15-04")
		if as.Selected == "A new folder" {
			d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
				if err != nil || dir == nil {
					return
				}
				sv.runExport(filepath.Join(dir.Path(), name))
			}, sv.pw.w)
			if dir := saveDir(); dir != nil {
				d.SetLocation(dir)
			}
			d.Resize(fyne.NewSize(600, 440))
			d.Show()
			return
		}
		d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil || w == nil {
				return
			}
			path := w.URI().Path()
			_ = w.Close()
			removeIfEmpty(path) // the export writes it whole, and never over a file
			if !strings.EqualFold(filepath.Ext(path), ".zip") {
				path += ".zip"
			}
			sv.runExport(path)
		}, sv.pw.w)
		d.SetFileName(name + ".zip")
		d.SetFilter(storage.NewExtensionFileFilter([]string{".zip"}))
		if dir := saveDir(); dir != nil {
			d.SetLocation(dir)
		}
		d.Resize(fyne.NewSize(600, 440))
		d.Show()
	}, sv.pw.w)
}

// runExport has the resident export the search to out, with progress.
func (sv *searchView) runExport(out string) {
	c := sv.pw.c
	q := sv.query
	q.Limit, q.Before = 0, ""
	ctx, cancel := context.WithCancel(c.parent())
	sv.stopExport = cancel
	sv.progress.SetValue(0)
	sv.progressRow.Show()
	sv.status.SetText("Exporting to " + out + "…")
	sv.showActions()
	c.ops.Add(1)
	go func() {
		defer c.ops.Done()
		defer cancel()
		res, err := c.opts.Past.Export(ctx, q, out, func(p ipc.Progress) {
			c.onUI(false, func() {
				if p.Total > 0 {
					sv.progress.SetValue(float64(p.Done) / float64(p.Total))
				}
				sv.status.SetText(fmt.Sprintf("Exporting to %s: %d of %d calls (%s)…", out, p.Done, p.Total, sizeOf(p.Bytes)))
			})
		})
		c.onUI(false, func() {
			sv.stopExport = nil
			sv.progressRow.Hide()
			sv.showActions()
			switch {
			case errors.Is(err, context.Canceled):
				sv.status.SetText("Export cancelled; nothing was written.")
			case err != nil:
				sv.status.SetText("The export failed: " + err.Error())
			default:
				sv.status.SetText(exportSummary(res))
			}
		})
	}()
}

// exportSummary says what an export wrote.
func exportSummary(r ipc.ExportResult) string {
	calls := fmt.Sprintf("%d calls", r.Calls)
	if r.Calls == 1 {
		calls = "1 call"
	}
	text := fmt.Sprintf("Exported %s (%s) to %s.", calls, sizeOf(r.Bytes), r.Out)
	if r.Failed > 0 {
		text += fmt.Sprintf(" %d could not be had (see calls.json).", r.Failed)
	}
	if r.Problem != "" {
		text += " " + r.Problem
	}
	return text
}

func (sv *searchView) bind(i widget.ListItemID, r *callRow) {
	if i >= len(sv.items) {
		return
	}
	it := sv.items[i]
	s := sv.pw.snap
	for _, h := range s.History {
		if h.Call.ID == it.entry.Call.ID {
			// What became of it here: played, held, its late transcript.
			it.entry = h
			break
		}
	}
	v := callRowView{call: it.entry.Call, title: titleOf(it.entry.Call, s.Directory), marks: marksOf(it.entry, s),
		playing: s.Call != nil && s.Call.ID == it.entry.Call.ID, chosen: i == sv.selected}
	r.showCall(v, it.day, sv.pw.c.times, sv.pw.c.opts.Location)
}

// resultList is the results: ↑ ↓ choose a result, Enter plays it, Ctrl+S
// saves it; the window's other shortcuts pass on.
type resultList struct {
	widget.List
	sv *searchView
}

func newResultList(sv *searchView) *resultList {
	l := &resultList{sv: sv}
	l.Length = func() int { return len(sv.items) }
	l.CreateItem = func() fyne.CanvasObject { return newCallRow() }
	l.UpdateItem = func(i widget.ListItemID, o fyne.CanvasObject) { sv.bind(i, o.(*callRow)) }
	l.OnSelected = func(i widget.ListItemID) {
		l.UnselectAll()
		if sv.selected != i {
			sv.choose(i)
		}
	}
	l.ExtendBaseWidget(l)
	return l
}

func (l *resultList) TypedKey(e *fyne.KeyEvent) {
	sv := l.sv
	switch e.Name {
	case fyne.KeyUp:
		sv.choose(max(0, sv.selected-1))
	case fyne.KeyDown:
		sv.choose(min(len(sv.results)-1, sv.selected+1))
	case fyne.KeyPageUp:
		sv.choose(max(0, sv.selected-8))
	case fyne.KeyPageDown:
		sv.choose(min(len(sv.results)-1, sv.selected+8))
	case fyne.KeyHome:
		sv.choose(0)
	case fyne.KeyEnd:
		sv.choose(len(sv.results) - 1)
	default:
		passKey(sv.pw, e, sv.playSelected, nil)
	}
}

func (l *resultList) TypedRune(r rune) { l.sv.pw.shortcutRune(r) }

// TypedShortcut takes Ctrl+S (save the chosen result).
func (l *resultList) TypedShortcut(s fyne.Shortcut) {
	if isSave(s) {
		l.sv.saveSelected()
	}
}

// isSave reports whether s is Ctrl+S (⌘S).
func isSave(s fyne.Shortcut) bool {
	cs, ok := s.(*desktop.CustomShortcut)
	return ok && cs.KeyName == fyne.KeyS && cs.Modifier == fyne.KeyModifierShortcutDefault
}
