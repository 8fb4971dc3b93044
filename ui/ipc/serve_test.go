package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"earshot/relay"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
	"earshot/relay/tokens"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// hangGuard bounds waits that would otherwise hang a broken test; it is
// never a timing assertion.
const hangGuard = 10 * time.Second

type silentOutput struct{}

func (silentOutput) SampleRate() int                        { return 48000 }
func (silentOutput) Start(context.Context, io.Reader) error { return errors.New("no sound in tests") }
func (silentOutput) Err() error                             { return nil }

type noAudio struct{}

func (noAudio) Audio(context.Context, int64) (*cache.Entry, error) {
	return nil, errors.New("no audio in tests")
}

// quietFeed is a relay feed that sends what the test publishes.
type quietFeed struct{ hub *hub.Hub }

func (f quietFeed) Subscribe(n int) *hub.Subscriber { return f.hub.Subscribe(n) }
func (quietFeed) Calls(relay.Query) []event.Call    { return nil }
func (quietFeed) Catalog() event.Catalog            { return event.Catalog{} }
func (quietFeed) Status() relay.Report {
	return relay.Report{Backend: event.Status{State: event.StateConnected}}
}
func (f quietFeed) publish(e event.Event)        { f.hub.Publish(e) }
func (quietFeed) account() (server, user string) { return "https://scanner.example.org", "alice" }

// fakeResident is the resident as the window's commands reach it.
type fakeResident struct {
	core      *listening.Core
	mu        sync.Mutex
	did       []string
	autostart bool
	quit      chan struct{}
}

func (r *fakeResident) rec(s string) {
	r.mu.Lock()
	r.did = append(r.did, s)
	r.mu.Unlock()
}

func (r *fakeResident) Core() *listening.Core { return r.core }
func (r *fakeResident) Accounts() Accounts    { return fakeAccounts{r} }
func (r *fakeResident) Tokens() tokens.Admin  { return nil }
func (r *fakeResident) BaseURL() string       { return "http://127.0.0.1:7373" }
func (r *fakeResident) Quit()                 { close(r.quit) }
func (r *fakeResident) StreamURL(context.Context) (string, error) {
	return "ws://127.0.0.1:7373/v1/live?token=t", nil
}
func (r *fakeResident) Autostart() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.autostart, nil
}
func (r *fakeResident) SetAutostart(on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.autostart = on
	return nil
}
func (r *fakeResident) Copy(_ context.Context, text string) error {
	r.rec("copy " + text)
	if text == "refuse" {
		return &Error{Kind: KindUnavailable, Message: "no clipboard program found"}
	}
	return nil
}

type fakeAccounts struct{ r *fakeResident }

func (a fakeAccounts) Account() (string, string) { return "https://scanner.example.org", "alice" }
func (a fakeAccounts) Probe(context.Context, string) (bool, error) {
	return false, nil
}
func (a fakeAccounts) SignIn(_ context.Context, server, user, password string, _ bool) error {
	a.r.rec("signIn " + server + " " + user)
	if password != "right" {
		return &Error{Kind: KindCredentials, Message: "the server refused the user name or password"}
	}
	return nil
}
func (a fakeAccounts) SignOut(context.Context) error { return errors.New("the keyring is locked") }

// pair connects a window's Client to Serve over two pipes, as the window
// process's stdin and stdout do, and returns both ends' closers.
func pair(t *testing.T, res Resident) (c *Client, closeWindow, closeResident func(), served, ran chan error) {
	return pairWith(t, res, nil)
}

func pairWith(t *testing.T, res Resident, win WindowEvents) (c *Client, closeWindow, closeResident func(), served, ran chan error) {
	t.Helper()
	toWindowR, toWindowW := io.Pipe()
	toResR, toResW := io.Pipe()
	c = NewClient(NewConn(toWindowR, toResW))
	served, ran = make(chan error, 1), make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { served <- Serve(ctx, NewConn(toResR, toWindowW), res, win) }()
	go func() { ran <- c.Run(ctx) }()
	t.Cleanup(cancel)
	closeWindow = func() { toResW.Close(); toWindowR.Close() }
	closeResident = func() { toWindowW.Close(); toResR.Close() }
	return c, closeWindow, closeResident, served, ran
}

