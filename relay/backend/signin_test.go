package backend

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// generations are the OpenScanner generations in the field, named as the
// tests' subtests.
var generations = []struct {
	name string
	gen  backendtest.Generation
}{
	{"1.3", backendtest.Gen133},
	{"1.2", backendtest.Gen120},
	{"1.1", backendtest.Gen112},
}

// refreshCookieSpy records, for every request a session sends, the path and
// how many refresh_token cookies rode along.
type refreshCookieSpy struct {
	mu   sync.Mutex
	sent map[string][]int // path → refresh cookies per request
}

func (sp *refreshCookieSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	n := 0
	for _, c := range r.Cookies() {
		if c.Name == refreshCookieName {
			n++
		}
	}
	sp.mu.Lock()
	if sp.sent == nil {
		sp.sent = map[string][]int{}
	}
	sp.sent[r.URL.Path] = append(sp.sent[r.URL.Path], n)
	sp.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// check fails unless the refresh token went, exactly once per request, to
// the refresh and logout routes only.
func (sp *refreshCookieSpy) check(t *testing.T) {
	t.Helper()
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for path, counts := range sp.sent {
		want := 0
		if strings.HasSuffix(path, "/auth/refresh") || strings.HasSuffix(path, "/auth/logout") {
			want = 1
		}
		for _, n := range counts {
			if n != want {
				t.Errorf("a request to %s carried %d refresh_token cookies, want %d", path, n, want)
			}
		}
	}
}

// TestSignInRefreshLogoutAndRestartOnEveryGeneration signs in, refreshes
// (each rotation persisted before use), fetches audio, restarts from the
// stored refresh token as the next start of Earshot would, refreshes
// again, and signs out, against each generation's fake server. 1.2 and 1.1
// set refresh_token with Path=/api/auth (1.3: /api): before the session
// read the token from the answers, sign-in failed there with "the sign-in
// answer has no token".
func TestSignInRefreshLogoutAndRestartOnEveryGeneration(t *testing.T) {
	for _, g := range generations {
		t.Run(g.name, func(t *testing.T) {
			clk := backendtest.NewManualClock(time.Now())
			srv := fake(t, backendtest.Options{Generation: g.gen, Clock: clk})
			id, audio := addCall(srv)
			spy := &refreshCookieSpy{}
			client := &http.Client{Transport: spy, Timeout: 10 * time.Second}
			ctx := context.Background()

			sv := &saved{}
			s, err := New(Options{ServerURL: srv.URL(), Username: user, SaveRefreshToken: sv.save, Now: clk.Now, HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			first, err := s.Login(ctx, user, pass)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if len(first) != 64 || s.refreshToken() != first {
				t.Fatalf("Login returned a %d-character refresh token; the session holds %q", len(first), s.refreshToken())
			}
			if got, err := fetch(t, s, id); err != nil || !bytes.Equal(got, audio) {
				t.Fatalf("audio after sign-in: %v", err)
			}

			// Past the access token's refresh margin: the next fetch
			// refreshes first, and the rotated token is kept.
			clk.Advance(15 * time.Minute)
			if got, err := fetch(t, s, id); err != nil || !bytes.Equal(got, audio) {
				t.Fatalf("audio after expiry: %v", err)
			}
			second := s.refreshToken()
			if second == first || sv.last() != second {
				t.Fatalf("refresh: token rotated %v, persisted the newest %v", second != first, sv.last() == second)
			}
			if c := srv.Counters(); c.Refreshes != 1 || c.RefreshFailures != 0 {
				t.Fatalf("counters %+v: want one refresh", c)
			}

			// The next start of Earshot: only the stored refresh token.
			restarted := &saved{}
			s2, err := New(Options{ServerURL: srv.URL(), Username: user, RefreshToken: sv.last(),
				SaveRefreshToken: restarted.save, Now: clk.Now, HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := fetch(t, s2, id); err != nil || !bytes.Equal(got, audio) {
				t.Fatalf("audio after a restart from the stored token: %v", err)
			}
			clk.Advance(15 * time.Minute)
			if _, err := fetch(t, s2, id); err != nil {
				t.Fatalf("audio after a second refresh: %v", err)
			}
			if len(restarted.tokens) != 2 || restarted.last() != s2.refreshToken() || restarted.tokens[0] == second {
				t.Fatalf("after the restart %d rotations were persisted, want 2, each new", len(restarted.tokens))
			}
			if c := srv.Counters(); c.Refreshes != 3 || c.RevokedFamilies != 0 || c.Logins != 1 {
				t.Fatalf("counters %+v: want three refreshes, one password sign-in, nothing revoked", c)
			}

			if err := s2.Logout(ctx); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			if c := srv.Counters(); c.Logouts != 1 || c.RevokedFamilies != 1 {
				t.Fatalf("counters %+v: want the family revoked by the logout", c)
			}
			after, _ := New(Options{ServerURL: srv.URL(), Username: user, RefreshToken: restarted.last(), Now: clk.Now})
			if _, err := fetch(t, after, id); !IsSignInAgain(err) {
				t.Fatalf("the signed-out token: %v, want ErrSignInAgain", err)
			}
			spy.check(t)
		})
	}
}

// TestPasswordChangeRequestIsToldOnce: an account an admin created is
// asked for a new password at sign-in (passwordNeedChange, on every
// generation). Sign-in works; the session says so in its status — once,
// not again at every refresh — and a session started from the stored
// sign-in is told by its caller.
func TestPasswordChangeRequestIsToldOnce(t *testing.T) {
	for _, g := range generations {
		t.Run(g.name, func(t *testing.T) {
			clk := backendtest.NewManualClock(time.Now())
			srv := backendtest.NewServer(backendtest.Options{Generation: g.gen, Clock: clk})
			t.Cleanup(srv.Close)
			s, err := New(Options{ServerURL: srv.URL(), Username: user, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status().PasswordChange {
				t.Fatal("a session that has not signed in reports a password change")
			}
			if _, err := s.Login(context.Background(), user, pass); err != nil {
				t.Fatalf("Login: %v (sign-in must work while the server asks for a new password)", err)
			}
			st := s.Status()
			if !s.PasswordChangeRequested() || !st.PasswordChange || !strings.Contains(st.Problem, "change your password") {
				t.Fatalf("status %+v: want the password change said", st)
			}
			col := run(t, s)
			col.waitFor(t, "the live feed", func(c *collector) bool { return c.state() == event.StateConnected })
			clk.Advance(15 * time.Minute) // a refresh: its answer has no passwordNeedChange
			col.waitFor(t, "a refresh", func(*collector) bool { return srv.Counters().Refreshes > 0 })
			col.mu.Lock()
			for _, st := range col.states {
				if !st.PasswordChange {
					t.Errorf("status %+v lost the password change", st)
				}
			}
			col.mu.Unlock()

			// Once the user has changed it, a new sign-in says nothing.
			srv.ChangePassword(user, "changed")
			again, _ := New(Options{ServerURL: srv.URL(), Username: user, PasswordChangeRequested: true})
			if !again.Status().PasswordChange {
				t.Fatal("Options.PasswordChangeRequested not in the status")
			}
			if _, err := again.Login(context.Background(), user, "changed"); err != nil {
				t.Fatal(err)
			}
			if st := again.Status(); st.PasswordChange || st.Problem != "" {
				t.Fatalf("status %+v after the password was changed", st)
			}
		})
	}
}

// loseFirstRefreshAnswer delivers the first refresh request to the server
// (which rotates the token) and then loses the answer, as a connection
// reset or a silent link does.
type loseFirstRefreshAnswer struct {
	mu   sync.Mutex
	lost bool
}

func (l *loseFirstRefreshAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && strings.HasSuffix(r.URL.Path, "/auth/refresh") && !l.lost {
		l.lost = true
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// TestRefreshWhoseAnswerWasLostIsAskedAgainInTime: the server rotated the
// refresh token but its answer never arrived. The session asks again at
// once with the same token (inside the server's 30-second grace, which
// gives the same successor) instead of failing and coming back after a
// back-off that may outlast the grace — the server would take that for
// theft and revoke the family, signing the user out.
func TestRefreshWhoseAnswerWasLostIsAskedAgainInTime(t *testing.T) {
	clk := backendtest.NewManualClock(time.Now())
	srv := fake(t, backendtest.Options{Clock: clk})
	sv := &saved{}
	s, err := New(Options{ServerURL: srv.URL(), Username: user, SaveRefreshToken: sv.save, Now: clk.Now,
		HTTPClient: &http.Client{Transport: &loseFirstRefreshAnswer{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(context.Background(), user, pass); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Minute)
	if _, err := s.accessToken(context.Background()); err != nil {
		t.Fatalf("a refresh whose first answer was lost: %v", err)
	}
	c := srv.Counters()
	if c.Refreshes != 2 || c.RevokedFamilies != 0 || len(sv.tokens) != 1 || sv.last() != s.refreshToken() {
		t.Fatalf("counters %+v, %d tokens kept: want the same successor twice, nothing revoked, it kept", c, len(sv.tokens))
	}
	clk.Advance(15 * time.Minute)
	if _, err := s.accessToken(context.Background()); err != nil || srv.Counters().Refreshes != 3 {
		t.Fatalf("the next refresh: %v", err)
	}
}
