package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// The CLI dead end: `earshot login` while Earshot ran said "Run `earshot
// relay`" (which could not start: the running one held the port) and the
// running one kept playing the demo. Now login tells the running relay,
// which puts the new account behind itself: a /v1/live consumer keeps its
// connection and gets reset(account), and the status names the server.
func TestLoginWhileEarshotRunsSwitchesTheRunningRelay(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, out, _ := testEnv(t, "")
	token, base := runRelay(t, env, out) // no account: the demo server
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/live?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	env.Stdin = strings.NewReader(testPassword + "\n")
	before := out.String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := Run(ctx, env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login: exit %d\n%s", code, out.String())
	}
	said := strings.TrimPrefix(out.String(), before)
	if !strings.Contains(said, "switched to it") || strings.Contains(said, "Run `earshot relay`") {
		t.Fatalf("login said %q; want it to say the running Earshot switched", said)
	}
	// The consumer's connection carries on, with a reset for the account.
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a hang guard
	for {
		var e event.Event
		if err := c.ReadJSON(&e); err != nil {
			t.Fatalf("the live feed ended instead of announcing the new account: %v", err)
		}
		if e.Type == event.TypeReset {
			if e.Reason != event.ResetAccount {
				t.Fatalf("reset reason %q, want %q", e.Reason, event.ResetAccount)
			}
			break
		}
	}
	waitFor(t, "the relay's status naming the account's server", func() bool {
		resp, body := getWithToken(t, base+"/v1/status", token)
		var st struct {
			Backend event.Status `json:"backend"`
		}
		return resp.StatusCode == 200 && json.Unmarshal(body, &st) == nil &&
			st.Backend.Server == fake.URL() && st.Backend.User == testUser
	})
}

// A relay started with --demo keeps the demo whatever the account: login
// says so instead of claiming it switched.
func TestLoginWhileADemoRelayRunsSaysItKeepsTheDemo(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, out, _ := testEnv(t, "")
	runRelay(t, env, out, "--demo")
	env.Stdin = strings.NewReader(testPassword + "\n")
	before := out.String()
	if code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login: exit %d\n%s", code, out.String())
	}
	if said := strings.TrimPrefix(out.String(), before); !strings.Contains(said, "--demo") {
		t.Fatalf("login said %q; want it to say the running Earshot keeps the demo (--demo)", said)
	}
}
