package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"
)

// TestLogin_OneTokenCannotLogOthersOut: a holder of one listen token that
// logs in thousands of times ends only its own sessions (4,000 logins in
// 0.4 s used to evict an arbitrary 10 of the victims' sessions).
func TestLogin_OneTokenCannotLogOthersOut(t *testing.T) {
	_, src, auth, ts := newTestServerOpts(t, Options{})
	src.addCall(t, 1, wavFile(64))
	const victimToken = "victim-listen-token"
	auth.add(victimToken, Identity{TokenID: "victim", Scope: ScopeListen})

	victim := make([]*http.Client, 10)
	for i := range victim {
		jar, _ := cookiejar.New(nil)
		victim[i] = &http.Client{Jar: jar}
		resp, err := victim[i].Get(ts.URL + "/login?token=" + victimToken)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	noRedirect := ts.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	codes := map[int]int{}
	for range 4000 {
		resp, err := noRedirect.Get(ts.URL + "/login?token=" + goodToken)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[http.StatusSeeOther] > maxLoginsPerMinute || codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("a login flood got %v: want at most %d logins a minute, then 429", codes, maxLoginsPerMinute)
	}
	for i, c := range victim {
		resp, err := c.Get(ts.URL + "/v1/calls/1/audio")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("victim session %d after another token's login flood: %d, want 200", i, resp.StatusCode)
		}
	}
}

func TestWebSessions_CapsAndRate(t *testing.T) {
	var ws webSessions
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// Another token's sessions, made first.
	var others []string
	for i := range 5 {
		id, err := ws.create("other", now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, id)
	}
	// One token past its cap: its own oldest go, first in, first out.
	var mine []string
	for i := range maxSessionsPerToken + 3 {
		at := now.Add(time.Duration(i) * 4 * time.Second) // under the rate
		id, err := ws.create("mine", at)
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		mine = append(mine, id)
	}
	at := now.Add(2 * time.Minute)
	for i, id := range mine {
		_, ok := ws.lookup(id, at)
		if want := i >= 3; ok != want {
			t.Errorf("session %d of %d alive = %v, want %v", i, len(mine), ok, want)
		}
	}
	for _, id := range others {
		if _, ok := ws.lookup(id, at); !ok {
			t.Fatal("another token's session was ended")
		}
	}
	// The rate: maxLoginsPerMinute in a minute, then refused until it passes.
	base := now.Add(time.Hour)
	for i := range maxLoginsPerMinute {
		if _, err := ws.create("fast", base.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if _, err := ws.create("fast", base.Add(time.Second)); !errors.Is(err, errLoginRateLimited) {
		t.Fatalf("login over the rate: %v", err)
	}
	if _, err := ws.create("slow", base.Add(time.Second)); err != nil {
		t.Fatalf("another token is not limited by the first's rate: %v", err)
	}
	if _, err := ws.create("fast", base.Add(61*time.Second)); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}

// A full table refuses a new login rather than end another token's
// session.
func TestWebSessions_FullTableEvictsNoOtherToken(t *testing.T) {
	var ws webSessions
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	for tok := 0; n < maxSessions; tok++ {
		for i := 0; i < maxSessionsPerToken && n < maxSessions; i++ {
			if _, err := ws.create(fmt.Sprint("t", tok), now.Add(time.Duration(n)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if _, err := ws.create("newcomer", now.Add(time.Minute)); !errors.Is(err, errSessionsFull) {
		t.Fatalf("a login into a full table: %v, want errSessionsFull", err)
	}
	if len(ws.m) != maxSessions {
		t.Fatalf("%d sessions, want %d", len(ws.m), maxSessions)
	}
	// Once sessions expire, there is room again.
	if _, err := ws.create("newcomer", now.Add(sessionTTL+time.Hour)); err != nil {
		t.Fatal(err)
	}
}
