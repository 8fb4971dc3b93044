package ui

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/ui/player"
)

// Options configure a Controller.
type Options struct {
	App      fyne.App
	Feed     Feed
	Player   Player
	Accounts Accounts
	Tokens   TokenOps
	Prefs    Prefs
	Logger   *slog.Logger
	// TrayHost reports whether a StatusNotifier host shows tray icons right
	// now. It is asked at start and again whenever the window is closed:
	// without a host, closing quits (never leaving Earshot running
	// unreachable).
	TrayHost func() bool
	// TrayIcon sets the tray icon up even when no tray host is present at
	// start, so a host (a panel) that starts later shows it. It needs a
	// session bus; without TrayIcon the icon is set up only when TrayHost
	// reports a host at start.
	TrayIcon bool
	// Demo says the relay plays the built-in demo server because it was
	// started with --demo (not merely because no account is configured).
	Demo bool
	// StreamURL returns a ready live-feed URL with a listen token (made on
	// first use) for "Copy stream URL".
	StreamURL func(ctx context.Context) (string, error)
	// Quit ends the app (stops the relay, then the Fyne app).
	Quit func()
	// Now is the clock (notifications' rate limit); nil means time.Now.
	Now func() time.Time
	// Location is the time zone calls' times are shown in; nil means
	// time.Local.
	Location *time.Location
	// SetTooltip sets the tray icon's hover text; nil means the tray
	// library's (Fyne has no tooltip API).
	SetTooltip func(string)
}

// Controller owns the windows and the tray and keeps them current.
type Controller struct {
	opts  Options
	app   fyne.App
	log   *slog.Logger
	icons iconCache

	mu       sync.Mutex
	ctx      context.Context // Start's; background work stops with it
	view     View
	history  []event.Call // newest first
	histRev  int          // bumped on every change to history
	seen     map[player.Talkgroup]tgInfo
	catalog  event.Catalog
	dir      directory // catalog and seen talkgroups, merged; rebuilt on change
	tgRev    int       // bumped on every change to dir
	notify   map[player.Talkgroup]bool
	notified map[player.Talkgroup]time.Time
	server   string         // the configured account's server ("" none), read at start and after sign-in/out
	bg       sync.WaitGroup // follow
	ops      sync.WaitGroup // background operations (sign-out, Copy stream URL)

	// uiMu serializes window updates. Fyne's own driver runs fyne.Do
	// functions one at a time on its goroutine; the test driver runs them
	// on the caller's, so the controller does not rely on that.
	uiMu sync.Mutex

	// The tray, touched only under uiMu.
	trayUp     bool // the icon and menu are set up
	tray       *trayMenu
	trayIcon   fyne.Resource
	trayTip    string
	ffmpegTold bool // the one-time "install ffmpeg" notification was sent

	win    *playerWindow
	signin fyne.Window
	tokens fyne.Window
}

// tgInfo is what the checklist shows of a talkgroup.
type tgInfo struct {
	SystemLabel, Label, Name, Group, Tag string
}

// New builds the controller; Start shows it.
func New(opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.TrayHost == nil {
		opts.TrayHost = func() bool { return false }
	}
	if opts.Quit == nil {
		opts.Quit = func() { opts.App.Quit() }
	}
	if opts.SetTooltip == nil {
		opts.SetTooltip = systray.SetTooltip
	}
	c := &Controller{
		opts: opts, app: opts.App, log: opts.Logger, icons: iconCache{},
		ctx:      context.Background(),
		seen:     map[player.Talkgroup]tgInfo{},
		notify:   map[player.Talkgroup]bool{},
		notified: map[player.Talkgroup]time.Time{},
	}
	c.restorePrefs()
	return c
}

// restorePrefs applies the remembered settings to the player.
func (c *Controller) restorePrefs() {
	p := c.opts.Prefs
	if p == nil {
		return
	}
	live := true
	p.Load(prefLive, &live)
	c.opts.Player.SetLive(live)
	var vol float64
	if p.Load(prefVolume, &vol) {
		c.opts.Player.SetVolume(vol)
	}
	var muted bool
	if p.Load(prefMuted, &muted) {
		c.opts.Player.SetMuted(muted)
	}
	var f player.Filter
	if p.Load(prefFilter, &f) {
		c.opts.Player.SetSelection(f.Selection)
		for _, a := range f.Avoids {
			c.opts.Player.AvoidTalkgroup(a.SystemID, a.TalkgroupID, a.Until)
		}
	}
	var notify []player.Talkgroup
	if p.Load(prefNotify, &notify) {
		for _, t := range notify {
			c.notify[t] = true
		}
	}
}

