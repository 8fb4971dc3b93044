package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"earshot/relay"
	"earshot/relay/archive"
	"earshot/relay/backend"
	"earshot/relay/cache"
	"earshot/relay/demo"
	"earshot/relay/event"
	"earshot/relay/filelock"
	"earshot/relay/proc"
	"earshot/relay/safefile"
	"earshot/relay/secrets"
	"earshot/relay/server"
	"earshot/relay/tokens"
)

// relayFlags are the flags of `earshot relay` (and of `earshot`).
type relayFlags struct {
	demo        bool
	listen      string
	allowRemote bool
	verbose     bool
	hosts       hostList
}

// parseRelayFlags parses the flags `earshot relay` and `earshot` share.
func parseRelayFlags(env *Env, name string, args []string) (relayFlags, error) {
	fs := newFlags(env, name)
	var f relayFlags
	fs.BoolVar(&f.demo, "demo", false, "use the built-in demo server instead of the configured account")
	fs.StringVar(&f.listen, "listen", "", "relay address (default "+DefaultListen+")")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow --listen on an address other machines can reach")
	fs.BoolVar(&f.verbose, "v", false, "log every request (without query strings)")
	fs.Var(&f.hosts, "host", "a `name` requests may also address the relay by, besides loopback ones (repeat for more)")
	err := parseFlags(fs, args)
	return f, err
}

// hostList is a repeatable --host flag.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	if err := ValidHostName(v); err != nil {
		return err
	}
	if len(*h) >= maxHosts {
		return fmt.Errorf("at most %d names", maxHosts)
	}
	*h = append(*h, v)
	return nil
}

func cmdRelay(ctx context.Context, env *Env, args []string) error {
	f, err := parseRelayFlags(env, "relay", args)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	log := newLogger(env.Stderr, f.verbose)
	inst, err := startRelay(ctx, env, cfg, f, log, &savedSelection{dir: env.ConfigDir}, false)
	if err != nil {
		return err
	}
	return inst.wait()
}

// instance is a running relay: the account's backend session (which a
// sign-in or sign-out swaps), core, HTTP server.
type instance struct {
	Core    *relay.Relay
	Server  *server.Server
	Tokens  *tokens.Manager
	Addr    string // host:port the relay listens on
	cleanup []func()
	errc    chan error
	cancel  context.CancelFunc

	ctx   context.Context // the relay's: accounts opened later live as long
	env   *Env
	flags relayFlags
	log   *slog.Logger

	swapMu sync.Mutex // one swap at a time
	mu     sync.Mutex
	acc    *account // the account behind the relay now

	// onConfig, when set, is told of every change of config.json the
	// relay sees (the resident's listening core reloads its settings).
	onConfig atomic.Pointer[func(*Config)]
}

// account is one account's (or the demo server's) session, audio cache
// and call archive, with what to release when another takes its place.
type account struct {
	sess      *backend.Session
	cache     *cache.Cache
	label     string
	serverKey string // its settings in config.json (Config.ServerKey)
	demo      bool
	archive   *archive.Archive // nil: not archived
	cleanup   []func()
	unlock    func() // lets account.lock go, held while signed in with an account
	stop      context.CancelFunc
	recording sync.WaitGroup // the archive's recording
}

func (a *account) close() {
	a.stopRecording()
	a.releaseLock()
	for i := len(a.cleanup) - 1; i >= 0; i-- {
		a.cleanup[i]()
	}
}

// record archives the relay's calls into the account's archive (if any)
// until the account is closed.
func (a *account) record(ctx context.Context, core *relay.Relay) {
	if a.archive == nil {
		return
	}
	ctx, a.stop = context.WithCancel(ctx)
	a.recording.Go(func() { _ = a.archive.Record(ctx, core) })
}

// stopRecording ends the archive's recording: before another account's
// calls reach the relay.
func (a *account) stopRecording() {
	if a.stop != nil {
		a.stop()
	}
	a.recording.Wait()
}

