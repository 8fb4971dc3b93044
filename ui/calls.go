package ui

import (
	"fmt"
	"image/color"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// A call as a row of the history and of search results, at least as
// informative at a glance as the OpenScanner listener's and rdio-scanner's:
// its LED colour, time, talkgroup, system and tag on the first line; what
// became of it (playing, alerts, a problem, not ticked, from the server's
// history), the unit and the transcript on the second. Days are told
// apart by a header row.

// callRowView is what a row shows of a call.
type callRowView struct {
	call    event.Call
	title   string // the talkgroup's name, from the current catalogue when there is one
	playing bool
	// chosen: the search result acted on (highlighted as the list's
	// selection was, but behind the call only, not its day's header).
	chosen bool
	marks  []callMark
}

// callMark is one thing said about a call beside it.
type callMark struct {
	text  string
	color fyne.ThemeColorName // "" is the foreground
}

// marksOf says what became of a history entry (h may be a bare call from
// further back, with only Call set), given the snapshot it is shown with.
func marksOf(h listening.HistoryEntry, s *listening.Snapshot) []callMark {
	var marks []callMark
	c := h.Call
	if s.Call != nil && s.Call.ID == c.ID {
		marks = append(marks, callMark{text: "now playing"})
	}
	for _, a := range c.Alerts {
		marks = append(marks, callMark{"alert: " + a.Rule, theme.ColorNameError})
	}
	if h.Priority && len(c.Alerts) == 0 {
		marks = append(marks, callMark{text: "priority"})
	}
	if h.Interrupted {
		marks = append(marks, callMark{text: "cut short by a priority call"})
	}
	if h.Problem != "" {
		marks = append(marks, callMark{h.Problem, theme.ColorNameError})
	}
	t := player.Talkgroup{SystemID: c.SystemID, TalkgroupID: c.TalkgroupID}
	switch {
	case !selected(s.Filter.Selection, t):
		marks = append(marks, callMark{text: "not ticked"})
	case h.Held == filter.ReasonNotSelected:
		marks = append(marks, callMark{text: "was not ticked"})
	case h.Held == "from the server's history" || c.Backfill:
		marks = append(marks, callMark{text: "backfilled"})
	case h.Held != "":
		marks = append(marks, callMark{text: h.Held})
	case h.Played && !(s.Call != nil && s.Call.ID == c.ID):
		marks = append(marks, callMark{text: "played"})
	}
	return marks
}

// titleOf names a call's talkgroup from the directory, else its labels.
func titleOf(c event.Call, d listening.Directory) string {
	if info, ok := d.Info[player.Talkgroup{SystemID: c.SystemID, TalkgroupID: c.TalkgroupID}]; ok {
		if info.Label != "" {
			return info.Label
		}
		if info.Name != "" {
			return info.Name
		}
	}
	return listening.CallTitle(c)
}

// callRow is the template of a row: a call, under the header of its day
// when it is the day's first.
type callRow struct {
	widget.BaseWidget
	day  *widget.Label
	bg   *canvas.Rectangle
	led  *canvas.Circle
	text *lineFit
	call fyne.CanvasObject
	box  *fyne.Container
}

func newCallRow() *callRow {
	r := &callRow{
		day:  widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		bg:   canvas.NewRectangle(color.Transparent),
		led:  canvas.NewCircle(colorLive),
		text: newLineFit(),
	}
	r.day.Truncation = fyne.TextTruncateEllipsis
	r.day.Hide()
	ledBox := container.NewCenter(container.NewGridWrap(fyne.NewSize(12, 12), r.led))
	r.call = container.NewStack(r.bg, container.NewBorder(nil, nil, container.NewPadded(ledBox), nil, r.text))
	r.box = container.NewVBox(r.day, r.call)
	r.ExtendBaseWidget(r)
	return r
}

func (r *callRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.box)
}

// lineFit is a RichText whose lines are cut to its width, each ending
// with "…" when cut, as it is laid out: Fyne's RichText does not truncate
// a line made of several inline segments (it drops the last words of one
// without a mark, and draws a long transcript past its edge, where a list
// clips it mid-word).
type lineFit struct {
	widget.RichText
	full  []widget.RichTextSegment // the lines in full
	fitTo float32                  // the width they were last cut to
}