func (c *Controller) savePrefs() {
	p := c.opts.Prefs
	if p == nil {
		return
	}
	st := c.opts.Player.State()
	p.Save(prefLive, st.Live)
	p.Save(prefVolume, st.Volume)
	p.Save(prefMuted, st.Muted)
	f := c.opts.Player.Filter()
	f.Hold = nil // a hold is for now, not for the next start
	p.Save(prefFilter, f)
	c.mu.Lock()
	var notify []player.Talkgroup
	for t := range c.notify {
		notify = append(notify, t)
	}
	c.mu.Unlock()
	sort.Slice(notify, func(i, j int) bool {
		return notify[i].SystemID < notify[j].SystemID || (notify[i].SystemID == notify[j].SystemID && notify[i].TalkgroupID < notify[j].TalkgroupID)
	})
	p.Save(prefNotify, notify)
}

// Start shows the tray (or the window, without a tray host), loads recent
// calls and follows the feed and the player until ctx ends.
func (c *Controller) Start(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	// Subscribe first, so no event published while loading is lost.
	sub := c.opts.Feed.Subscribe(1024)
	c.loadFeed()
	c.loadAccount()
	c.win = newPlayerWindow(c)
	desk, isDesktop := c.app.(desktop.App)
	host := isDesktop && c.opts.TrayHost()
	c.log.Info("starting the UI", "tray host", host)
	c.uiMu.Lock()
	c.trayUp = isDesktop && (host || c.opts.TrayIcon)
	if c.trayUp {
		c.tray = newTrayMenu(c.Actions())
		c.tray.show(c.View())
		desk.SetSystemTrayMenu(c.tray.menu)
	}
	c.uiMu.Unlock()
	c.refresh()
	if !host {
		c.win.w.Show()
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.follow(ctx, sub)
	}()
}

// Wait waits for the controller's background work (following the feed,
// sign-out, copying a stream URL) to end after Start's ctx is done.
func (c *Controller) Wait() {
	c.bg.Wait()
	c.ops.Wait()
}

// WaitIdle waits until no background operation started from the windows
// or the tray (sign-in, sign-out, a token operation, Copy stream URL) is in
// flight, and its result is on show.
func (c *Controller) WaitIdle() { c.ops.Wait() }

// Do runs f now, on the calling goroutine, with the window lock held, as
// the controller's own updates run. It is for code that drives the windows
// from a goroutine of its own, such as tests: Fyne's test driver runs
// fyne.Do functions at once on their caller's goroutine, so a test's taps
// and the feed's updates would otherwise run together. f must not call
// back into the controller's locking methods.
func (c *Controller) Do(f func()) {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	f()
}

// loadFeed (re)reads the relay's recent calls and catalogue: at start and
// after the relay restarted (signed in to another server), when what the
// window showed belongs to the old one.
func (c *Controller) loadFeed() {
	calls := c.opts.Feed.Calls(relay.Query{Limit: maxHistory})
	cat := c.opts.Feed.Catalog()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history = nil
	c.seen = map[player.Talkgroup]tgInfo{}
	c.histRev++
	for _, call := range calls {
		c.addHistoryLocked(call, false)
	}
	c.catalog = cat
	c.rebuildDirLocked()
}

// loadAccount reads the configured account (it is cached: the tray and the
// window show it on every refresh).
func (c *Controller) loadAccount() {
	server := ""
	if c.opts.Accounts != nil {
		server, _ = c.opts.Accounts.Account()
	}
	c.mu.Lock()
	c.server = server
	c.mu.Unlock()
}

// follow takes the feed's events until ctx ends. A subscription ends when
// the relay restarts (signing in or out); follow then subscribes again and
// reloads what the window shows from the new relay.
func (c *Controller) follow(ctx context.Context, sub *hub.Subscriber) {
	for {
		for open := true; open; {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case e, ok := <-sub.Events():
				if !ok {
					open = false
					break
				}
				c.onEvent(e)
			}
		}
		sub.Close()
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		sub = c.opts.Feed.Subscribe(1024)
		c.loadFeed()
		c.loadAccount()
		fyne.Do(c.refresh)
	}
}

// OnPlayerChange is the player's OnChange callback.
func (c *Controller) OnPlayerChange(player.State) { fyne.Do(c.refresh) }

