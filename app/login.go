package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"earshot/relay/backend"
	"earshot/relay/secrets"
	"earshot/relay/tokens"
)

// maxPasswordBytes caps a password read from stdin.
const maxPasswordBytes = 4096

func cmdLogin(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "login")
	server := fs.String("server", "", "OpenScanner server URL, e.g. https://scanner.example.org")
	user := fs.String("user", "", "account name (leave out for a public-access server)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	remember := fs.Bool("remember-password", false, "also keep the password in the keyring (normally only the refresh token is kept)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *server == "" {
		return usagef("login: --server is required, e.g. earshot login --server https://scanner.example.org --user alice")
	}
	serverURL, err := NormalizeServerURL(*server)
	if err != nil {
		return usagef("login: %v", err)
	}
	if *user == "" && (*fromStdin || *remember) {
		return usagef("login: --password-stdin and --remember-password need --user")
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}

	if *user == "" {
		// No account: only a public-access server works that way.
		sess, err := backend.New(backend.Options{ServerURL: serverURL, Logger: discardLogger()})
		if err != nil {
			return err
		}
		if err := sess.Probe(ctx); err != nil {
			return fmt.Errorf("check %s: %w", serverURL, err)
		}
		if _, public := sess.ServerInfo(); !public {
			return fmt.Errorf("%s needs an account: run `earshot login --server %s --user NAME`", serverURL, serverURL)
		}
		cfg.Server, cfg.User = serverURL, ""
		if err := SaveConfig(env.ConfigDir, cfg); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s is a public-access server: no account needed. %s\n", serverURL, tellRunning(ctx, env))
		return nil
	}

	password, err := readPassword(env, *fromStdin, *user, serverURL)
	if err != nil {
		return err
	}
	if err := SignIn(ctx, env, serverURL, *user, password, *remember); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Signed in to %s as %s. %s\n", serverURL, *user, tellRunning(ctx, env))
	if cfg, err := LoadConfig(env.ConfigDir); err == nil && cfg.PasswordChangeRequested {
		fmt.Fprintf(env.Stdout, "Note: %s asks you to change your password. Do it in its web page; Earshot keeps working meanwhile.\n", serverURL)
	}
	return nil
}

// SignIn signs in to serverURL (already normalized) as user, keeps the
// refresh token (and the password when remember is set) in the keyring and
// records the account in config.json. The GUI's sign-in window uses it too.
func SignIn(ctx context.Context, env *Env, serverURL, user, password string, remember bool) error {
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	sess, err := backend.New(backend.Options{ServerURL: serverURL, Username: user, Logger: discardLogger()})
	if err != nil {
		return err
	}
	refresh, err := sess.Login(ctx, user, password)
	if err != nil {
		return loginError(serverURL, err)
	}
	keys := env.keyring()
	if err := keys.Set(ctx, refreshTokenItem(serverURL, user), refresh); err != nil {
		// Do not leave a live session on the server that nobody can use.
		_ = sess.Logout(ctx)
		return fmt.Errorf("signed in, but could not keep the sign-in in the system keyring, so it was undone: %w", err)
	}
	if remember {
		if err := keys.Set(ctx, passwordItem(serverURL, user), password); err != nil {
			return fmt.Errorf("could not keep the password in the system keyring: %w", err)
		}
	} else if err := keys.Delete(ctx, passwordItem(serverURL, user)); err != nil {
		return fmt.Errorf("could not remove an older remembered password from the system keyring: %w", err)
	}
	if cfg.HasAccount() && cfg.User != "" && (cfg.Server != serverURL || cfg.User != user) {
		// Only one account is configured at a time: end the old one properly.
		old := *cfg
		if err := SignOut(ctx, env); err != nil {
			fmt.Fprintf(env.Stderr, "Note: could not sign out of the previous account %s on %s: %v\n", old.User, old.Server, err)
		}
		if cfg, err = LoadConfig(env.ConfigDir); err != nil {
			return err
		}
	}
	cfg.Server, cfg.User = serverURL, user
	cfg.PasswordChangeRequested = sess.PasswordChangeRequested()
	return SaveConfig(env.ConfigDir, cfg)
}

// loginError words a failed sign-in for the person at the terminal.
// The cause stays reachable (errors.Is, errors.As) for the window, which
// words it its own way.
func loginError(server string, err error) error {
	switch {
	case backend.IsSignInAgain(err):
		return &wordedError{fmt.Sprintf("%s refused the user name or password; check them and try again (after 3 failures the server locks sign-in for 10 minutes)", server), err}
	case errors.Is(err, backend.ErrRateLimited):
		return &wordedError{fmt.Sprintf("%s is refusing sign-ins after too many failed attempts; wait 10 minutes and try again", server), err}
	}
	return fmt.Errorf("sign in to %s: %w", server, err)
}

