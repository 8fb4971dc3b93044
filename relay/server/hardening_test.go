package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay"
	"earshot/relay/event"
)

func TestGate_ConfiguredHostIsAcceptedOthersStillRefused(t *testing.T) {
	_, _, _, ts := newTestServerOpts(t, Options{ExtraHosts: []string{"Earshot.LAN"}})
	for host, want := range map[string]int{
		"earshot.lan":              200,
		"earshot.lan:7373":         200,
		"EARSHOT.lan:7373":         200,
		"127.0.0.1:7373":           200,
		"other.lan:7373":           403,
		"earshot.lan.evil.com":     403,
		"evil.earshot.lan":         403,
		"earshot.lan.:7373":        403,
		"example.com":              403,
		"127.0.0.1.nip.io":         403,
		"earshot.lan@evil.com:80":  403,
		"earshot.lan:7373:7373":    403,
		"[earshot.lan]:7373":       403,
		"earshot.lan:7373/x":       403,
		"xn--earshot-lan.evil.com": 403,
	} {
		if got := get(t, ts, "/v1/health", map[string]string{"Host": host}).StatusCode; got != want {
			t.Errorf("Host %q = %d, want %d", host, got, want)
		}
	}
}

func TestGate_RepeatedAuthorizationHeaderIsRefused(t *testing.T) {
	_, _, ts := newTestServer(t)
	for name, values := range map[string][]string{
		"the same token twice":  {"Bearer " + goodToken, "Bearer " + goodToken},
		"a good and a bad one":  {"Bearer " + goodToken, "Bearer not-it"},
		"a bad and a good one":  {"Bearer not-it", "Bearer " + goodToken},
		"bearer and basic auth": {"Bearer " + goodToken, "Basic Zm9vOmJhcg=="},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/calls", nil)
		req.Header["Authorization"] = values
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
	// A second spelling of the parameter name is the same parameter.
	if r := get(t, ts, "/v1/calls?token="+goodToken+"&%74oken=other", nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("token and %%74oken = %d, want 400", r.StatusCode)
	}
}

// The playlist hands on the token the gate authorised — whichever way it
// was presented — and nothing else from the URL.
func TestPlaylist_CarriesTheAuthorisedTokenOnly(t *testing.T) {
	_, src, auth, ts := newTestServerOpts(t, Options{})
	const other = "another-valid-token"
	auth.add(other, Identity{TokenID: "tok2", Scope: ScopeListen})
	src.addCall(t, 1, nil)
	src.addCall(t, 2, nil)
	entries := func(resp *http.Response) []string {
		t.Helper()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("playlist = %d %s", resp.StatusCode, body)
		}
		var urls []string
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "http://") {
				urls = append(urls, line)
			}
		}
		if len(urls) != 2 {
			t.Fatalf("playlist entries %q, want 2", urls)
		}
		return urls
	}
	for name, resp := range map[string]*http.Response{
		"query":  get(t, ts, "/v1/playlist.m3u?token="+goodToken+"&limit=2", nil),
		"header": get(t, ts, "/v1/playlist.m3u?limit=2", map[string]string{"Authorization": "Bearer " + goodToken}),
	} {
		for _, u := range entries(resp) {
			if !strings.HasSuffix(u, "?token="+url.QueryEscape(goodToken)) || strings.Contains(u, other) {
				t.Errorf("%s: entry %q does not carry exactly the authorised token", name, u)
			}
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: a token-bearing playlist without Cache-Control: no-store", name)
		}
	}
	if r := get(t, ts, "/v1/playlist.m3u?token="+goodToken+"&token="+other, nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("two tokens = %d, want 400", r.StatusCode)
	}
}

// revokingSource revokes a token when the live route asks for the calls to
// replay: the token dies after authentication, before the replay.
type revokingSource struct {
	*fakeSource
	auth    *fakeAuth
	tokenID string
}

func (s revokingSource) Calls(q relay.Query) []event.Call {
	if q.After != 0 {
		s.auth.revoke(s.tokenID)
	}
	return s.fakeSource.Calls(q)
}

// The ?after= replay goes out on a connection registered for revocation:
// not one replayed call reaches a consumer whose token died.
func TestLive_ReplayStopsWhenTheTokenDiesBeforeIt(t *testing.T) {
	src := newFakeSource(t)
	auth := newFakeAuth()
	for id := int64(1); id <= 3; id++ {
		src.addCall(t, id, nil)
	}
	s, err := New(Options{Source: revokingSource{src, auth, "tok1"}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	c, _, err := dialLive(t, ts, "&after=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closeTokenRevoked {
				t.Fatalf("ended with %v, want close %d", err, closeTokenRevoked)
			}
			return
		}
		if strings.Contains(string(data), "call.new") {
			t.Fatalf("a replayed call went out after the token died: %s", data)
		}
	}
}

