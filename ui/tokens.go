package ui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/server"
	"earshot/relay/tokens"
	"earshot/ui/ipc"
)

// TokenFeed follows the token registry live: tokens made by the CLI or by
// Copy stream URL appear, revoked and rotated ones change, uses show
// (*ipc.Client implements it).
type TokenFeed interface {
	// WatchTokens starts (or stops) sending the list after every change.
	WatchTokens(on bool)
	// OnTokens sets what receives the list.
	OnTokens(func([]tokens.Info))
}

var _ TokenFeed = (*ipc.Client)(nil)

// tokensView is the token window's content: every token, each on two
// lines (its name, scope and status; when it was made, when it expires,
// when and by what it was last used) that never run under the Rotate and
// Revoke buttons, following the registry live.
type tokensView struct {
	c       *Controller
	w       fyne.Window
	list    []tokens.Info
	table   *widget.List
	status  *widget.Label
	content fyne.CanvasObject
	pending sync.WaitGroup // operations in flight (tests wait on it)
}

// How long an old token keeps working after a rotation.
var (
	graceOrder   = []string{"at once", "after 10 minutes", "after 1 hour", "after 1 day"}
	graceChoices = map[string]time.Duration{"at once": 0, "after 10 minutes": 10 * time.Minute, "after 1 hour": time.Hour, "after 1 day": 24 * time.Hour}
)

