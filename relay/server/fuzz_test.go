package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLimiter_BlocksForAMinuteThenForgives(t *testing.T) {
	var l failureLimiter
	now := time.Unix(1_700_000_000, 0)
	for i := 1; i <= maxFailures; i++ {
		if l.fail("127.0.0.1", now) {
			t.Fatalf("attempt %d limited, want only after %d", i, maxFailures)
		}
	}
	if !l.fail("127.0.0.1", now.Add(time.Second)) {
		t.Fatal("attempt after the limit not limited")
	}
	if l.fail("127.0.0.2", now) {
		t.Fatal("another client limited")
	}
	if l.fail("127.0.0.1", now.Add(blockFor+time.Second)) {
		t.Fatal("still limited after the block")
	}
	// Failures spread over more than a window never add up to a block.
	var m failureLimiter
	for i := 0; i < 100; i++ {
		if m.fail("c", now.Add(time.Duration(i)*4*time.Second)) {
			t.Fatalf("slow failures limited at %d", i)
		}
	}
}

// FuzzAudioRange throws arbitrary Range and If-* headers at the audio route:
// it must answer 200, 206, 304, 412 or 416, never panic, and never send more
// bytes than the file has.
func FuzzAudioRange(f *testing.F) {
	for _, r := range []string{"bytes=0-99", "bytes=-1", "bytes=5-", "bytes=0-0,2-3", "bytes=9999-", "bytes=1-0", "bytes=", "items=1-2", "bytes=0-1,0-1,0-1"} {
		f.Add(r, "")
	}
	f.Add("", `"nope"`)
	src := newFakeSource(f)
	auth := newFakeAuth()
	s, err := New(Options{Source: src, Auth: auth})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	const size = 1000
	if _, err := src.cache.Put("1", wavFile(size)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rng, ifNoneMatch string) {
		req := httptest.NewRequest("GET", "/v1/calls/1/audio", nil)
		req.Host = "127.0.0.1:7373"
		req.Header.Set("Authorization", "Bearer "+goodToken)
		req.Header.Set("Range", rng)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case 200, 206, 304, 412, 416:
		default:
			t.Fatalf("Range %q: status %d", rng, w.Code)
		}
		if w.Code == 206 && !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/") && w.Body.Len() > size {
			t.Fatalf("Range %q: %d bytes from a %d-byte file", rng, w.Body.Len(), size)
		}
	})
}

// FuzzCookieExchange throws arbitrary login tokens and session cookies at
// the web player: only the valid token yields a session, and a made-up
// cookie never authenticates.
func FuzzCookieExchange(f *testing.F) {
	f.Add(goodToken, "")
	f.Add("", "abc")
	f.Add(goodToken+goodToken, strings.Repeat("A", 43))
	src := newFakeSource(f)
	clock := newFakeClock()
	s, err := New(Options{Source: src, Auth: newFakeAuth(), Clock: clock})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, token, cookie string) {
		// A minute between logins: the per-token login rate (20 a minute)
		// would otherwise answer the valid token 429 after a few thousand
		// executions, which is the limiter working, not a fault.
		clock.Advance(time.Minute)
		req := httptest.NewRequest("GET", "/login?token="+url.QueryEscape(token), nil)
		req.Host = "127.0.0.1:7373"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		valid := token == goodToken
		if got := w.Code == http.StatusSeeOther; got != valid {
			t.Fatalf("login with %q: status %d", token, w.Code)
		}
		if !valid && w.Header().Get("Set-Cookie") != "" {
			t.Fatal("an invalid token got a cookie")
		}
		if strings.Contains(w.Header().Get("Set-Cookie"), token) && token != "" {
			t.Fatal("the cookie holds the token")
		}
		req = httptest.NewRequest("GET", "/v1/calls", nil)
		req.Host = "127.0.0.1:7373"
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sanitizeCookie(cookie)})
		w = httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code == 200 {
			t.Fatalf("made-up session cookie %q authenticated", cookie)
		}
	})
}

// sanitizeCookie keeps the bytes a cookie value may hold, so the fuzzer
// explores values rather than net/http's header validation.
func sanitizeCookie(v string) string {
	return strings.Map(func(r rune) rune {
		if r <= 0x20 || r >= 0x7f || r == '"' || r == ';' || r == '\\' || r == ',' {
			return -1
		}
		return r
	}, v)
}