func newResident(t *testing.T) (*fakeResident, quietFeed) {
	t.Helper()
	feed := quietFeed{hub: hub.New(nil)}
	p, err := player.New(player.Options{Audio: noAudio{}, Output: silentOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	core := listening.New(listening.Options{Feed: feed, Player: p, Account: feed.account})
	p.OnChange(core.OnPlayerChange)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fakeResident{core: core, quit: make(chan struct{})}, feed
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !ok(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestTheWindowSeesTheCoresSnapshotsAndDrivesIt(t *testing.T) {
	res, _ := newResident(t)
	c, _, _, _, _ := pair(t, res)
	waitFor(t, "the first snapshot over the channel", func() bool { return c.Snapshot().Rev == res.core.Snapshot().Rev })
	c.SetMuted(true)
	waitFor(t, "the core muted by the window", func() bool { return res.core.Snapshot().Muted })
	waitFor(t, "the window seeing it muted", func() bool { return c.Snapshot().Muted })
	c.SetCatchUp(90 * time.Second)
	waitFor(t, "the catch-up setting", func() bool { return c.Snapshot().CatchUp == 90*time.Second })
	c.Quit()
	select {
	case <-res.quit:
	case <-time.After(hangGuard):
		t.Fatal("Quit from the window did not reach the resident")
	}
}

func TestRequestsGetTheirOwnTypedReplies(t *testing.T) {
	res, _ := newResident(t)
	c, _, _, _, _ := pair(t, res)
	ctx := context.Background()
	err := c.SignIn(ctx, "https://scanner.example.org", "alice", "wrong", false)
	if !IsKind(err, KindCredentials) {
		t.Fatalf("a refused sign-in: %v, want a credentials error", err)
	}
	if err := c.SignIn(ctx, "https://scanner.example.org", "alice", "right", false); err != nil {
		t.Fatalf("a good sign-in: %v", err)
	}
	if err := c.SignOut(ctx); !IsKind(err, KindOther) || err.Error() != "the keyring is locked" {
		t.Fatalf("a failed sign-out: %v", err)
	}
	if err := c.Copy(ctx, "ws://127.0.0.1:7373/v1/live?token=t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Copy(ctx, "refuse"); !IsKind(err, KindUnavailable) {
		t.Fatalf("a copy with no clipboard program: %v", err)
	}
	if u, err := c.StreamURL(ctx); err != nil || u != "ws://127.0.0.1:7373/v1/live?token=t" {
		t.Fatalf("stream URL %q, %v", u, err)
	}
	if err := c.SetAutostart(ctx, true); err != nil {
		t.Fatal(err)
	}
	if on, err := c.Autostart(ctx); err != nil || !on {
		t.Fatalf("autostart after turning it on: %v, %v", on, err)
	}
	// Many at once: each reply reaches its own request.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if s, u := c.Account(); s != "https://scanner.example.org" || u != "alice" {
				t.Errorf("account %q %q", s, u)
			}
		})
	}
	wg.Wait()
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.did) != 4 || res.did[2] != "copy ws://127.0.0.1:7373/v1/live?token=t" {
		t.Fatalf("the resident did %q", res.did)
	}
}

// The window process ending (closed or killed) ends Serve, and nothing
// else: the core runs on.
func TestTheWindowGoingAwayEndsOnlyItsChannel(t *testing.T) {
	res, feed := newResident(t)
	c, closeWindow, _, served, _ := pair(t, res)
	waitFor(t, "the first snapshot", func() bool { return c.Snapshot().Rev > 0 })
	closeWindow()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after the window went away: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Serve did not notice the window went away")
	}
	before := res.core.Snapshot().Rev
	call := event.Call{ID: 1, SystemID: 1, TalkgroupID: 101, DateTime: time.Now().Unix()}
	feed.publish(event.Event{Type: event.TypeCall, Call: &call})
	waitFor(t, "the core taking a call after the window went away", func() bool { return res.core.Snapshot().Rev > before })
}

// The resident ending (quit or killed) ends the window's Run with
// ErrResidentGone, and a request in flight or made after it fails at once
// with a reason the window can show.
func TestTheResidentGoingAwayIsSaid(t *testing.T) {
	res, _ := newResident(t)
	c, _, closeResident, _, ran := pair(t, res)
	waitFor(t, "the first snapshot", func() bool { return c.Snapshot().Rev > 0 })
	closeResident()
	select {
	case err := <-ran:
		if !errors.Is(err, ErrResidentGone) {
			t.Fatalf("Run after the resident went away: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("the window did not notice the resident went away")
	}
	err := c.SignIn(context.Background(), "https://scanner.example.org", "alice", "right", false)
	if !IsKind(err, KindUnavailable) {
		t.Fatalf("a sign-in after the resident went away: %v", err)
	}
}

// windowEvents records what a window process says about itself.
type windowEvents struct {
	mu   sync.Mutex
	said []string
}

func (e *windowEvents) Shown(what string) {
	e.mu.Lock()
	e.said = append(e.said, "shown "+what)
	e.mu.Unlock()
}
func (e *windowEvents) Closing() { e.mu.Lock(); e.said = append(e.said, "closing"); e.mu.Unlock() }
func (e *windowEvents) CannotShow(reason string) {
	e.mu.Lock()
	e.said = append(e.said, "cannot: "+reason)
	e.mu.Unlock()
}

func (e *windowEvents) list() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.said, ",")
}

// The window process says when a window it was asked for is on screen and
// when it is ending, so the resident asks a new process for a window an
// ending one will never show (Open player clicked while the last window
// was closing went unanswered).
func TestTheWindowSaysWhatItShowedAndWhenItEnds(t *testing.T) {
	res, _ := newResident(t)
	ev := &windowEvents{}
	c, _, _, _, _ := pairWith(t, res, ev)
	c.Shown(ShowPlayer)
	c.Closing()
	waitFor(t, "both said", func() bool { return ev.list() == "shown player,closing" })
}

// A window process that cannot open a window (no display) says why before
// it ends, so the resident can tell the listener instead of starting it
// again; a reason too long for the channel is cut, not refused.
func TestTheWindowSaysItCannotShow(t *testing.T) {
	res, _ := newResident(t)
	ev := &windowEvents{}
	c, _, _, _, _ := pairWith(t, res, ev)
	why := "Earshot cannot open a window: no display (DISPLAY=:987 cannot be reached)"
	c.CannotShow(why)
	waitFor(t, "the reason said", func() bool { return ev.list() == "cannot: "+why })
	long := CannotShowMessage(strings.Repeat("é", MaxReason))
	if len(long.Text) > MaxReason || !utf8.ValidString(long.Text) || !strings.HasSuffix(long.Text, "…") {
		t.Fatalf("a long reason became %d bytes (valid UTF-8: %v)", len(long.Text), utf8.ValidString(long.Text))
	}
	b, err := json.Marshal(long)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err != nil {
		t.Fatalf("the cut reason is refused: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxReason+1)} {
		b, _ := json.Marshal(Message{Type: TypeCommand, Command: CmdCannotShow, Text: bad})
		if _, err := Decode(b); err == nil {
			t.Errorf("a reason of %d bytes was accepted", len(bad))
		}
	}
}