func newLineFit(segs ...widget.RichTextSegment) *lineFit {
	t := &lineFit{full: segs}
	t.Segments = segs
	t.Scroll = container.ScrollNone // as widget.NewRichText sets it
	t.Truncation = fyne.TextTruncateEllipsis
	t.ExtendBaseWidget(t)
	return t
}

// setLines shows segs (text segments; a line ends at one that is not
// inline), cut to the width.
func (t *lineFit) setLines(segs []widget.RichTextSegment) {
	t.full, t.fitTo = segs, 0
	t.Segments = segs
	if !t.fit(t.Size().Width) {
		t.Refresh()
	}
}

// Resize lays the text out at s, its lines cut to the new width.
func (t *lineFit) Resize(s fyne.Size) {
	t.RichText.Resize(s)
	t.fit(s.Width)
}

// fit cuts the lines to width; it reports whether it did (and refreshed).
func (t *lineFit) fit(width float32) bool {
	width -= 2 * theme.InnerPadding()
	if width <= 0 || width == t.fitTo {
		return false
	}
	t.fitTo = width
	// A little short of the edge: RichText rounds the room it has down to
	// whole pixels, and cuts again (without a mark) what does not fit it.
	t.Segments = fitLines(t.full, width-fitSlack, theme.TextSize())
	t.Refresh()
	return true
}

// fitSlack is how far short of the edge fit cuts a line.
const fitSlack = 2

// ellipsis ends a line cut short.
const ellipsis = "…"

// fitLines returns segs (text segments; a line ends at one that is not
// inline) with each line cut to width at text size size: the segment that
// crosses the edge is cut and ends with "…", and the line's later
// segments are left out.
func fitLines(segs []widget.RichTextSegment, width, size float32) []widget.RichTextSegment {
	out := make([]widget.RichTextSegment, 0, len(segs))
	x, cut := float32(0), false
	for _, seg := range segs {
		ts, ok := seg.(*widget.TextSegment)
		if !ok {
			out = append(out, seg)
			continue
		}
		endsLine := !ts.Style.Inline
		if !cut {
			w := fyne.MeasureText(ts.Text, size, ts.Style.TextStyle).Width
			if x+w <= width {
				out = append(out, ts)
				x += w
			} else {
				short := *ts
				short.Text = fitText(ts.Text, width-x, size, ts.Style.TextStyle)
				short.Style.Inline = false
				out = append(out, &short)
				cut = true
			}
		}
		if endsLine {
			x, cut = 0, false
		}
	}
	return out
}

// rowHeights are a call row's height without and with a day header.
func rowHeights() (plain, withDay float32) {
	r := newCallRow()
	r.showCall(callRowView{call: event.Call{Transcript: "x"}, title: "x"}, "", timeFormats{}, time.UTC)
	plain = r.MinSize().Height
	r.day.Show()
	return plain, r.MinSize().Height
}

// showCall shows a call, under day (a header) unless it is "".
func (r *callRow) showCall(v callRowView, day string, times timeFormats, loc *time.Location) {
	if day != "" {
		r.day.SetText(day)
		r.day.Show()
	} else {
		r.day.Hide()
	}
	c := v.call
	if led, ok := listening.ParseLED(c.LEDColor); ok {
		r.led.FillColor = led
	} else {
		r.led.FillColor = colorLive
	}
	r.led.Refresh()
	if v.playing || v.chosen {
		r.bg.FillColor = theme.Color(theme.ColorNameSelection)
	} else {
		r.bg.FillColor = color.Transparent
	}
	r.bg.Refresh()
	r.text.setLines(callSegments(v, times, loc))
	r.box.Refresh() // the day header came or went
}

