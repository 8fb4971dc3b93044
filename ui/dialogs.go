package ui

import (
	"context"
	"errors"

	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

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