func (c *Controller) newTokensView(w fyne.Window) *tokensView {
	tv := &tokensView{c: c, w: w, status: widget.NewLabel("")}
	tv.table = widget.NewList(
		func() int { return len(tv.list) },
		func() fyne.CanvasObject {
			// Two lines, so the template (and every row) is tall enough.
			text := widget.NewRichText(&widget.TextSegment{Text: "name", Style: widget.RichTextStyleParagraph},
				&widget.TextSegment{Text: "used", Style: widget.RichTextStyleParagraph})
			text.Truncation = fyne.TextTruncateEllipsis
			status := widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
			buttons := container.NewHBox(status, widget.NewButton("Rotate", nil), widget.NewButton("Revoke", nil))
			return container.NewBorder(nil, nil, nil, container.NewCenter(buttons), text)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { tv.bind(i, o.(*fyne.Container)) })
	create := widget.NewButtonWithIcon("Create token…", theme.ContentAddIcon(), tv.createDialog)
	create.Importance = widget.HighImportance
	rotateAll := widget.NewButton("Rotate all…", tv.rotateAllDialog)
	rotateAll.Importance = widget.DangerImportance
	tv.content = container.NewBorder(container.NewHBox(create, rotateAll), tv.status, nil, nil, tv.table)
	return tv
}

// tokenLines are a token's two lines: what it is, and its history.
func (tv *tokensView) tokenLines(t tokens.Info) []widget.RichTextSegment {
	now := tv.c.opts.Now()
	when := func(at time.Time) string { return tv.when(at) }
	expires, used := "never expires", "never used"
	if t.Expires != nil {
		expires = "expires " + when(*t.Expires)
		if !now.Before(*t.Expires) {
			expires = "expired " + when(*t.Expires)
		}
	}
	if t.LastUsed != nil {
		used = "used " + when(*t.LastUsed)
		if by := t.UsedBy(); by != "" {
			used += " by " + by
		}
	}
	seg := func(text string, style fyne.TextStyle, inline bool) *widget.TextSegment {
		return &widget.TextSegment{Text: text, Style: widget.RichTextStyle{Inline: inline, TextStyle: style, SizeName: theme.SizeNameText}}
	}
	return []widget.RichTextSegment{
		seg(t.Name, fyne.TextStyle{Bold: true}, true),
		seg("  ·  "+t.Scope+" · made "+tv.day(t.Created), fyne.TextStyle{}, false),
		seg(expires+" · "+used, fyne.TextStyle{}, false),
	}
}

// when is a moment for a token's row: the time alone today, else its
// day too.
func (tv *tokensView) when(at time.Time) string {
	now := tv.c.opts.Now()
	at = at.Local()
	if sameDay(at, now.Local()) {
		return "today " + tv.c.times.Short(at)
	}
	return tv.c.times.Day(at, now) + " " + tv.c.times.Short(at)
}

// day is a day for a token's row: "today", or its date.
func (tv *tokensView) day(at time.Time) string {
	now := tv.c.opts.Now()
	if sameDay(at.Local(), now.Local()) {
		return "today"
	}
	return tv.c.times.Day(at.Local(), now)
}

// statusOf is a token's status in a word or two: active, revoked,
// expired, rotated out, or when a rotated-out token stops.
func (tv *tokensView) statusOf(t tokens.Info) string {
	now := tv.c.opts.Now()
	if st := t.Status(now); st != "active" && t.RetiresAt != nil && now.Before(*t.RetiresAt) && !t.Revoked {
		return "stops " + tv.when(*t.RetiresAt)
	}
	return t.Status(now)
}

// tokenLine is a token's row as one line of text: its lines and status.
func (tv *tokensView) tokenLine(t tokens.Info) string {
	var s string
	for _, seg := range tv.tokenLines(t) {
		s += seg.(*widget.TextSegment).Text
		if !seg.Inline() {
			s += " · "
		}
	}
	return s + tv.statusOf(t)
}

func (tv *tokensView) bind(i widget.ListItemID, row *fyne.Container) {
	if i >= len(tv.list) {
		return
	}
	t := tv.list[i]
	for _, o := range row.Objects {
		switch x := o.(type) {
		case *widget.RichText:
			x.Segments = tv.tokenLines(t)
			x.Refresh()
		case *fyne.Container:
			buttons := x.Objects[0].(*fyne.Container)
			status := buttons.Objects[0].(*widget.Label)
			rotate, revoke := buttons.Objects[1].(*widget.Button), buttons.Objects[2].(*widget.Button)
			status.SetText(tv.statusOf(t))
			if status.Text == "active" {
				status.Importance = widget.MediumImportance
			} else {
				status.Importance = widget.DangerImportance
			}
			status.Refresh()
			rotate.OnTapped = func() { tv.rotateDialog(t) }
			revoke.OnTapped = func() { tv.revokeDialog(t) }
			usable := t.Status(tv.c.opts.Now()) == "active" || t.RetiresAt != nil && tv.c.opts.Now().Before(*t.RetiresAt)
			enable(revoke, usable)
			enable(rotate, usable && t.RetiresAt == nil)
		}
	}
}

// show shows list (the registry now).
func (tv *tokensView) show(list []tokens.Info) {
	tv.list = list
	tv.table.Refresh()
	tv.status.SetText(tokenCount(list, tv.c.opts.Now()))
}

// tokenCount says how many tokens there are, and how many work (a
// rotated-out one until its grace ends).
func tokenCount(list []tokens.Info, now time.Time) string {
	active := 0
	for _, t := range list {
		if st := t.Status(now); st == "active" || !t.Revoked && t.RetiresAt != nil && now.Before(*t.RetiresAt) && st != "expired" {
			active++
		}
	}
	switch {
	case len(list) == 1:
		return "1 token"
	case active == len(list):
		return fmt.Sprintf("%d tokens", len(list))
	}
	return fmt.Sprintf("%d tokens, %d working", len(list), active)
}

// reload fetches the token list.
func (tv *tokensView) reload() { tv.reloadAfter("") }

// reloadAfter fetches the token list; failure, if not "", is why the
// operation before it failed, and stays on show beside the count.
func (tv *tokensView) reloadAfter(failure string) {
	ops := tv.c.opts.Tokens
	if ops == nil {
		tv.status.SetText("Token management is not available.")
		return
	}
	tv.pending.Add(1)
	tv.c.ops.Add(1)
	go func() {
		defer tv.c.ops.Done()
		defer tv.pending.Done()
		ctx, cancel := context.WithTimeout(tv.c.parent(), 10*time.Second)
		defer cancel()
		list, err := ops.List(ctx)
		tv.c.onUI(true, func() {
			if err != nil {
				msg := "Could not list the tokens: " + err.Error()
				if failure != "" {
					msg = failure + " — " + msg
				}
				tv.status.SetText(msg)
				return
			}
			tv.show(list)
			count := tokenCount(list, tv.c.opts.Now())
			if failure != "" {
				count = failure + " (" + count + ")"
			}
			tv.status.SetText(count)
		})
	}()
}

// run does a token operation off the UI goroutine, then reloads.
func (tv *tokensView) run(what string, op func(ctx context.Context) error) {
	tv.pending.Add(1)
	tv.c.ops.Add(1)
	go func() {
		defer tv.c.ops.Done()
		defer tv.pending.Done()
		ctx, cancel := context.WithTimeout(tv.c.parent(), 10*time.Second)
		defer cancel()
		err := op(ctx)
		tv.c.onUI(true, func() {
			failure := ""
			if err != nil {
				failure = "Could not " + what + ": " + err.Error()
				tv.status.SetText(failure)
			}
			tv.reloadAfter(failure)
		})
	}()
}

func (tv *tokensView) createDialog() {
	name := widget.NewEntry()
	name.SetPlaceHolder("what it is for, e.g. OBS")
	scope := widget.NewRadioGroup([]string{tokens.ScopeListen, tokens.ScopeControl}, nil)
	scope.SetSelected(tokens.ScopeListen)
	scope.Horizontal = true
	expires := widget.NewSelect([]string{"never", "1 day", "30 days", "1 year"}, nil)
	expires.SetSelected("never")
	ttl := map[string]time.Duration{"never": 0, "1 day": 24 * time.Hour, "30 days": 720 * time.Hour, "1 year": 8760 * time.Hour}
	scopeNote := widget.NewLabel("listen: hear the feed and audio; control: also manage tokens")
	scopeNote.Wrapping = fyne.TextWrapWord
	d := dialog.NewForm("Create a stream token", "Create", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Scope", scope),
		widget.NewFormItem("", scopeNote),
		widget.NewFormItem("Expires", expires),
	}, func(ok bool) {
		if !ok {
			return
		}
		n, s, d := name.Text, scope.Selected, ttl[expires.Selected]
		tv.run("create the token", func(ctx context.Context) error {
			tok, info, err := tv.c.opts.Tokens.Create(ctx, n, s, d)
			if err == nil {
				tv.c.onUI(false, func() { tv.showIssued(tok, info) })
			}
			return err
		})
	}, tv.w)
	// Wide enough for the name's hint and the scope's note.
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
	tv.w.Canvas().Focus(name)
}