// releaseLock lets go of the account lock before the rest is closed.
func (a *account) releaseLock() {
	if a.unlock != nil {
		a.unlock()
		a.unlock = nil
	}
}

// wait blocks until the relay stops and releases what it held.
func (in *instance) wait() error {
	err := <-in.errc
	in.cancel()
	for i := len(in.cleanup) - 1; i >= 0; i-- {
		in.cleanup[i]()
	}
	in.mu.Lock()
	acc := in.acc
	in.acc = nil
	in.mu.Unlock()
	if acc != nil {
		acc.close()
	}
	if backend.IsSignInAgain(err) {
		return fmt.Errorf("%w\nSign in again with `earshot login --server URL --user NAME`", err)
	}
	return err
}

// startRelay starts the relay on cfg's account (or the demo server);
// follow is what the continuous stream's follow=player follows. outlive
// keeps it running when the account's session stops for good (the
// resident: the listener signs in again from it).
func startRelay(parent context.Context, env *Env, cfg *Config, f relayFlags, log *slog.Logger, follow server.PlayerSelection, outlive bool) (inst *instance, err error) {
	ctx, cancel := context.WithCancel(parent)
	inst = &instance{cancel: cancel, errc: make(chan error, 1), ctx: ctx, env: env, flags: f, log: log}
	// The named result is nil after a failed return; clean up through a copy.
	started := inst
	defer func() {
		if err != nil {
			cancel()
			for i := len(started.cleanup) - 1; i >= 0; i-- {
				started.cleanup[i]()
			}
		}
	}()

	listen := f.listen
	if listen == "" {
		listen = cfg.Listen
	}
	if listen == "" {
		listen = DefaultListen
	}
	loopback, err := isLoopbackAddr(listen)
	if err != nil {
		return nil, usagef("relay: --listen: %v", err)
	}
	if !loopback {
		if !f.allowRemote {
			return nil, usagef("relay: %s is reachable from other machines; the relay binds loopback only unless you also pass --allow-remote", listen)
		}
		log.Warn("THE RELAY IS LISTENING ON A NON-LOOPBACK ADDRESS: anyone who can reach it and holds a stream token can listen", "listen", listen)
	}

	keys := env.keyring()
	tm, err := tokens.Open(ctx, filepath.Join(env.ConfigDir, "tokens.json"), keys, tokens.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the stream-token registry: %w", err)
	}
	inst.Tokens = tm
	inst.cleanup = append(inst.cleanup, func() {
		closeCtx, done := context.WithTimeout(context.Background(), keyringTimeout)
		defer done()
		if err := tm.Close(closeCtx); err != nil {
			log.Warn("saving token last-used times failed", "err", err)
		}
	})

	acc, err := openAccount(ctx, env, cfg, f.demo, log)
	if err != nil {
		return nil, err
	}
	inst.acc = acc // closed by wait: it may have been swapped by then
	defer func() {
		if err != nil {
			acc.close()
		}
	}()
	label := acc.label
	core, err := relay.New(relay.Options{
		Backend:        acc.sess,
		Cache:          acc.cache,
		Logger:         log,
		AlertRules:     cfg.AlertRules(acc.serverKey),
		IsUnavailable:  func(err error) bool { return errors.Is(err, backend.ErrCallUnavailable) },
		IsTooLarge:     func(err error) bool { return errors.Is(err, backend.ErrAudioTooLarge) },
		OutliveSession: outlive,
	})
	if err != nil {
		return nil, err
	}
	inst.Core = core
	alertRules := &configAlerts{dir: env.ConfigDir, key: inst.serverKey, apply: core.SetAlertRules}
	hosts := append(slices.Clone(cfg.Hosts), f.hosts...)
	if len(hosts) > 0 {
		log.Info("the relay also answers to these host names", "hosts", strings.Join(hosts, ","))
	}
	instanceSecret := make([]byte, 32)
	if _, err := rand.Read(instanceSecret); err != nil {
		return nil, fmt.Errorf("make the relay's instance secret: %w", err)
	}
	srv, err := server.New(server.Options{
		Source:         core,
		Auth:           server.NewTokenAuth(tm),
		Admin:          tm,
		Alerts:         &relayAlerts{alertRules},
		Logger:         log,
		ExtraHosts:     hosts,
		InstanceSecret: instanceSecret,
		Player:         follow,
		AccountChanged: inst.reloadAccount,
	})
	if err != nil {
		return nil, err
	}
	inst.Server = srv
	inst.cleanup = append(inst.cleanup, srv.Close) // Serve closes it too; this covers a start that fails

	ln, err := net.Listen("tcp", listen)
	if addrInUse(err) {
		return nil, fmt.Errorf("%s is already in use by another program (another Earshot?); stop it, or pick another address with --listen or \"listen\" in config.json: %w", listen, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", listen, err)
	}
	inst.Addr = ln.Addr().String()
	withdraw, err := announce(ctx, env, inst.Addr, instanceSecret)
	if err != nil {
		ln.Close()
		return nil, err
	}
	inst.cleanup = append(inst.cleanup, withdraw)

	if err := printWelcome(ctx, env.Stdout, tm, inst.Addr, label); err != nil {
		ln.Close()
		return nil, err
	}
	acc.sayArchive(env.Stdout, cfg)

	var wg sync.WaitGroup
	var coreErr, srvErr error
	wg.Go(func() {
		coreErr = core.Run(ctx)
		cancel() // the server has nothing to serve without the core
	})
	wg.Go(func() { srvErr = srv.Serve(ctx, ln) })
	acc.record(ctx, core) // ends with the account (wait closes the last)
	wg.Go(func() {
		watchConfig(ctx, env.ConfigDir, alertWatchEvery, log, func(cfg *Config) {
			applyAlertRules(cfg, inst.serverKey, core.SetAlertRules, core.AlertRules, log)
			if f := inst.onConfig.Load(); f != nil {
				(*f)(cfg)
			}
		})
	})
	go func() {
		wg.Wait()
		inst.errc <- errors.Join(coreErr, srvErr)
	}()
	return inst, nil
}

// serverKey names the settings (alert rules) of the account behind the
// relay now.
func (in *instance) serverKey() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.acc == nil {
		return ""
	}
	return in.acc.serverKey
}