func (c *Controller) onEvent(e event.Event) {
	switch e.Type {
	case event.TypeCall:
		call := *e.Call
		c.opts.Player.Enqueue(call)
		c.addHistory(call, true)
		c.maybeNotify(call)
	case event.TypeTranscript:
		c.mu.Lock()
		for i := range c.history {
			if c.history[i].ID == e.Transcript.CallID {
				c.history[i].Transcript = e.Transcript.Text
				c.histRev++
			}
		}
		c.mu.Unlock()
	case event.TypeCatalog:
		if e.Catalog != nil {
			c.mu.Lock()
			c.catalog = e.Catalog.Clone()
			c.rebuildDirLocked()
			c.mu.Unlock()
		}
	case event.TypeResync, event.TypeReset:
		// Fell behind a burst (the calls missed are in the relay's
		// history, not worth queueing now), or the server's ids
		// started again: show what the relay holds.
		c.loadFeed()
	}
	fyne.Do(c.refresh)
}

func (c *Controller) addHistory(call event.Call, front bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addHistoryLocked(call, front) {
		c.rebuildDirLocked()
	}
}

// addHistoryLocked adds a call to the history and reports whether it
// showed a talkgroup (or a talkgroup's labels) not seen before.
func (c *Controller) addHistoryLocked(call event.Call, front bool) bool {
	c.histRev++
	if front {
		c.history = append([]event.Call{call}, c.history...)
	} else {
		c.history = append(c.history, call)
	}
	if len(c.history) > maxHistory {
		c.history = c.history[:maxHistory]
	}
	key := player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}
	info := tgInfo{
		SystemLabel: call.SystemLabel, Label: call.TalkgroupLabel, Name: call.TalkgroupName,
		Group: call.TalkgroupGroup, Tag: call.TalkgroupTag,
	}
	if old, ok := c.seen[key]; ok && old == info {
		return false
	}
	c.seen[key] = info
	return true
}

// maybeNotify sends a desktop notification for a "notify me" talkgroup, at
// most one per talkgroup per minute.
func (c *Controller) maybeNotify(call event.Call) {
	key := player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}
	now := c.opts.Now()
	c.mu.Lock()
	if !c.notify[key] || now.Sub(c.notified[key]) < notifyPerTGIn {
		c.mu.Unlock()
		return
	}
	c.notified[key] = now
	c.mu.Unlock()
	body := call.SystemLabel
	if call.Transcript != "" {
		body += ": " + call.Transcript
	}
	n := fyne.NewNotification(callTitle(call), body)
	fyne.Do(func() { c.app.SendNotification(n) })
}

// View is the current view (safe from any goroutine).
func (c *Controller) View() View {
	st := c.opts.Player.State()
	rep := c.opts.Feed.Status()
	c.mu.Lock()
	server := c.server
	c.mu.Unlock()
	return View{
		Backend: rep.Backend.State, Reason: rep.Backend.Reason, Problem: rep.Backend.Problem, Server: rep.Backend.Server, User: rep.Backend.User,
		Call: st.Call, Paused: st.Paused, Live: st.Live, Muted: st.Muted, Queue: st.Queue, Device: st.Device,
		Listeners: rep.Backend.Listeners, SignedIn: server != "", Demo: c.opts.Demo || server == "",
		Holding: st.Filter.Hold != nil,
	}
}

// refresh brings the tray and the window up to date. Call it on the Fyne
// goroutine (through fyne.Do from elsewhere).
func (c *Controller) refresh() {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	c.refreshLocked()
}

// onUI runs f on the Fyne goroutine with uiMu held, as every update made
// for a goroutine must be: Fyne's driver runs fyne.Do functions one at a
// time, but its test driver runs them on the caller's goroutine, at once.
// With wait it returns once f has run (fyne.DoAndWait).
func (c *Controller) onUI(wait bool, f func()) {
	locked := func() {
		c.uiMu.Lock()
		defer c.uiMu.Unlock()
		f()
	}
	if wait {
		fyne.DoAndWait(locked)
	} else {
		fyne.Do(locked)
	}
}

// refreshLocked is refresh with uiMu held.
func (c *Controller) refreshLocked() {
	v := c.View()
	st := c.opts.Player.State()
	c.mu.Lock()
	c.view = v
	c.mu.Unlock()
	c.refreshTray(v)
	if st.FFmpegMissing && !c.ffmpegTold {
		// Said once per run; the window keeps saying it while it holds.
		c.ffmpegTold = true
		c.app.SendNotification(fyne.NewNotification("Earshot: some calls need ffmpeg", ffmpegAdvice))
	}
	if c.win != nil {
		c.win.update(v, st)
	}
}