// IssuedURLs are the ready-to-paste URLs for a new token, as the CLI
// prints them.
func IssuedURLs(base, token string) [][2]string {
	rows := [][2]string{{"Token", token}}
	for _, l := range server.Links(base, token) {
		rows = append(rows, [2]string{l.Name, l.URL})
	}
	return rows
}

// copiedFor is how long a Copy button says "Copied".
const copiedFor = 2 * time.Second

// copyButton copies value and says so on itself for a moment.
func (c *Controller) copyButton(value string) *widget.Button {
	var b *widget.Button
	b = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		c.copyText(value)
		b.SetText("Copied")
		b.SetIcon(theme.ConfirmIcon())
		c.later(copiedFor, func() {
			b.SetText("Copy")
			b.SetIcon(theme.ContentCopyIcon())
		})
	})
	return b
}

// showIssued shows a new token once, with copy buttons.
func (tv *tokensView) showIssued(token string, info tokens.Info) {
	intro := widget.NewLabel(fmt.Sprintf("Token %s (%s, %s) is shown only this once: copy what you need now.", info.ID, info.Name, info.Scope))
	intro.Wrapping = fyne.TextWrapWord
	rows := container.NewVBox(intro)
	labels := container.NewVBox()
	for _, kv := range IssuedURLs(tv.c.opts.Tokens.BaseURL(), token) {
		entry := widget.NewEntry()
		entry.SetText(kv[1])
		value := kv[1]
		entry.OnChanged = func(s string) { // selectable, not editable
			if s != value {
				entry.SetText(value)
			}
		}
		label := widget.NewLabel(kv[0])
		labels.Add(label)
		rows.Add(container.NewBorder(nil, nil, label, tv.c.copyButton(value), entry))
	}
	d := dialog.NewCustom("New stream token", "Done", container.NewVScroll(rows), tv.w)
	d.Resize(fyne.NewSize(760, 440))
	d.Show()
}