// reloadAccount puts config.json's account behind the running relay
// (after a sign-in or sign-out here, or `earshot login`/`logout` told it
// to): subscribers keep their feed and get a reset event.
func (in *instance) reloadAccount(ctx context.Context) error {
	if in.flags.demo {
		return errors.New("this Earshot was started with --demo and plays the built-in demo server whatever the account; " +
			"restart it without --demo to use the account")
	}
	cfg, err := LoadConfig(in.env.ConfigDir)
	if err != nil {
		return err
	}
	return in.swapAccount(cfg)
}

// swapAccount puts cfg's account (or the demo server) behind the relay,
// with its alert rules and archive.
func (in *instance) swapAccount(cfg *Config) error {
	in.swapMu.Lock()
	defer in.swapMu.Unlock()
	in.mu.Lock()
	old := in.acc
	in.mu.Unlock()
	// The old account's lock goes first: signing in again to the same
	// account takes the same lock.
	if old != nil {
		old.releaseLock()
	}
	acc, err := openAccount(in.ctx, in.env, cfg, in.flags.demo, in.log)
	if err != nil {
		return err
	}
	if old != nil {
		old.stopRecording() // its archive takes none of the new account's calls
	}
	in.mu.Lock()
	in.acc = acc
	in.mu.Unlock()
	if err := in.Core.SetAlertRules(cfg.AlertRules(acc.serverKey)); err != nil {
		in.log.Warn("the new account's alert rules were not applied", "err", err)
	}
	in.Core.Swap(acc.sess, acc.cache, event.ResetAccount)
	acc.record(in.ctx, in.Core)
	if old != nil {
		old.close()
	}
	in.log.Info("the relay now plays another account", "account", acc.label)
	return nil
}

