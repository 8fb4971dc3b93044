package ui

import (
	"context"
	"errors"
	"net"
	"net/url"

	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"earshot/ui/ipc"
)

// signInForm is the sign-in window's content, separate from the window so
// tests can drive it.
type signInForm struct {
	c                      *Controller
	onDone                 func()
	server, user, password *widget.Entry
	remember               *widget.Check
	submit                 *widget.Button
	message                *widget.Label
	content                fyne.CanvasObject
	pending                sync.WaitGroup // sign-ins in flight (tests wait on it)
	// confirm asks a yes/no question (a dialog over the sign-in window).
	confirm func(title, message string, then func(bool))
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
		c:        c,
		onDone:   onDone,
		server:   widget.NewEntry(),
		user:     widget.NewEntry(),
		password: widget.NewPasswordEntry(),
		remember: widget.NewCheck("Remember password (in the system keyring)", nil),
		message:  widget.NewLabel(""),
		confirm:  func(_, _ string, then func(bool)) { then(false) },
	}
	f.server.SetPlaceHolder("scanner.example.org or https://…")
	f.user.SetPlaceHolder("leave empty for a public-access server")
	f.message.Wrapping = fyne.TextWrapWord
	if c.opts.Accounts != nil {
		// The account signed in to, or after a sign-out the last one.
		server, user := c.opts.Accounts.Account()
		f.server.SetText(server)
		f.user.SetText(user)
	}
	f.submit = widget.NewButton("Sign in", f.start)
	f.submit.Importance = widget.HighImportance
	// Enter in any field signs in, as in a browser's login form.
	for _, e := range []*widget.Entry{f.server, f.user, f.password} {
		e.OnSubmitted = func(string) {
			if !f.submit.Disabled() {
				f.start()
			}
		}
	}
	form := widget.NewForm(
		widget.NewFormItem("Server", f.server),
		widget.NewFormItem("User name", f.user),
		widget.NewFormItem("Password", f.password),
	)
	f.content = container.NewVBox(form, f.remember, f.submit, f.message)
	return f
}

// start checks the form, finds the server (an address without a scheme is
// tried as https://, then http://, as a browser does), asks before a
// password would cross the network unencrypted, and signs in.
func (f *signInForm) start() {
	c := f.c
	server, user, pw, remember := strings.TrimSpace(f.server.Text), strings.TrimSpace(f.user.Text), f.password.Text, f.remember.Checked
	switch {
	case server == "":
		f.message.SetText("Enter the server's address, e.g. scanner.example.org or https://scanner.example.org.")
		return
	case user != "" && pw == "":
		f.message.SetText("Enter the password, or leave the user name empty for a public-access server.")
		return
	case c.opts.Accounts == nil:
		f.message.SetText("Signing in is not available.")
		return
	}
	f.submit.Disable()
	f.message.SetText("Looking for the server…")
	f.pending.Add(1)
	c.ops.Add(1)
	go func() {
		defer c.ops.Done()
		defer f.pending.Done()
		ctx, cancel := context.WithTimeout(c.parent(), 30*time.Second)
		defer cancel()
		found, public, note, err := FindServer(ctx, c.opts.Accounts, server)
		if err == nil && user == "" && !public {
			err = &ipc.Error{Kind: ipc.KindNeedsAccount, Message: "this server has no public access; a user name and password are needed"}
		}
		c.onUI(true, func() {
			if err != nil {
				f.submit.Enable()
				f.message.SetText(SignInMessage(err))
				return
			}
			f.server.SetText(found)
			if user != "" && !privateTransport(found) {
				f.message.SetText(note)
				f.confirm("Send the password unencrypted?",
					hostOf(found)+" answers only over http://: the password would cross the network unencrypted, "+
						"readable by anyone on the way. Sign in anyway?", func(ok bool) {
						if !ok {
							f.submit.Enable()
							f.message.SetText("Not signed in. Ask the server's operator for https://, or sign in from the server's own network.")
							return
						}
						f.signIn(found, user, pw, remember, note)
					})
				return
			}
			f.signIn(found, user, pw, remember, note)
		})
	}()
}

// signIn signs in to server (found) and says how it went; note says how
// the server was found. Call it on the UI goroutine.
func (f *signInForm) signIn(server, user, pw string, remember bool, note string) {
	c := f.c
	f.message.SetText("Signing in to " + server + "…")
	f.pending.Add(1)
	c.ops.Add(1)
	go func() {
		defer c.ops.Done()
		defer f.pending.Done()
		ctx, cancel := context.WithTimeout(c.parent(), 30*time.Second)
		defer cancel()
		err := c.opts.Accounts.SignIn(ctx, server, user, pw, remember)
		c.onUI(true, func() {
			f.submit.Enable()
			if err != nil {
				f.message.SetText(SignInMessage(err))
				return
			}
			f.password.SetText("")
			done := "Signed in to " + server + "."
			if note != "" {
				done += " " + note
			}
			f.message.SetText(done)
			if f.onDone != nil {
				f.onDone()
			}
			c.refreshLocked()
		})
	}()
}

// FindServer probes the server typed: as it is when it names its scheme,
// else https:// first and then http://, as a browser does. It returns the
// URL that answered, whether it has public access, and a note saying
// which one answered when the other did not.
func FindServer(ctx context.Context, acc Accounts, typed string) (server string, public bool, note string, err error) {
	if strings.Contains(typed, "://") {
		public, err = acc.Probe(ctx, typed)
		if err == nil && !privateTransport(typed) {
			note = "Warning: http:// sends everything, the password included, unencrypted."
		}
		return typed, public, note, err
	}
	secure := "https://" + typed
	public, err = acc.Probe(ctx, secure)
	if err == nil {
		return secure, public, "", nil
	}
	if !ipc.IsKind(err, ipc.KindNotHTTPS) && !ipc.IsKind(err, ipc.KindUnreachable) {
		return "", false, "", err // it speaks https:// but something is wrong: never fall back silently
	}
	plain := "http://" + typed
	public, perr := acc.Probe(ctx, plain)
	if perr != nil {
		return "", false, "", err // say why https:// failed: what the listener would try first
	}
	note = "https://" + typed + " did not answer; http:// did."
	if !privateTransport(plain) {
		note += " http:// sends everything, the password included, unencrypted."
	}
	return plain, public, note, nil
}

// privateTransport reports whether what is sent to server stays private:
// https://, or http:// to this computer.
func privateTransport(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostOf is a server URL's host.
func hostOf(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return server
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
	f.confirm = func(title, message string, then func(bool)) {
		d := dialog.NewConfirm(title, message, then, w)
		d.SetConfirmText("Sign in anyway")
		d.SetDismissText("Cancel")
		d.Show()
	}
	w.SetContent(container.NewPadded(f.content))
	w.Resize(fyne.NewSize(520, 320))
	c.windowOpened(w, func() { c.signin = nil })
	c.signin = w
	w.Show()
}
