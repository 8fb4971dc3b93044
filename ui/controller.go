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
	// TrayHost reports whether a StatusNotifier host shows tray icons; when
	// it does not, closing the window quits (never leaving Earshot running
	// unreachable).
	TrayHost func() bool
	// StreamURL returns a ready live-feed URL with a listen token (made on
	// first use) for "Copy stream URL".
	StreamURL func(ctx context.Context) (string, error)
	// Quit ends the app (stops the relay, then the Fyne app).
	Quit func()
	// Now is the clock (notifications' rate limit); nil means time.Now.
	Now func() time.Time
}

// Controller owns the windows and the tray and keeps them current.
type Controller struct {
	opts  Options
	app   fyne.App
	log   *slog.Logger
	icons iconCache

	mu         sync.Mutex
	view       View
	history    []event.Call // newest first
	histRev    int          // bumped on every change to history
	talkgroups map[player.Talkgroup]tgInfo
	notify     map[player.Talkgroup]bool
	notified   map[player.Talkgroup]time.Time

	// uiMu serializes window updates. Fyne's own driver runs fyne.Do
	// functions one at a time on its goroutine; the test driver runs them
	// on the caller's, so the controller does not rely on that.
	uiMu sync.Mutex

	trayHost bool // decided once at Start

	win    *playerWindow
	signin fyne.Window
	tokens fyne.Window
}

// tgInfo is what the checklist shows of a talkgroup seen in the feed.
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
	if opts.TrayHost == nil {
		opts.TrayHost = func() bool { return false }
	}
	if opts.Quit == nil {
		opts.Quit = func() { opts.App.Quit() }
	}
	c := &Controller{
		opts: opts, app: opts.App, log: opts.Logger, icons: iconCache{},
		talkgroups: map[player.Talkgroup]tgInfo{},
		notify:     map[player.Talkgroup]bool{},
		notified:   map[player.Talkgroup]time.Time{},
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
	for _, call := range c.opts.Feed.Calls(relay.Query{Limit: maxHistory}) {
		c.addHistory(call, false)
	}
	c.win = newPlayerWindow(c)
	c.refresh()
	desk, isDesktop := c.app.(desktop.App)
	c.trayHost = isDesktop && c.opts.TrayHost()
	c.log.Info("starting the UI", "tray", c.trayHost)
	if c.trayHost {
		desk.SetSystemTrayMenu(c.menu())
		desk.SetSystemTrayIcon(c.icons.For(c.View()))
	} else {
		c.win.w.Show()
	}
	// Subscribe before returning, so no event published after Start is lost.
	go c.follow(ctx, c.opts.Feed.Subscribe(1024))
}

// follow takes the feed's events until ctx ends. A subscription ends when
// the relay restarts (signing in or out); follow then subscribes again.
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
	}
	fyne.Do(c.refresh)
}

func (c *Controller) addHistory(call event.Call, front bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.histRev++
	if front {
		c.history = append([]event.Call{call}, c.history...)
	} else {
		c.history = append(c.history, call)
	}
	if len(c.history) > maxHistory {
		c.history = c.history[:maxHistory]
	}
	c.talkgroups[player.Talkgroup{SystemID: call.SystemID, TalkgroupID: call.TalkgroupID}] = tgInfo{
		SystemLabel: call.SystemLabel, Label: call.TalkgroupLabel, Name: call.TalkgroupName,
		Group: call.TalkgroupGroup, Tag: call.TalkgroupTag,
	}
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
	c.app.SendNotification(fyne.NewNotification(callTitle(call), body))
}

// View is the current view (safe from any goroutine).
func (c *Controller) View() View {
	st := c.opts.Player.State()
	rep := c.opts.Feed.Status()
	v := View{
		Backend: rep.Backend.State, Reason: rep.Backend.Reason, Server: rep.Backend.Server, User: rep.Backend.User,
		Call: st.Call, Paused: st.Paused, Live: st.Live, Muted: st.Muted, Queue: st.Queue, Device: st.Device,
		Listeners: rep.Backend.Listeners,
	}
	if c.opts.Accounts != nil {
		server, _ := c.opts.Accounts.Account()
		v.SignedIn = server != ""
	}
	return v
}

// refresh brings the tray and the window up to date. Call it on the Fyne
// goroutine (through fyne.Do from elsewhere).
func (c *Controller) refresh() {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	v := c.View()
	c.mu.Lock()
	c.view = v
	c.mu.Unlock()
	if desk, ok := c.app.(desktop.App); ok && c.trayHost {
		desk.SetSystemTrayMenu(c.menu())
		desk.SetSystemTrayIcon(c.icons.For(v))
		// Fyne has no tooltip API; its tray library does (a no-op until
		// the tray is up).
		systray.SetTooltip(v.Tooltip())
	}
	if c.win != nil {
		c.win.update(v, c.opts.Player.State())
	}
}

// menu builds the tray menu for the current view.
func (c *Controller) menu() *fyne.Menu {
	return TrayMenu(c.View(), c.Actions())
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

func (c *Controller) copyStreamURL() {
	if c.opts.StreamURL == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u, err := c.opts.StreamURL(ctx)
		fyne.Do(func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Could not make a stream URL: "+err.Error()))
				return
			}
			c.app.Clipboard().SetContent(u)
			c.app.SendNotification(fyne.NewNotification("Earshot", "Live stream URL copied"))
		})
	}()
}

func (c *Controller) signOut() {
	if c.opts.Accounts == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := c.opts.Accounts.SignOut(ctx)
		fyne.Do(func() {
			if err != nil {
				c.app.SendNotification(fyne.NewNotification("Earshot", "Sign-out failed: "+err.Error()))
			}
			c.refresh()
		})
	}()
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

// closeIntercept hides the window to the tray when a tray host exists;
// otherwise closing quits, so Earshot never runs unreachable.
func (c *Controller) closeIntercept() {
	if c.trayHost {
		c.win.w.Hide()
		return
	}
	c.opts.Quit()
}