// applyArchive puts the archive settings of cfg into effect for the
// account behind the relay: recording stops, and starts again in the
// archive they describe (or not at all).
func (in *instance) applyArchive(cfg *Config) {
	in.swapMu.Lock()
	defer in.swapMu.Unlock()
	in.mu.Lock()
	acc := in.acc
	in.mu.Unlock()
	if acc == nil {
		return
	}
	acc.stopRecording()
	acc.archive = openArchive(in.env, cfg, acc.demo, in.log)
	acc.record(in.ctx, in.Core)
	if acc.archive == nil {
		in.log.Info("calls are not archived")
		return
	}
	n, size := acc.archive.Usage()
	in.log.Info("archiving calls", "dir", acc.archive.Dir(), "days", int(cfg.Archive.MaxAge().Hours()/24),
		"maxMB", cfg.Archive.MaxBytes()>>20, "calls", n, "MB", float64(size)/(1<<20))
}

// label says which account the relay plays now.
func (in *instance) label() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.acc == nil {
		return ""
	}
	return in.acc.label
}

// openAccount opens the session for cfg's account, or for the in-process
// demo server, its audio cache and its archive.
func openAccount(ctx context.Context, env *Env, cfg *Config, forceDemo bool, log *slog.Logger) (acc *account, err error) {
	acc = &account{serverKey: cfg.ServerKey(forceDemo)}
	opened := acc
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	sess, label, cacheDir, err := openBackend(ctx, env, cfg, forceDemo, log, acc)
	if err != nil {
		return nil, err
	}
	maxMB := cfg.CacheMB
	if maxMB == 0 {
		maxMB = DefaultCacheMB
	}
	audioCache, err := cache.Open(cacheDir, maxMB<<20, log)
	if err != nil {
		return nil, fmt.Errorf("open the audio cache: %w", err)
	}
	acc.cleanup = append(acc.cleanup, audioCache.Close)
	acc.sess, acc.cache, acc.label = sess, audioCache, label
	acc.archive = openArchive(env, cfg, forceDemo, log)
	return acc, nil
}

// sayArchive tells where the account's calls are archived (if they are).
func (a *account) sayArchive(w io.Writer, cfg *Config) {
	if a.archive == nil {
		return
	}
	n, size := a.archive.Usage()
	fmt.Fprintf(w, "Archiving calls in %s (for %d days, up to %d MB); it holds %d so far (%.1f MB)\n",
		a.archive.Dir(), int(cfg.Archive.MaxAge().Hours()/24), cfg.Archive.MaxBytes()>>20, n, float64(size)/(1<<20))
}

// alertWatchEvery is how often a running relay looks at config.json for
// alert rules edited without it.
const alertWatchEvery = time.Second