func (tv *tokensView) revokeDialog(t tokens.Info) {
	dialog.ShowConfirm("Revoke "+t.Name+"?",
		"Programs using this token stop at once, open connections included.", func(ok bool) {
			if ok {
				tv.run("revoke the token", func(ctx context.Context) error { return tv.c.opts.Tokens.Revoke(ctx, t.ID) })
			}
		}, tv.w)
}

func (tv *tokensView) rotateDialog(t tokens.Info) {
	grace := widget.NewSelect(graceOrder, nil)
	grace.SetSelected("after 10 minutes")
	note := widget.NewLabel("A new token replaces it, shown once. Programs using the old token must be given the new one before the old one stops.")
	note.Wrapping = fyne.TextWrapWord
	d := dialog.NewForm("Rotate "+t.Name+"?", "Rotate", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Old token stops", grace),
		widget.NewFormItem("", note),
	}, func(ok bool) {
		if !ok {
			return
		}
		g := graceChoices[grace.Selected]
		tv.run("rotate the token", func(ctx context.Context) error {
			tok, info, err := tv.c.opts.Tokens.Rotate(ctx, t.ID, g)
			if err == nil {
				tv.c.onUI(false, func() { tv.showIssued(tok, info) })
			}
			return err
		})
	}, tv.w)
	d.Resize(fyne.NewSize(520, 260))
	d.Show()
}

func (tv *tokensView) rotateAllDialog() {
	grace := widget.NewSelect(graceOrder, nil)
	grace.SetSelected("at once")
	note := widget.NewLabel("Every token is replaced by a new signing key: every program using a token stops when the old tokens do, and needs a new token.")
	note.Wrapping = fyne.TextWrapWord
	d := dialog.NewForm("Rotate all tokens?", "Rotate all", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Old tokens stop", grace),
		widget.NewFormItem("", note),
	}, func(ok bool) {
		if !ok {
			return
		}
		g := graceChoices[grace.Selected]
		tv.run("rotate all tokens", func(ctx context.Context) error { return tv.c.opts.Tokens.RotateAll(ctx, g) })
	}, tv.w)
	d.Resize(fyne.NewSize(520, 260))
	d.Show()
}

// ShowTokens shows the token window, following the registry live.
func (c *Controller) ShowTokens() {
	if c.tokens != nil {
		c.tokens.Show()
		c.tokens.RequestFocus()
		return
	}
	w := c.app.NewWindow("Earshot — stream tokens")
	tv := c.newTokensView(w)
	w.SetContent(container.NewPadded(tv.content))
	w.Resize(fyne.NewSize(820, 420))
	feed := c.opts.TokenFeed
	c.windowOpened(w, func() {
		c.tokens, c.tokensView = nil, nil
		if feed != nil {
			feed.WatchTokens(false)
			feed.OnTokens(nil)
		}
	})
	c.tokens, c.tokensView = w, tv
	if feed != nil {
		feed.OnTokens(func(list []tokens.Info) {
			c.onUI(false, func() {
				if c.tokens == w {
					tv.show(list)
				}
			})
		})
		feed.WatchTokens(true)
	}
	tv.reload()
	w.Show()
}
