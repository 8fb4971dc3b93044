// Package app is the Earshot application: it parses the command line, reads
// and writes config.json, wires the keyring, and starts and stops the relay
// (and, in GUI builds, the tray UI). main.go hands it os.Args and exits with
// the code it returns.
//
// It owns the lifecycle and the user-facing messages; it must not implement
// protocol, token or cache logic itself (those live under relay/). It never
// starts a process (a browser, a player) with a token or any other secret on
// its command line: a token is handed over in a 0600 file or through the web
// player's /login cookie exchange (TestNoProcessIsStartedWithASecretOnItsCommandLine
// holds every exec site in the module to that).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"earshot/app/autostart"
	"earshot/relay/secrets"
)

// Version is the Earshot version; release builds set it with -ldflags.
var Version = "0.1.0-dev"

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Env is what a command runs with: its streams and where it keeps things.
// Tests build one with temporary directories.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ConfigDir      string
	CacheDir       string
	// DataDir holds what Earshot keeps for the user (the call archive,
	// by default).
	DataDir string
	// Keyring holds the secrets. nil means the system keyring.
	Keyring secrets.KeyStore
	// StdinIsTerminal reports whether a password can be asked without echo.
	StdinIsTerminal func() bool
	// ReadPassword reads a password without echo from the terminal.
	ReadPassword func() ([]byte, error)
	// Autostart is the log-in entry `earshot autostart` edits; nil is the
	// user's own (autostart.NewEntry).
	Autostart autostart.Entry
	// StderrIsTerminal reports whether progress can be drawn on stderr.
	StderrIsTerminal func() bool
}

// usageError marks a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Main runs Earshot with args (without the program name) and returns the
// process exit code.
func Main(args []string) int {
	env, err := systemEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "earshot:", err)
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, env, args)
}

// Run runs one command in env and returns its exit code.
func Run(ctx context.Context, env *Env, args []string) int {
	err := dispatch(ctx, env, args)
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintln(env.Stderr, "earshot:", ue.msg)
		fmt.Fprintln(env.Stderr, "Run `earshot help` for the commands.")
		return ExitUsage
	default:
		fmt.Fprintln(env.Stderr, "earshot:", err)
		return ExitFailure
	}
}

const usageText = `Earshot keeps an OpenScanner feed at hand and relays it to local programs.

Usage:
  earshot [--demo] [flags]         run Earshot: the relay, the player and the tray icon (its windows
                                   open in earshot-window, found beside earshot or on PATH); with
                                   no display, the relay alone. Takes the relay's flags below
  earshot relay [flags]            run the relay alone, no window
      --demo                       use the built-in demo server instead of the account
      --listen ADDR                relay address (default 127.0.0.1:7373)
      --allow-remote               allow --listen on a non-loopback address
      --host NAME                  also answer to NAME in the Host header (repeat for more;
                                   config.json "hosts" too); other names get 403
      -v                           log every request (debug)
  earshot login --server URL [--user NAME] [--password-stdin] [--remember-password]
                                   sign in and keep the sign-in in the system keyring
                                   (no --user: a public-access server, no account)
  earshot logout                   sign out on the server and forget the stored sign-in
  earshot status [--json]          what the running relay is doing
  earshot token create --name NAME [--scope listen|control] [--expires 720h]
                                   create a stream token; prints it once with ready URLs
  earshot token list [--json]      the tokens: id, name, scope, created, expires, last used, status
  earshot token revoke ID          stop a token now (open connections too)
  earshot token rotate ID [--grace 10m]
                                   replace a token; the old one works for the grace period only
  earshot token rotate-all [--grace 0]
                                   new signing key: every existing token dies (after the grace)
  earshot alert add --name NAME [--system ID]... [--talkgroup ID]... [--words "a, b"]
                  [--regex RE] [--priority] [--tone] [--bump] [--replace]
                                   alert on calls of these talkgroups, or saying these words
                                   (case-insensitive whole words or phrases; --regex: RE2)
  earshot alert list [--json]      the alert rules of the current server (or the demo server)
  earshot alert remove NAME        remove an alert rule
  earshot autostart on|off|status  start Earshot when you log in (off until you turn it on)
  earshot export --from TIME --to TIME --out DIR|FILE.zip [--system ID]… [--talkgroup [SYS:]TG]…
                 [--json] [--archive-only]
                                   the calls of a time range: audio with readable names, calls.csv
                                   and calls.json; from the archive, and the server's history (through
                                   a running relay, or the stored sign-in) for the rest. TIME is
                                   RFC 3339 or local (2026-12-01T18:00)
  earshot --version                print the version

Files: config.json in the user configuration directory (earshot/), audio cache in the
user cache directory. Secrets live only in the system keyring (service "earshot").
A running relay announces itself in running.json there; the token commands send the
operator token only to a relay that proves it is that one, and otherwise edit the
token registry directly (a running relay picks the change up within a second).
`

func dispatch(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return runDefault(ctx, env, nil)
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(env.Stdout, "earshot", Version)
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(env.Stdout, usageText)
		return nil
	case "relay":
		return cmdRelay(ctx, env, args[1:])
	case "login":
		return cmdLogin(ctx, env, args[1:])
	case "logout":
		return cmdLogout(ctx, env, args[1:])
	case "token":
		return cmdToken(ctx, env, args[1:])
	case "alert":
		return cmdAlert(ctx, env, args[1:])
	case "status":
		return cmdStatus(ctx, env, args[1:])
	case "autostart":
		return cmdAutostart(ctx, env, args[1:])
	case "export":
		return cmdExport(ctx, env, args[1:])
	}
	if strings.HasPrefix(args[0], "-") {
		// Flags without a command belong to the default command.
		return runDefault(ctx, env, args)
	}
	return usagef("unknown command %q", args[0])
}

// newFlags returns a flag set that reports mistakes as usage errors instead
// of exiting.
func newFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// keyringTimeout bounds every keyring call.
const keyringTimeout = 3 * time.Second

func (env *Env) keyring() secrets.KeyStore {
	if env.Keyring == nil {
		env.Keyring = secrets.New("earshot", keyringTimeout)
	}
	return env.Keyring
}

// Keyring item names. The account's items are keyed by server and user so
// that signing in elsewhere never reads another account's secrets.
func refreshTokenItem(server, user string) string { return "refresh-token:" + user + "@" + server }
func passwordItem(server, user string) string     { return "password:" + user + "@" + server }

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