// openBackend returns the backend session for the configured account, or
// for the in-process demo server, with a description and the audio cache
// directory for it.
func openBackend(ctx context.Context, env *Env, cfg *Config, forceDemo bool, log *slog.Logger, inst *account) (*backend.Session, string, string, error) {
	if forceDemo || !cfg.HasAccount() {
		inst.demo = true
		if !forceDemo {
			fmt.Fprintln(env.Stdout, "No account is configured: running against the built-in demo server.")
			fmt.Fprintln(env.Stdout, "Sign in to your own server with `earshot login --server URL --user NAME`.")
		}
		fake, err := demo.Start(ctx, log.With("part", "demo-server"))
		if err != nil {
			return nil, "", "", fmt.Errorf("start the demo server: %w", err)
		}
		inst.cleanup = append(inst.cleanup, fake.Close)
		// Demo call ids start again at 1 on every run: never reuse a cache.
		removeStaleDemoCaches(os.TempDir(), log)
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", demoCachePrefix, os.Getpid()))
		if err != nil {
			return nil, "", "", fmt.Errorf("create the demo audio cache: %w", err)
		}
		inst.cleanup = append(inst.cleanup, func() { os.RemoveAll(dir) })
		sess, err := backend.New(backend.Options{ServerURL: fake.URL(), Logger: log.With("part", "backend")})
		if err != nil {
			return nil, "", "", err
		}
		return sess, "the built-in demo server", dir, nil
	}

	opts := backend.Options{ServerURL: cfg.Server, Username: cfg.User, Logger: log.With("part", "backend")}
	if cfg.User != "" {
		release, err := storedSignIn(ctx, env, cfg, &opts)
		if err != nil {
			return nil, "", "", err
		}
		inst.unlock = release
		if cfg.PasswordChangeRequested {
			// Told once: this run's status says it, later ones do not.
			opts.PasswordChangeRequested = true
			if saved, err := LoadConfig(env.ConfigDir); err == nil {
				saved.PasswordChangeRequested = false
				if err := SaveConfig(env.ConfigDir, saved); err != nil {
					log.Warn("could not update config.json", "err", err)
				}
			}
		}
	}
	sess, err := backend.New(opts)
	if err != nil {
		return nil, "", "", err
	}
	label := cfg.Server
	if cfg.User != "" {
		label = cfg.User + " on " + cfg.Server
	}
	// The user's cache directory, checked like its per-account one
	// (cache.Open): a real directory of this user's, never a link.
	if err := safefile.PrivateDir(env.CacheDir); err != nil {
		return nil, "", "", fmt.Errorf("the audio cache directory: %w", err)
	}
	return sess, label, accountCacheDir(env.CacheDir, cfg), nil
}

// accountCacheDir is the account's own audio cache in cacheDir: one per
// server and account, since call ids are only unique within a server.
func accountCacheDir(cacheDir string, cfg *Config) string {
	sum := sha256.Sum256([]byte(cfg.Server + "\x00" + cfg.User))
	return filepath.Join(cacheDir, hex.EncodeToString(sum[:8]))
}

// storedSignIn makes this process the one signed in with cfg's account
// (lockAccount) and fills opts with the stored sign-in: the refresh token
// (kept anew at every rotation), or the remembered password. release lets
// the account go.
func storedSignIn(ctx context.Context, env *Env, cfg *Config, opts *backend.Options) (release func(), err error) {
	lock, err := lockAccount(env.ConfigDir, cfg)
	if err != nil {
		return nil, err
	}
	release = func() { lock.Close() }
	keys := env.keyring()
	refresh, err := keys.Get(ctx, refreshTokenItem(cfg.Server, cfg.User))
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		pw, perr := keys.Get(ctx, passwordItem(cfg.Server, cfg.User))
		if perr != nil {
			release()
			return nil, fmt.Errorf("no stored sign-in for %s on %s; run `earshot login --server %s --user %s`", cfg.User, cfg.Server, cfg.Server, cfg.User)
		}
		opts.Password = pw
	case err != nil:
		release()
		return nil, fmt.Errorf("read the stored sign-in: %w", err)
	default:
		opts.RefreshToken = refresh
	}
	item := refreshTokenItem(cfg.Server, cfg.User)
	opts.SaveRefreshToken = func(ctx context.Context, token string) error { return keys.Set(ctx, item, token) }
	return release, nil
}

