package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"earshot/relay/backend"
	"earshot/ui/ipc"
)

// residentAccounts signs in and out from the windows as `earshot login`
// and `logout` do, then puts the new account (or the demo server) behind
// the one running relay. Its errors are ipc.Errors: typed and worded, so
// the windows need nothing from relay/backend.
type residentAccounts struct {
	env  *Env
	cfg  *configStore
	inst *instance
}

var _ ipc.Accounts = residentAccounts{}

func (a residentAccounts) Account() (string, string) {
	cfg, err := LoadConfig(a.env.ConfigDir)
	if err != nil {
		return "", ""
	}
	return cfg.Server, cfg.User
}

// LastAccount is the account signed out of last (for the sign-in
// window).
func (a residentAccounts) LastAccount() (string, string) {
	cfg, err := LoadConfig(a.env.ConfigDir)
	if err != nil {
		return "", ""
	}
	return cfg.LastServer, cfg.LastUser
}

var _ ipc.LastAccount = residentAccounts{}

func (a residentAccounts) Probe(ctx context.Context, server string) (bool, error) {
	public, err := probe(ctx, server)
	if err != nil {
		return false, signInError(err)
	}
	return public, nil
}

func probe(ctx context.Context, server string) (bool, error) {
	u, err := NormalizeServerURL(server)
	if err != nil {
		return false, err
	}
	s, err := backend.New(backend.Options{ServerURL: u, Logger: discardLogger()})
	if err != nil {
		return false, err
	}
	if err := s.Probe(ctx); err != nil {
		return false, err
	}
	_, public := s.ServerInfo()
	return public, nil
}

func (a residentAccounts) SignIn(ctx context.Context, server, user, password string, remember bool) error {
	u, err := NormalizeServerURL(server)
	if err != nil {
		return &ipc.Error{Kind: ipc.KindInvalid, Message: err.Error()}
	}
	signIn := func() error { return SignIn(ctx, a.env, u, user, password, remember) }
	if user == "" {
		signIn = func() error { return a.usePublic(ctx, u) }
	}
	if err := a.cfg.rewrite(signIn); err != nil {
		return signInError(err)
	}
	if err := a.inst.reloadAccount(ctx); err != nil {
		return &ipc.Error{Kind: ipc.KindOther, Message: "signed in, but the relay could not switch to the account: " + err.Error()}
	}
	return nil
}

// usePublic configures a public-access server (no account), as `earshot
// login --server URL` without --user does, signing out of an account
// configured before. Call it under the config lock.
func (a residentAccounts) usePublic(ctx context.Context, server string) error {
	public, err := probe(ctx, server)
	if err != nil {
		return err
	}
	if !public {
		return &ipc.Error{Kind: ipc.KindNeedsAccount, Message: server + " needs an account: enter a user name and password"}
	}
	if err := SignOut(ctx, a.env); err != nil {
		return err
	}
	cfg, err := LoadConfig(a.env.ConfigDir)
	if err != nil {
		return err
	}
	cfg.Server, cfg.User = server, ""
	return SaveConfig(a.env.ConfigDir, cfg)
}

func (a residentAccounts) SignOut(ctx context.Context) error {
	if err := a.cfg.rewrite(func() error { return SignOut(ctx, a.env) }); err != nil {
		return &ipc.Error{Kind: ipc.KindOther, Message: err.Error()}
	}
	if err := a.inst.reloadAccount(ctx); err != nil {
		return &ipc.Error{Kind: ipc.KindOther, Message: "signed out, but the relay could not switch to the demo server: " + err.Error()}
	}
	return nil
}

// signInError types a sign-in failure for the windows: what happened, in
// words, and its kind.
func signInError(err error) error {
	var e *ipc.Error
	if errors.As(err, &e) {
		return e
	}
	var (
		ue       *url.Error
		opErr    *net.OpError
		dnsErr   *net.DNSError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recordHd tls.RecordHeaderError
	)
	kind := ipc.KindOther
	switch {
	case backend.IsSignInAgain(err):
		kind = ipc.KindCredentials
	case errors.Is(err, backend.ErrRateLimited):
		kind = ipc.KindRateLimited
	case errors.Is(err, backend.ErrNotOpenScanner):
		kind = ipc.KindNotOpenScanner
	case errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid):
		kind = ipc.KindTLSUntrusted
	case errors.As(err, &recordHd) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"): // net/http's own words, not a type
		kind = ipc.KindNotHTTPS
	case errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ue):
		kind = ipc.KindUnreachable
	}
	return &ipc.Error{Kind: kind, Message: fmt.Sprint(err)}
}
