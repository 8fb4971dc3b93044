package ui

import (
	"context"
	"errors"
	"fmt"

	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"earshot/relay/server"
	"earshot/relay/tokens"
	"earshot/ui/ipc"
)

// signInForm is the sign-in window's content, separate from the window so
// tests can drive it.
type signInForm struct {
	server, user, password *widget.Entry
	remember               *widget.Check
	submit                 *widget.Button
	message                *widget.Label
	content                fyne.CanvasObject
	pending                sync.WaitGroup // sign-ins in flight (tests wait on it)
}

// SignInMessage words a sign-in failure for the person at the window:
// what happened and what to do. The resident classified it (ipc.Error's
// Kind), so the window needs nothing from the relay's packages.
func SignInMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *ipc.Error
	if !errors.As(err, &e) {
		return "Sign-in failed: " + err.Error()
	}
	switch e.Kind {
	case ipc.KindNeedsAccount:
		return "This server has no public access: enter your user name and password."
	case ipc.KindCredentials:
		return "The server refused this user name or password. Check them and try again (after 3 failures the server locks sign-in for 10 minutes)."
	case ipc.KindRateLimited:
		return "Too many failed sign-ins: the server refuses sign-ins for a while. Wait 10 minutes, then try again."
	case ipc.KindNotOpenScanner:
		return "This address does not answer like an OpenScanner server. Check the URL (e.g. https://scanner.example.org)."
	case ipc.KindTLSUntrusted:
		return "The server's TLS certificate is not trusted by this computer. Check the address, or ask the server's operator."
	case ipc.KindNotHTTPS:
		return "The server does not speak HTTPS at this address. Try http:// instead, or check the port."
	case ipc.KindUnreachable:
		return "The server cannot be reached. Check the address and your network connection."
	}
	return "Sign-in failed: " + e.Message
}

func (c *Controller) newSignInForm(onDone func()) *signInForm {
	f := &signInForm{
		server:   widget.NewEntry(),
		user:     widget.NewEntry(),
		password: widget.NewPasswordEntry(),
		remember: widget.NewCheck("Remember password (in the system keyring)", nil),
		message:  widget.NewLabel(""),
	}
	f.server.SetPlaceHolder("https://scanner.example.org")
	f.user.SetPlaceHolder("leave empty for a public-access server")
	f.message.Wrapping = fyne.TextWrapWord
	if c.opts.Accounts != nil {
		server, user := c.opts.Accounts.Account()
		f.server.SetText(server)
		f.user.SetText(user)
	}
	f.submit = widget.NewButton("Sign in", func() {
		server, user, pw, remember := strings.TrimSpace(f.server.Text), strings.TrimSpace(f.user.Text), f.password.Text, f.remember.Checked
		if server == "" {
			f.message.SetText("Enter the server's address, e.g. https://scanner.example.org.")
			return
		}
		if user != "" && pw == "" {
			f.message.SetText("Enter the password, or leave the user name empty for a public-access server.")
			return
		}
		f.submit.Disable()
		f.message.SetText("Signing in…")
		f.pending.Add(1)
		c.ops.Add(1)
		go func() {
			defer c.ops.Done()
			defer f.pending.Done()
			ctx, cancel := context.WithTimeout(c.parent(), 30*time.Second)
			defer cancel()
			err := c.signIn(ctx, server, user, pw, remember)
			c.onUI(true, func() {
				f.submit.Enable()
				if err != nil {
					f.message.SetText(SignInMessage(err))
					return
				}
				f.password.SetText("")
				f.message.SetText("Signed in.")
				if onDone != nil {
					onDone()
				}
				c.refreshLocked()
			})
		}()
	})
	f.submit.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem("Server", f.server),
		widget.NewFormItem("User name", f.user),
		widget.NewFormItem("Password", f.password),
	)
	f.content = container.NewVBox(form, f.remember, f.submit, f.message)
	return f
}

// signIn checks the server first: a public-access server needs no account.
func (c *Controller) signIn(ctx context.Context, server, user, pw string, remember bool) error {
	if c.opts.Accounts == nil {
		return errors.New("signing in is not available")
	}
	public, err := c.opts.Accounts.Probe(ctx, server)
	if err != nil {
		return err
	}
	if user == "" && !public {
		return &ipc.Error{Kind: ipc.KindNeedsAccount, Message: "this server has no public access; a user name and password are needed"}
	}
	return c.opts.Accounts.SignIn(ctx, server, user, pw, remember)
}

// ShowSignIn shows the sign-in window.
func (c *Controller) ShowSignIn() {
	if c.signin != nil {
		c.signin.Show()
		c.signin.RequestFocus()
		return
	}
	w := c.app.NewWindow("Sign in to OpenScanner")
	f := c.newSignInForm(func() { w.Close() })
	w.SetContent(container.NewPadded(f.content))
	w.Resize(fyne.NewSize(480, 300))
	c.windowOpened(w, func() { c.signin = nil })
	c.signin = w
	w.Show()
}

// tokensView is the token window's content.
type tokensView struct {
	c       *Controller
	w       fyne.Window
	list    []tokens.Info
	table   *widget.List
	status  *widget.Label
	content fyne.CanvasObject
	pending sync.WaitGroup // operations in flight (tests wait on it)
}