// ffmpegAdvice is the one clear message for a missing ffmpeg.
const ffmpegAdvice = "Some calls need ffmpeg to play (M4A/AAC, Ogg): install it (Debian: apt install ffmpeg)."

// refreshTray updates the tray icon, tooltip and menu, each only when what
// it shows changed: a playing call's position ticks several times a
// second, and rebuilding the menu would reset an open menu under the
// pointer. Call it with uiMu held.
func (c *Controller) refreshTray(v View) {
	desk, ok := c.app.(desktop.App)
	if !ok || !c.trayUp {
		return
	}
	if c.tray.show(v) {
		// What (*fyne.Menu).Refresh does for the tray's menu: the driver
		// rebuilds the tray's items from the same *fyne.Menu.
		desk.SetSystemTrayMenu(c.tray.menu)
	}
	if icon := c.icons.For(v); icon != c.trayIcon {
		c.trayIcon = icon
		desk.SetSystemTrayIcon(icon)
	}
	if tip := v.Tooltip(); tip != c.trayTip {
		c.trayTip = tip
		c.opts.SetTooltip(tip)
	}
}

// Actions are the tray's (and the keyboard's) actions.
func (c *Controller) Actions() Actions {
	p := c.opts.Player
	after := func(f func()) func() {
		return func() { f(); c.savePrefs(); c.refresh() }
	}
	return Actions{
		OpenPlayer:    c.ShowPlayer,
		ToggleLive:    after(func() { p.SetLive(!p.State().Live) }),
		PauseResume:   after(p.TogglePause),
		Skip:          after(p.Skip),
		ToggleMute:    after(p.ToggleMute),
		HoldTalkgroup: after(c.holdCurrent),
		CopyStreamURL: c.copyStreamURL,
		ManageTokens:  c.ShowTokens,
		SignIn:        c.ShowSignIn,
		SignOut:       c.signOut,
		Quit:          c.opts.Quit,
	}
}

func (c *Controller) holdCurrent() {
	p := c.opts.Player
	st := p.State()
	if f := p.Filter(); f.Hold != nil {
		p.ReleaseHold()
		return
	}
	if st.Call != nil {
		p.HoldTalkgroup(st.Call.SystemID, st.Call.TalkgroupID, time.Time{})
	}
}

// ShowPlayer shows the playback window and brings it forward.
func (c *Controller) ShowPlayer() {
	if c.win == nil {
		c.win = newPlayerWindow(c)
	}
	c.win.w.Show()
	c.win.w.RequestFocus()
}

// parent is the context background work derives from: Start's.
func (c *Controller) parent() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// background runs f off the UI goroutine with a context that ends with
// Start's (or after timeout); Wait waits for it.
func (c *Controller) background(timeout time.Duration, f func(ctx context.Context)) {
	parent := c.parent()
	c.ops.Add(1)
	go func() {
		defer c.ops.Done()
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		f(ctx)
	}()
}

func (c *Controller) copyStreamURL() {
	if c.opts.StreamURL == nil {
		return
	}
	c.background(10*time.Second, func(ctx context.Context) {
		u, err := c.opts.StreamURL(ctx)
		c.onUI(false, func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Could not make a stream URL: "+err.Error()))
				return
			}
			c.app.Clipboard().SetContent(u)
			c.app.SendNotification(fyne.NewNotification("Earshot", "Live stream URL copied"))
		})
	})
}

func (c *Controller) signOut() {
	if c.opts.Accounts == nil {
		return
	}
	c.background(15*time.Second, func(ctx context.Context) {
		err := c.opts.Accounts.SignOut(ctx)
		c.loadAccount()
		c.onUI(false, func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Sign-out failed: "+err.Error()))
			}
			c.refreshLocked()
		})
	})
}

// History is the recent calls, newest first.
func (c *Controller) History() []event.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Call(nil), c.history...)
}

func (c *Controller) historyRev() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.histRev
}

// SetNotify marks a talkgroup "notify me".
func (c *Controller) SetNotify(t player.Talkgroup, on bool) {
	c.mu.Lock()
	if on {
		c.notify[t] = true
	} else {
		delete(c.notify, t)
	}
	c.mu.Unlock()
	c.savePrefs()
}

// closeIntercept hides the window to the tray when a tray host shows the
// icon now (asked again at every close: a panel may have gone or come);
// otherwise closing quits, so Earshot never runs unreachable.
func (c *Controller) closeIntercept() {
	c.uiMu.Lock()
	trayUp := c.trayUp
	c.uiMu.Unlock()
	if trayUp && c.opts.TrayHost() {
		c.win.w.Hide()
		return
	}
	c.opts.Quit()
}