// openArchive opens the call archive config.json asks for (nil if none).
// The demo's made-up calls are not archived, and an archive that cannot be
// opened is said in the log and left out rather than stopping the relay.
func openArchive(env *Env, cfg *Config, demo bool, log *slog.Logger) *archive.Archive {
	s := cfg.Archive
	if s == nil || !s.Enabled {
		return nil
	}
	if demo || !cfg.HasAccount() {
		log.Info("the call archive is off while the demo plays: its calls are made up")
		return nil
	}
	a, err := archive.Open(archive.Options{
		Root: s.Root(env.DataDir), Server: cfg.Server, MaxAge: s.MaxAge(), MaxBytes: s.MaxBytes(),
		Keep: s.Talkgroups, Logger: log.With("part", "archive"),
	})
	if err != nil {
		log.Warn("the call archive cannot be used, so calls are not archived this run", "err", err)
		return nil
	}
	return a
}

// demoCachePrefix names a demo run's audio cache in the temporary
// directory: earshot-demo-audio-<pid>-<random>.
const demoCachePrefix = "earshot-demo-audio-"

// removeStaleDemoCaches deletes demo audio caches in dir that a process of
// this user left when it ended without cleaning up (killed, or its display
// gone): those whose process no longer runs. Others' and live runs' stay.
func removeStaleDemoCaches(dir string, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), demoCachePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue // not a name this Earshot makes
		}
		info, err := e.Info()
		if err != nil || !safefile.OwnedByCurrentUser(info) {
			continue
		}
		if proc.Alive(pid) {
			continue // alive (or another user's)
		}
		path := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(path); err != nil {
			log.Warn("could not remove a stale demo audio cache", "dir", path, "err", err)
			continue
		}
		log.Info("removed the audio cache of an earlier demo run that ended without cleaning up", "dir", path)
	}
}

// accountLockFile, in the configuration directory, is held (flock) by the
// one process signed in with this configuration's account.
const accountLockFile = "account.lock"

