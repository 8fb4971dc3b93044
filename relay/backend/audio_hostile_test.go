package backend

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"earshot/relay/backend/backendtest"
)

// otherPort is another server on the same host as the fake, on another
// port: it records every request that reaches it.
type otherPort struct {
	mu   sync.Mutex
	reqs []*http.Request
	url  string
}

func newOtherPort(t *testing.T) *otherPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &otherPort{url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.reqs = append(c.reqs, r)
		c.mu.Unlock()
		w.Write([]byte("RIFF-not-yours"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func (c *otherPort) got() []*http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Request(nil), c.reqs...)
}

// TestAudioRedirectsStayOnTheServer: a redirect to another port of the
// server's host (where the cookie jar, which ignores ports, would send
// refresh_token and os_session, and Go would keep the Bearer header) or to
// another host is not followed, on every generation; one within the
// server's origin is.
func TestAudioRedirectsStayOnTheServer(t *testing.T) {
	for _, gen := range []backendtest.Generation{backendtest.Gen133, backendtest.Gen120, backendtest.Gen112} {
		t.Run(fmt.Sprint(gen), func(t *testing.T) {
			srv := fake(t, backendtest.Options{Generation: gen})
			s, _ := signedIn(t, srv, Options{})
			id, audio := addCall(srv)
			evil := newOtherPort(t)
			for _, target := range []string{
				evil.url + "/steal",
				strings.Replace(evil.url, "127.0.0.1", "localhost", 1) + "/steal",
				"https://" + strings.TrimPrefix(srv.URL(), "http://") + "/x", // another scheme
			} {
				srv.RedirectAudio(func(*http.Request) string { return target })
				got, err := fetch(t, s, id)
				if !errors.Is(err, ErrOffOrigin) {
					t.Fatalf("redirect to %s: %q, %v; want ErrOffOrigin", target, got, err)
				}
			}
			if reqs := evil.got(); len(reqs) > 0 {
				r := reqs[0]
				t.Fatalf("the redirect was followed to another origin (cookies %q, Authorization %q)", r.Header.Get("Cookie"), r.Header.Get("Authorization"))
			}
			// Within the server's origin, it is followed.
			srv.RedirectAudio(func(r *http.Request) string {
				if r.URL.Query().Get("moved") == "" {
					return r.URL.Path + "?moved=1"
				}
				return ""
			})
			if got, err := fetch(t, s, id); err != nil || string(got) != string(audio) {
				t.Fatalf("a same-origin redirect: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestAudioPartialAnswerIsNotTakenForTheWhole: a 206 with part of the file
// to a request for all of it is an error (it was written out, and cached,
// as the whole file).
func TestAudioPartialAnswerIsNotTakenForTheWhole(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	id, audio := addCall(srv)
	srv.PartialAudio(true)
	if got, err := fetch(t, s, id); err == nil {
		t.Fatalf("a 206 with half the file was taken: %d of %d bytes", len(got), len(audio))
	}
	srv.PartialAudio(false)
	if got, err := fetch(t, s, id); err != nil || string(got) != string(audio) {
		t.Fatalf("after: %v", err)
	}
}

func TestWholeRange(t *testing.T) {
	for cr, want := range map[string]bool{
		"bytes 0-99/100":  true,
		"bytes 0-49/100":  false,
		"bytes 50-99/100": false,
		"bytes 0-99/*":    false,
		"bytes */100":     false,
		"":                false,
		"bytes 0-0/1":     true,
		"items 0-99/100":  false,
	} {
		if got := wholeRange(cr); got != want {
			t.Errorf("wholeRange(%q) = %v, want %v", cr, got, want)
		}
	}
}

// TestAudioTooLargeSaysSo: audio over the cap is ErrAudioTooLarge, not a
// network failure.
func TestAudioTooLargeSaysSo(t *testing.T) {
	srv := fake(t, backendtest.Options{})
	s, _ := signedIn(t, srv, Options{})
	id, audio := addCall(srv)
	s.audioCap = int64(len(audio) - 1)
	if _, err := fetch(t, s, id); !errors.Is(err, ErrAudioTooLarge) {
		t.Fatalf("oversize audio: %v, want ErrAudioTooLarge", err)
	}
	s.audioCap = int64(len(audio))
	if _, err := fetch(t, s, id); err != nil {
		t.Fatalf("audio of exactly the cap: %v", err)
	}
}

func TestSameOrigin(t *testing.T) {
	base := mustURL(t, "http://scanner.example:8080/os")
	for u, want := range map[string]bool{
		"http://scanner.example:8080/x":  true,
		"http://SCANNER.example:8080/x":  true,
		"http://scanner.example:8081/x":  false,
		"http://scanner.example/x":       false,
		"https://scanner.example:8080/x": false,
		"http://other.example:8080/x":    false,
	} {
		if got := sameOrigin(base, mustURL(t, u)); got != want {
			t.Errorf("sameOrigin(%s) = %v, want %v", u, got, want)
		}
	}
	if !sameOrigin(mustURL(t, "https://a.example"), mustURL(t, "https://a.example:443/x")) {
		t.Error("the default port is the port")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
