package ui

import (
	"context"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"earshot/ui/ipc"
)

// siteAccounts answers a probe per URL, as servers at those addresses
// would.
type siteAccounts struct {
	fakeAccounts
	mu     sync.Mutex
	sites  map[string]error // URL → the probe's error (nil: an OpenScanner server answers)
	probed []string
}

func (s *siteAccounts) Probe(_ context.Context, server string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probed = append(s.probed, server)
	err, ok := s.sites[server]
	if !ok {
		return false, &ipc.Error{Kind: ipc.KindUnreachable, Message: "connection refused"}
	}
	return false, err
}

func newSignInRig(t *testing.T, acc Accounts) (*Controller, *signInForm) {
	t.Helper()
	c, _, _, _ := newTestController(t)
	c.opts.Accounts = acc
	var f *signInForm
	c.Do(func() { f = c.newSignInForm(nil) })
	w := c.app.NewWindow("sign in")
	w.SetContent(f.content)
	return c, f
}

// The fault: Enter in the form did nothing.
func TestEnterSignsIn(t *testing.T) {
	acc := &siteAccounts{sites: map[string]error{"https://scanner.example.org": nil}}
	c, f := newSignInRig(t, acc)
	f.server.SetText("https://scanner.example.org")
	f.user.SetText("alice")
	test.Type(f.password, "secret")
	f.password.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	f.pending.Wait()
	c.WaitIdle()
	if len(acc.signed) != 1 || acc.signed[0] != "https://scanner.example.org|alice" {
		t.Fatalf("Enter in the password field signed in %v", acc.signed)
	}
}

// The fault: "127.0.0.1:18480" was refused as "not a URL".
func TestAnAddressWithoutSchemeIsTriedAsABrowserWould(t *testing.T) {
	acc := &siteAccounts{sites: map[string]error{
		"https://127.0.0.1:18480": &ipc.Error{Kind: ipc.KindNotHTTPS, Message: "server gave HTTP response to HTTPS client"},
		"http://127.0.0.1:18480":  nil,
	}}
	c, f := newSignInRig(t, acc)
	f.server.SetText("127.0.0.1:18480")
	f.user.SetText("alice")
	f.password.SetText("secret")
	c.Do(f.start)
	f.pending.Wait()
	c.WaitIdle()
	if strings.Join(acc.probed, " ") != "https://127.0.0.1:18480 http://127.0.0.1:18480" {
		t.Fatalf("probed %v; want https:// first, then http://", acc.probed)
	}
	if len(acc.signed) != 1 || acc.signed[0] != "http://127.0.0.1:18480|alice" {
		t.Fatalf("signed in %v", acc.signed)
	}
	if msg := f.message.Text; !strings.Contains(msg, "Signed in to http://127.0.0.1:18480") || !strings.Contains(msg, "https://127.0.0.1:18480 did not answer; http:// did") {
		t.Fatalf("the form says %q", msg)
	}
	if strings.Contains(f.message.Text, "unencrypted") {
		t.Fatalf("a loopback address warned of an unencrypted password: %q", f.message.Text)
	}
	if f.server.Text != "http://127.0.0.1:18480" {
		t.Fatalf("the server field shows %q; want the URL that answered", f.server.Text)
	}
}

func TestAPasswordOverPlainHTTPIsAskedAbout(t *testing.T) {
	acc := &siteAccounts{sites: map[string]error{"http://scanner.example.org": nil}}
	c, f := newSignInRig(t, acc)
	var asked []string
	answer := false
	f.confirm = func(title, msg string, then func(bool)) { asked = append(asked, msg); then(answer) }
	f.server.SetText("scanner.example.org")
	f.user.SetText("alice")
	f.password.SetText("secret")
	c.Do(f.start)
	f.pending.Wait()
	c.WaitIdle()
	if len(asked) != 1 || !strings.Contains(asked[0], "unencrypted") || len(acc.signed) != 0 {
		t.Fatalf("declined: asked %q, signed %v; want one question and no sign-in", asked, acc.signed)
	}
	if !strings.HasPrefix(f.message.Text, "Not signed in") {
		t.Fatalf("after declining the form says %q", f.message.Text)
	}
	answer = true
	c.Do(f.start)
	f.pending.Wait()
	c.WaitIdle()
	if len(acc.signed) != 1 || acc.signed[0] != "http://scanner.example.org|alice" || !strings.Contains(f.message.Text, "unencrypted") {
		t.Fatalf("accepted: signed %v, message %q", acc.signed, f.message.Text)
	}
}

func TestAnUntrustedCertificateIsNotSilentlyDowngraded(t *testing.T) {
	acc := &siteAccounts{sites: map[string]error{
		"https://scanner.example.org": &ipc.Error{Kind: ipc.KindTLSUntrusted, Message: "x509: certificate signed by unknown authority"},
		"http://scanner.example.org":  nil,
	}}
	c, f := newSignInRig(t, acc)
	f.server.SetText("scanner.example.org")
	c.Do(f.start)
	f.pending.Wait()
	c.WaitIdle()
	if len(acc.probed) != 1 || len(acc.signed) != 0 || !strings.Contains(f.message.Text, "TLS certificate") {
		t.Fatalf("probed %v, signed %v, message %q; want the certificate problem said, no http:// tried", acc.probed, acc.signed, f.message.Text)
	}
}