var graceChoices = map[string]time.Duration{"now": 0, "10 minutes": 10 * time.Minute, "1 hour": time.Hour, "1 day": 24 * time.Hour}
var graceOrder = []string{"now", "10 minutes", "1 hour", "1 day"}

func (c *Controller) newTokensView(w fyne.Window) *tokensView {
	tv := &tokensView{c: c, w: w, status: widget.NewLabel("")}
	tv.table = widget.NewList(
		func() int { return len(tv.list) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil,
				container.NewHBox(widget.NewButton("Rotate", nil), widget.NewButton("Revoke", nil)),
				widget.NewLabel("name · scope · created · expires · last used · status"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { tv.bind(i, o.(*fyne.Container)) })
	create := widget.NewButton("Create token…", tv.createDialog)
	create.Importance = widget.HighImportance
	rotateAll := widget.NewButton("Rotate all…", tv.rotateAllDialog)
	rotateAll.Importance = widget.DangerImportance
	tv.content = container.NewBorder(container.NewHBox(create, rotateAll), tv.status, nil, nil, tv.table)
	return tv
}

func tokenLine(t tokens.Info, now time.Time) string {
	expires, used := "never expires", "never used"
	if t.Expires != nil {
		expires = "expires " + t.Expires.Local().Format("2006-01-02 15:04")
	}
	if t.LastUsed != nil {
		used = "used " + t.LastUsed.Local().Format("2006-01-02 15:04")
		if by := t.UsedBy(); by != "" {
			used += " by " + by
		}
	}
	return fmt.Sprintf("%s · %s · created %s · %s · %s · %s", t.Name, t.Scope, t.Created.Local().Format("2006-01-02"), expires, used, t.Status(now))
}

func (tv *tokensView) bind(i widget.ListItemID, row *fyne.Container) {
	if i >= len(tv.list) {
		return
	}
	t := tv.list[i]
	for _, o := range row.Objects {
		switch x := o.(type) {
		case *widget.Label:
			x.SetText(tokenLine(t, tv.c.opts.Now()))
		case *fyne.Container:
			rotate, revoke := x.Objects[0].(*widget.Button), x.Objects[1].(*widget.Button)
			rotate.OnTapped = func() { tv.rotateDialog(t) }
			revoke.OnTapped = func() { tv.revokeDialog(t) }
			if t.Status(tv.c.opts.Now()) != "active" {
				rotate.Disable()
				revoke.Disable()
			} else {
				rotate.Enable()
				revoke.Enable()
			}
		}
	}
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
	say := func(s string) {
		if failure != "" {
			s = failure + " (" + s + ")"
		}
		tv.status.SetText(s)
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
			tv.list = list
			if len(list) == 1 {
				say("1 token")
			} else {
				say(fmt.Sprintf("%d tokens", len(list)))
			}
			tv.table.Refresh()
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
	expires := widget.NewSelect([]string{"never", "1 day", "30 days", "1 year"}, nil)
	expires.SetSelected("never")
	ttl := map[string]time.Duration{"never": 0, "1 day": 24 * time.Hour, "30 days": 720 * time.Hour, "1 year": 8760 * time.Hour}
	dialog.ShowForm("Create a stream token", "Create", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Scope", scope),
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

// showIssued shows a new token once, with copy buttons.
func (tv *tokensView) showIssued(token string, info tokens.Info) {
	rows := container.NewVBox(widget.NewLabel(fmt.Sprintf("Token %s (%s, %s) is shown only once:", info.ID, info.Name, info.Scope)))
	for _, kv := range IssuedURLs(tv.c.opts.Tokens.BaseURL(), token) {
		value := kv[1]
		entry := widget.NewEntry()
		entry.SetText(value)
		entry.Disable()
		copyBtn := widget.NewButton("Copy", func() { tv.c.copyText(value) })
		rows.Add(container.NewBorder(nil, nil, widget.NewLabel(kv[0]), copyBtn, entry))
	}
	d := dialog.NewCustom("New stream token", "Done", rows, tv.w)
	d.Resize(fyne.NewSize(720, 320))
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
	grace.SetSelected("10 minutes")
	dialog.ShowForm("Rotate "+t.Name+"?", "Rotate", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Old token works for", grace),
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
}

func (tv *tokensView) rotateAllDialog() {
	grace := widget.NewSelect(graceOrder, nil)
	grace.SetSelected("now")
	dialog.ShowForm("Rotate all tokens?", "Rotate all", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Old tokens work for", grace),
		widget.NewFormItem("", widget.NewLabel("Every program using a token stops after this.")),
	}, func(ok bool) {
		if !ok {
			return
		}
		g := graceChoices[grace.Selected]
		tv.run("rotate all tokens", func(ctx context.Context) error { return tv.c.opts.Tokens.RotateAll(ctx, g) })
	}, tv.w)
}

// ShowTokens shows the token window.
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
	c.windowOpened(w, func() { c.tokens = nil })
	c.tokens = w
	tv.reload()
	w.Show()
}