// callSegments are a call's two lines.
func callSegments(v callRowView, times timeFormats, loc *time.Location) []widget.RichTextSegment {
	c := v.call
	inline := func(text string, style fyne.TextStyle, col fyne.ThemeColorName) *widget.TextSegment {
		return &widget.TextSegment{Text: text, Style: widget.RichTextStyle{Inline: true, TextStyle: style, ColorName: col,
			SizeName: theme.SizeNameText}}
	}
	end := func(s *widget.TextSegment) *widget.TextSegment { s.Style.Inline = false; return s }
	first := []string{}
	sys := c.SystemLabel
	if sys == "" {
		sys = fmt.Sprintf("system %d", c.SystemID)
	}
	first = append(first, sys)
	if c.TalkgroupName != "" && c.TalkgroupName != c.TalkgroupLabel && c.TalkgroupName != v.title {
		first = append(first, c.TalkgroupName)
	}
	if c.TalkgroupTag != "" {
		first = append(first, c.TalkgroupTag)
	}
	segs := []widget.RichTextSegment{
		inline(times.Clock(time.Unix(c.DateTime, 0).In(loc))+"   ", fyne.TextStyle{Monospace: true}, ""),
		inline(v.title, fyne.TextStyle{Bold: true}, ""),
		end(inline("  ·  "+strings.Join(first, " · "), fyne.TextStyle{}, "")),
	}
	var second []widget.RichTextSegment
	for _, m := range v.marks {
		second = append(second, inline(m.text, fyne.TextStyle{Bold: true}, m.color), inline("  ", fyne.TextStyle{}, ""))
	}
	var details []string
	switch {
	case c.TalkerAlias != "":
		details = append(details, c.TalkerAlias)
	case c.Source != 0:
		details = append(details, fmt.Sprintf("unit %d", c.Source))
	}
	if c.Duration > 0 {
		details = append(details, fmt.Sprintf("%.0f s", max(1, c.Duration)))
	}
	if len(details) > 0 {
		second = append(second, inline(strings.Join(details, " · ")+"  ", fyne.TextStyle{}, ""))
	}
	if c.Transcript != "" {
		second = append(second, inline("“"+c.Transcript+"”", fyne.TextStyle{Italic: true}, ""))
	}
	if len(second) == 0 {
		second = append(second, inline(" ", fyne.TextStyle{}, ""))
	}
	last := second[len(second)-1].(*widget.TextSegment)
	end(last)
	return append(segs, second...)
}

// dayHeader names a day for the rows under it: "Today", "Yesterday", or
// its date.
func dayHeader(t, now time.Time, times timeFormats) string {
	now = now.In(t.Location())
	switch {
	case sameDay(t, now):
		return "Today — " + times.Day(t, now)
	case sameDay(t, now.AddDate(0, 0, -1)):
		return "Yesterday — " + times.Day(t, now)
	}
	return times.Day(t, now)
}

// callListItem is one item of a list of calls.
type callListItem struct {
	day   string // the header of its day above it, when it is the day's first call
	entry listening.HistoryEntry
}

// withDays gives the first call of each day its day's header (calls
// newest first).
func withDays(entries []listening.HistoryEntry, now time.Time, loc *time.Location, times timeFormats) []callListItem {
	out := make([]callListItem, 0, len(entries))
	var last time.Time
	for i, h := range entries {
		at := time.Unix(h.Call.DateTime, 0).In(loc)
		it := callListItem{entry: h}
		if i == 0 || !sameDay(at, last) {
			it.day = dayHeader(at, now, times)
		}
		last = at
		out = append(out, it)
	}
	return out
}

// setRowHeights gives the rows with a day header their room.
func setRowHeights(l *widget.List, items []callListItem) {
	plain, withDay := rowHeights()
	for i, it := range items {
		if it.day != "" {
			l.SetItemHeight(i, withDay)
		} else {
			l.SetItemHeight(i, plain)
		}
	}
}

// fitText is text, or as much of it as fits width followed by "…".
func fitText(text string, width, size float32, style fyne.TextStyle) string {
	if fyne.MeasureText(text, size, style).Width <= width {
		return text
	}
	runes := []rune(text)
	cut := func(n int) string { return strings.TrimRight(string(runes[:n]), " ·(—") + ellipsis }
	n := sort.Search(len(runes)+1, func(n int) bool { return fyne.MeasureText(cut(n), size, style).Width > width }) - 1
	return cut(max(n, 0))
}