// lockAccount makes this process the only one signed in with cfg's account
// from this configuration. Two would share one refresh-token family: when
// one rotates the token, the other's copy is spent, and OpenScanner takes a
// spent token presented again (after its 30 s grace) as stolen and signs
// out both. The kernel releases the lock however the process ends.
func lockAccount(dir string, cfg *Config) (*filelock.Lock, error) {
	path := filepath.Join(dir, accountLockFile)
	lock, err := filelock.TryLock(path, filelock.Exclusive)
	if errors.Is(err, filelock.ErrLocked) {
		pid := "?"
		if b, err := os.ReadFile(path); err == nil && len(b) < 32 {
			pid = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("another Earshot (process %s) is already signed in to %s as %s with this configuration; "+
			"a second would sign both out (OpenScanner takes a refresh token used twice as stolen). "+
			"Use that one's relay (`earshot status` says where it is), or stop it first", pid, cfg.Server, cfg.User)
	}
	if err != nil {
		return nil, fmt.Errorf("the account lock: %w", err)
	}
	// Who holds it, for a second process's message.
	if f := lock.File(); f.Truncate(0) == nil {
		_, _ = f.WriteAt(fmt.Appendf(nil, "%d\n", os.Getpid()), 0)
	}
	return lock, nil
}

// printWelcome tells the user where the relay is. The first time (no stream
// token exists yet) it creates a listen token named "default" and prints
// ready URLs containing it, once, with the web player's login link;
// afterwards the URLs carry a placeholder.
func printWelcome(ctx context.Context, w io.Writer, tm *tokens.Manager, addr, label string) error {
	base := "http://" + addr
	token, fresh := "", false
	if list, _ := tm.List(ctx); len(list) == 0 {
		t, _, err := tm.Create(ctx, "default", tokens.ScopeListen, 0)
		if err != nil {
			return fmt.Errorf("create the first stream token: %w", err)
		}
		token, fresh = t, true
	}
	// One write: whoever reads the output (a person, a script waiting for
	// "listening on") sees the welcome whole, never half of it.
	var b strings.Builder
	fmt.Fprintf(&b, "Earshot relay for %s, listening on %s\n", label, base)
	for _, l := range server.Links(base, token) {
		switch {
		case l.Key == "login" && !fresh:
			continue // a login link is only worth printing with its token
		case l.Key == "stream.m3u" || l.Key == "playlist":
			continue // `earshot token create` lists these
		case !fresh:
			l.URL += "<your stream token>"
		}
		fmt.Fprintf(&b, "  %-40s %s\n", l.Name+":", l.URL)
	}
	if fresh {
		b.WriteString("This stream token (named \"default\") is shown only once: keep it. Programs can also send it as\n")
		b.WriteString("\"Authorization: Bearer <token>\" instead of ?token=.\n")
	}
	_, _ = io.WriteString(w, b.String()) // a closed stdout must not stop the relay
	return nil
}

func isLoopbackAddr(hostport string) (bool, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false, fmt.Errorf("%q is not host:port", hostport)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false, fmt.Errorf("%q: give an IP address, e.g. 127.0.0.1:7373", hostport)
	}
	return ip.IsLoopback(), nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A running relay announces itself so that the CLI can find it and check
// it is talking to it before it sends the operator token: running.json in
// the configuration directory (0600, written atomically, removed on a clean
// exit) says where it listens and names this run; the run's secret, which
// the relay proves it holds (GET /v1/identity), is in the keyring, never in
// a file. Only the relay started last is announced; the CLI edits the
// registry directly for any other, and that relay picks the edit up within
// a second.
const (
	runningFile       = "running.json"
	relayInstanceItem = "relay-instance" // keyring: "<instance>:<base64 secret>"
	maxRunningBytes   = 4 << 10
)

// runningInfo is running.json. It holds no secret.
type runningInfo struct {
	Addr     string `json:"addr"`     // host:port to dial
	Instance string `json:"instance"` // names this run; the keyring item must name the same
	PID      int    `json:"pid"`
}

// announce makes the relay listening on addr findable by the CLI and returns
// the func that withdraws it (if no later relay has taken over).
func announce(ctx context.Context, env *Env, addr string, secret []byte) (func(), error) {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("name this relay run: %w", err)
	}
	info := runningInfo{Addr: dialAddr(addr), Instance: hex.EncodeToString(id), PID: os.Getpid()}
	item := info.Instance + ":" + base64.StdEncoding.EncodeToString(secret)
	keys := env.keyring()
	if err := keys.Set(ctx, relayInstanceItem, item); err != nil {
		return nil, fmt.Errorf("keep the relay's instance secret in the keyring: %w", err)
	}
	data, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(env.ConfigDir, runningFile)
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return nil, err
	}
	return func() {
		if cur, err := readRunning(env.ConfigDir); err == nil && cur.Instance == info.Instance {
			_ = os.Remove(path)
		}
		cctx, cancel := context.WithTimeout(context.Background(), keyringTimeout)
		defer cancel()
		if v, err := keys.Get(cctx, relayInstanceItem); err == nil && v == item {
			_ = keys.Delete(cctx, relayInstanceItem)
		}
	}, nil
}

// readRunning reads running.json; a missing file is fs.ErrNotExist.
func readRunning(dir string) (runningInfo, error) {
	f, err := safefile.Open(filepath.Join(dir, runningFile))
	if err != nil {
		return runningInfo{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRunningBytes))
	if err != nil {
		return runningInfo{}, err
	}
	var info runningInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return runningInfo{}, fmt.Errorf("%s is not what a running relay writes: %w", runningFile, err)
	}
	if _, _, err := net.SplitHostPort(info.Addr); err != nil || info.Instance == "" {
		return runningInfo{}, fmt.Errorf("%s is not what a running relay writes", runningFile)
	}
	return info, nil
}

// dialAddr is where a client on this machine reaches a listener on addr: a
// wildcard address is reached on loopback.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			return net.JoinHostPort("127.0.0.1", port)
		}
		return net.JoinHostPort("::1", port)
	}
	return addr
}