// wordedError is an error with a message of its own for the reader that
// still unwraps to its cause.
type wordedError struct {
	msg   string
	cause error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.cause }

func readPassword(env *Env, fromStdin bool, user, server string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReaderSize(io.LimitReader(env.Stdin, maxPasswordBytes+1), maxPasswordBytes+1).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		if len(line) > maxPasswordBytes {
			return "", errors.New("the password on standard input is longer than 4096 bytes")
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("no password on standard input")
		}
		return pw, nil
	}
	if env.StdinIsTerminal == nil || !env.StdinIsTerminal() {
		return "", usagef("login: standard input is not a terminal; pass the password with --password-stdin")
	}
	fmt.Fprintf(env.Stderr, "Password for %s on %s: ", user, server)
	pw, err := env.ReadPassword()
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if len(pw) == 0 {
		return "", errors.New("no password entered")
	}
	return string(pw), nil
}

func cmdLogout(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "logout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	if !cfg.HasAccount() {
		fmt.Fprintln(env.Stdout, "No account is configured; nothing to sign out of.")
		return nil
	}
	if err := SignOut(ctx, env); err != nil {
		return err
	}
	if cfg.User == "" {
		fmt.Fprintf(env.Stdout, "Forgot %s.", cfg.Server)
	} else {
		fmt.Fprintf(env.Stdout, "Signed out of %s as %s; the keyring items are deleted.", cfg.Server, cfg.User)
	}
	if msg := tellRunning(ctx, env); msg != startHint {
		fmt.Fprint(env.Stdout, " ", msg)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}

// SignOut ends the configured account's session on the server (revoking it
// there), deletes its keyring items and removes it from config.json. When
// the server cannot be reached the local sign-in is forgotten anyway, with a
// warning on env.Stderr.
func SignOut(ctx context.Context, env *Env) error {
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	if !cfg.HasAccount() {
		return nil
	}
	keys := env.keyring()
	if cfg.User != "" {
		refresh, err := keys.Get(ctx, refreshTokenItem(cfg.Server, cfg.User))
		switch {
		case errors.Is(err, secrets.ErrNotFound):
		case err != nil:
			return fmt.Errorf("read the stored sign-in: %w", err)
		default:
			sess, err := backend.New(backend.Options{
				ServerURL: cfg.Server, Username: cfg.User, RefreshToken: refresh,
				// The family is revoked by the logout: a rotation is not worth keeping.
				SaveRefreshToken: func(context.Context, string) error { return nil },
				Logger:           discardLogger(),
			})
			if err != nil {
				return err
			}
			if err := sess.Logout(ctx); err != nil {
				fmt.Fprintf(env.Stderr, "Warning: the server could not be told to end the session (%v); the stored sign-in is forgotten anyway.\n", err)
			}
		}
		for _, item := range []string{refreshTokenItem(cfg.Server, cfg.User), passwordItem(cfg.Server, cfg.User)} {
			if err := keys.Delete(ctx, item); err != nil {
				return fmt.Errorf("forget the stored sign-in: %w", err)
			}
		}
	}
	cfg.LastServer, cfg.LastUser = cfg.Server, cfg.User
	cfg.Server, cfg.User, cfg.PasswordChangeRequested = "", "", false
	return SaveConfig(env.ConfigDir, cfg)
}

// startHint is what login says when no Earshot runs.
const startHint = "Run `earshot` (or `earshot relay`) to start."

// tellRunning asks a running Earshot (the tray app or `earshot relay`) to
// put the account now configured behind its relay, through its control
// plane once it proved who it is (findRelay), and says what happened.
func tellRunning(ctx context.Context, env *Env) string {
	rc, err := findRelay(ctx, env)
	if err != nil || rc == nil {
		return startHint
	}
	defer rc.Close()
	keys := env.keyring()
	reg, err := tokens.Open(ctx, filepath.Join(env.ConfigDir, "tokens.json"), keys, tokens.Options{Logger: discardLogger()})
	if err != nil {
		return "The running Earshot could not be told (" + err.Error() + "): restart it."
	}
	op, err := operatorToken(ctx, keys, reg)
	reg.Close(ctx)
	if err != nil {
		return "The running Earshot could not be told (" + err.Error() + "): restart it."
	}
	c := &controlClient{conn: rc, token: op}
	if err := c.do(ctx, "POST", "/v1/account/reload", nil, nil); err != nil {
		return "The running Earshot could not switch (" + err.Error() + "): restart it."
	}
	return "The running Earshot (" + rc.base() + ") switched to it."
}