func TestIdentity_ProvesTheInstanceSecretForTheAddressReached(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	_, _, _, ts := newTestServerOpts(t, Options{InstanceSecret: secret})
	addr := addrOf(ts)
	nonce := make([]byte, 32)
	rand.Read(nonce)
	resp := get(t, ts, "/v1/identity?nonce="+hex.EncodeToString(nonce), nil)
	var id IdentityResponse
	if err := json.NewDecoder(resp.Body).Decode(&id); err != nil || resp.StatusCode != 200 {
		t.Fatalf("identity = %d, %v", resp.StatusCode, err)
	}
	if id.Service != ServiceName || !CheckIdentityProof(secret, addr, nonce, id.Proof) {
		t.Fatalf("identity answer %+v does not prove the secret for %s", id, addr)
	}
	for name, ok := range map[string]bool{
		"another address": CheckIdentityProof(secret, "127.0.0.1:1", nonce, id.Proof),
		"another secret":  CheckIdentityProof([]byte("another secret of thirty-two b!!"), addr, nonce, id.Proof),
		"another nonce":   CheckIdentityProof(secret, addr, append([]byte{nonce[0] ^ 1}, nonce[1:]...), id.Proof),
		"not hex":         CheckIdentityProof(secret, addr, nonce, "zz"+id.Proof[2:]),
		"truncated":       CheckIdentityProof(secret, addr, nonce, id.Proof[:len(id.Proof)-2]),
	} {
		if ok {
			t.Errorf("the proof checks out for %s", name)
		}
	}
	for _, q := range []string{"", "?nonce=", "?nonce=abcd", "?nonce=" + strings.Repeat("ab", MaxIdentityNonce+1),
		"?nonce=" + strings.Repeat("zz", 32), "?nonce=" + hex.EncodeToString(nonce) + "&nonce=" + hex.EncodeToString(nonce)} {
		if r := get(t, ts, "/v1/identity"+q, nil); r.StatusCode != http.StatusBadRequest {
			t.Errorf("identity%s = %d, want 400", q, r.StatusCode)
		}
	}
	if r := get(t, ts, "/v1/identity?nonce="+hex.EncodeToString(nonce), map[string]string{"Host": "evil.example"}); r.StatusCode != 403 {
		t.Errorf("identity with a foreign Host = %d, want 403", r.StatusCode)
	}
	// Without an instance secret there is nothing to prove.
	_, _, ts2 := newTestServer(t)
	if r := get(t, ts2, "/v1/identity?nonce="+hex.EncodeToString(nonce), nil); r.StatusCode != 404 {
		t.Errorf("identity without a secret = %d, want 404", r.StatusCode)
	}
}

// FuzzIdentity throws arbitrary query strings at GET /v1/identity: the
// answer is 200 with a proof that checks out for exactly one well-formed
// nonce, or 400; never anything else.
func FuzzIdentity(f *testing.F) {
	f.Add("nonce=" + strings.Repeat("ab", 32))
	f.Add("nonce=" + strings.Repeat("ab", 16) + "&nonce=00")
	f.Add("nonce=%zz")
	f.Add("nonce=" + strings.Repeat("0", 129))
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := New(Options{Source: newFakeSource(f), Auth: newFakeAuth(), InstanceSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7373}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/v1/identity", nil)
		req.URL.RawQuery = query
		req.Host = "127.0.0.1:7373"
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		values := req.URL.Query()["nonce"]
		switch w.Code {
		case http.StatusOK:
			var id IdentityResponse
			nonce, _ := hex.DecodeString(values[0])
			if len(values) != 1 || json.Unmarshal(w.Body.Bytes(), &id) != nil || !CheckIdentityProof(secret, local.String(), nonce, id.Proof) {
				t.Fatalf("query %q: 200 without a proof for its one nonce: %s", query, w.Body.Bytes())
			}
			if len(nonce) < MinIdentityNonce || len(nonce) > MaxIdentityNonce {
				t.Fatalf("query %q: answered a nonce of %d bytes", query, len(nonce))
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("query %q: status %d", query, w.Code)
		}
	})
}
