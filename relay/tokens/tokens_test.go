package tokens

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"earshot/relay/safefile"
	"earshot/relay/secrets"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

func open(t testing.TB, path string, keys secrets.KeyStore, c *clock) *Manager {
	t.Helper()
	m, err := Open(context.Background(), path, keys, Options{Now: c.Now, ReloadEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func setup(t testing.TB) (*Manager, *clock, string, *secrets.Memory) {
	t.Helper()
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	return open(t, path, keys, c), c, path, keys
}

// waitFor waits until ch fires; the bound only guards against a hang.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("hung waiting for %s", what)
	}
}

var ctx = context.Background()

func TestCreateVerifyList(t *testing.T) {
	m, c, path, keys := setup(t)
	tok, info, err := m.Create(ctx, "  OBS  ", ScopeListen, 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := m.Verify(tok)
	if err != nil || cl.ID != info.ID || cl.Scope != ScopeListen || cl.Name != "OBS" {
		t.Fatalf("Verify = %+v, %v", cl, err)
	}
	if !m.Valid(info.ID) || m.Valid("nope") {
		t.Fatal("Valid is wrong")
	}
	list, _ := m.List(context.Background())
	if len(list) != 1 || list[0].Name != "OBS" || list[0].Status(c.Now()) != "active" || list[0].Expires != nil {
		t.Fatalf("List = %+v", list)
	}
	if got, ok := m.Get(info.ID); !ok || got.ID != info.ID {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if _, ok := m.Get("nope"); ok {
		t.Fatal("Get of an unknown id")
	}
	// The registry holds no token and no key; the key is in the keyring.
	data, _ := os.ReadFile(path)
	key, err := keys.Get(ctx, keyItem(info.KeyID))
	if err != nil {
		t.Fatalf("signing key not in the keyring: %v", err)
	}
	for _, secret := range []string{tok, strings.Split(tok, ".")[2], key} {
		if strings.Contains(string(data), secret) {
			t.Fatal("tokens.json holds a secret")
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens.json mode %v, want 0600", st.Mode().Perm())
	}
	var reg map[string]any
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatalf("tokens.json is not JSON: %v", err)
	}
}

// Our tokens are ordinary JWTs: jwt/v5 accepts what we issue, with the
// documented claims and header, and we accept what jwt/v5 signs the same
// way with our key.
func TestInteroperatesWithJWTv5(t *testing.T) {
	m, c, _, _ := setup(t)
	tok, info, err := m.Create(ctx, "a", ScopeControl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		return m.keys[tk.Header["kid"].(string)].raw, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithTimeFunc(c.Now), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || !parsed.Valid {
		t.Fatalf("jwt/v5 rejects our token: %v", err)
	}
	mc := parsed.Claims.(jwt.MapClaims)
	if mc["jti"] != info.ID || mc["scope"] != ScopeControl || parsed.Header["kid"] != info.KeyID || parsed.Header["typ"] != "JWT" {
		t.Fatalf("claims %v, header %v", mc, parsed.Header)
	}

	_, other, _ := m.Create(ctx, "b", ScopeListen, 0)
	jt := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": Issuer, "aud": Audience, "jti": other.ID, "scope": ScopeListen, "iat": c.Now().Unix(),
	})
	jt.Header["kid"] = other.KeyID
	signed, err := jt.SignedString(m.keys[other.KeyID].raw)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := m.Verify(signed); err != nil || cl.ID != other.ID {
		t.Fatalf("a jwt/v5-signed token is refused: %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	m, _, _, _ := setup(t)
	for _, tc := range []struct {
		name, scope string
		ttl         time.Duration
	}{
		{"", ScopeListen, 0},
		{"   ", ScopeListen, 0},
		{strings.Repeat("x", 65), ScopeListen, 0},
		{"a\nb", ScopeListen, 0},
		{"bad\xffutf8", ScopeListen, 0},
		{"ok", "root", 0},
		{"ok", "", 0},
		{"ok", ScopeListen, -time.Hour},
		{"ok", ScopeListen, time.Millisecond},
	} {
		if _, _, err := m.Create(ctx, tc.name, tc.scope, tc.ttl); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Create(%q, %q, %v) = %v, want ErrInvalidRequest", tc.name, tc.scope, tc.ttl, err)
		}
	}
	if len(mustList(t, m)) != 0 {
		t.Fatal("a refused Create left a token behind")
	}
}

func TestRefusesTamperedAndForeignTokens(t *testing.T) {
	m, _, _, _ := setup(t)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	parts := strings.Split(tok, ".")
	other, _, _, _ := setup(t)
	foreign, _, _ := other.Create(ctx, "b", ScopeListen, 0)
	kid := info.KeyID
	key := m.keys[kid].raw

	claims := func(mod func(map[string]any)) string {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		json.Unmarshal(b, &c)
		mod(c)
		nb, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(nb)
	}
	hdr := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	resign := func(h, p string) string {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	// The last base64 character of a 32-byte signature carries 4 bits; the
	// other 2 must be zero. A decoder that ignores them accepts a second
	// spelling of the same signature.
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	alt := []byte(base64.RawURLEncoding.EncodeToString(sigBytes))
	alt[len(alt)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", alt[len(alt)-1])|1]

	noneHdr := hdr(`{"alg":"none","kid":"` + kid + `","typ":"JWT"}`)
	for name, bad := range map[string]string{
		"empty":                 "",
		"garbage":               "not-a-token-at-all-really-not-a-token-at-all-really-not-a-token-at-all-really",
		"another registry":      foreign,
		"flipped signature":     parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"second spelling":       parts[0] + "." + parts[1] + "." + string(alt),
		"padded signature":      tok + "=",
		"no signature":          parts[0] + "." + parts[1] + ".",
		"changed scope":         parts[0] + "." + claims(func(c map[string]any) { c["scope"] = "control" }) + "." + parts[2],
		"alg none":              noneHdr + "." + parts[1] + ".",
		"alg none signed":       resign(noneHdr, parts[1]),
		"alg HS512 header":      resign(hdr(`{"alg":"HS512","kid":"`+kid+`","typ":"JWT"}`), parts[1]),
		"reordered header":      resign(hdr(`{"kid":"`+kid+`","alg":"HS256","typ":"JWT"}`), parts[1]),
		"unknown kid":           resign(hdr(`{"alg":"HS256","kid":"deadbeef","typ":"JWT"}`), parts[1]),
		"wrong audience":        resign(parts[0], claims(func(c map[string]any) { c["aud"] = "someone-else" })),
		"wrong issuer":          resign(parts[0], claims(func(c map[string]any) { c["iss"] = "evil" })),
		"no jti":                resign(parts[0], claims(func(c map[string]any) { delete(c, "jti") })),
		"unknown jti":           resign(parts[0], claims(func(c map[string]any) { c["jti"] = "ffffffffffffffff" })),
		"scope escalation":      resign(parts[0], claims(func(c map[string]any) { c["scope"] = "control" })),
		"expired claim":         resign(parts[0], claims(func(c map[string]any) { c["exp"] = 1 })),
		"payload not JSON":      resign(parts[0], base64.RawURLEncoding.EncodeToString([]byte("{"))),
		"payload not base64url": resign(parts[0], "!!!!"),
		"four parts":            tok + ".x",
		"two parts":             parts[0] + "." + parts[1],
		"huge":                  strings.Repeat("a", MaxTokenLen+1),
		"huge valid-looking":    parts[0] + "." + strings.Repeat("A", MaxTokenLen) + "." + parts[2],
	} {
		if _, err := m.Verify(bad); err != ErrInvalid {
			t.Errorf("%s: Verify = %v, want exactly ErrInvalid", name, err)
		}
	}
	if _, err := m.Verify(tok); err != nil {
		t.Fatalf("the good token stopped working: %v", err)
	}
}

// A registry configured for another audience refuses this one's tokens
// even with the same keyring and file.
func TestAudienceIsPinned(t *testing.T) {
	m, c, path, keys := setup(t)
	tok, _, _ := m.Create(ctx, "a", ScopeListen, 0)
	other, err := Open(ctx, path, keys, Options{Now: c.Now, Audience: "another-relay", ReloadEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Verify(tok); err != ErrInvalid {
		t.Fatalf("a token for another audience verified: %v", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestExpiry(t *testing.T) {
	m, c, _, _ := setup(t)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, time.Hour)
	if info.Expires == nil || !info.Expires.Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("Expires = %v", info.Expires)
	}
	c.Advance(time.Hour - time.Second)
	if _, err := m.Verify(tok); err != nil || !m.Valid(info.ID) {
		t.Fatal("token refused before it expired")
	}
	c.Advance(time.Second)
	if _, err := m.Verify(tok); err != ErrInvalid || m.Valid(info.ID) {
		t.Fatal("expired token still works")
	}
	if s := mustList(t, m)[0].Status(c.Now()); s != "expired" {
		t.Fatalf("status %q", s)
	}
}

func TestRevoke(t *testing.T) {
	m, c, _, _ := setup(t)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	ch := m.Changed()
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ch, "Changed after Revoke")
	if _, err := m.Verify(tok); err != ErrInvalid || m.Valid(info.ID) {
		t.Fatal("revoked token works")
	}
	got, _ := m.Get(info.ID)
	if !got.Revoked || got.RevokedAt == nil || got.Status(c.Now()) != "revoked" {
		t.Fatalf("after revoke: %+v", got)
	}
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatalf("revoking twice = %v", err)
	}
	if err := m.Revoke(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Revoke unknown = %v", err)
	}
	if _, _, err := m.Rotate(ctx, info.ID, 0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Rotate of a revoked token = %v", err)
	}
}

func TestRotateWithGrace(t *testing.T) {
	m, c, _, _ := setup(t)
	old, oldInfo, _ := m.Create(ctx, "b", ScopeControl, 24*time.Hour)
	ch := m.Changed()
	tok, info, err := m.Rotate(ctx, oldInfo.ID, 10*time.Minute)
	if err != nil || info.Name != "b" || info.Scope != ScopeControl || info.ID == oldInfo.ID || tok == old {
		t.Fatalf("Rotate = %+v, %v", info, err)
	}
	waitFor(t, ch, "Changed after Rotate")
	if info.Expires == nil || !info.Expires.Equal(c.Now().Add(24*time.Hour)) {
		t.Fatalf("the new token's lifetime is not the old one's: %v", info.Expires)
	}
	o, _ := m.Get(oldInfo.ID)
	if !strings.HasPrefix(o.Status(c.Now()), "rotated (until ") {
		t.Fatalf("old token status %q", o.Status(c.Now()))
	}
	c.Advance(10*time.Minute - time.Second)
	if _, err := m.Verify(old); err != nil || !m.Valid(oldInfo.ID) {
		t.Fatal("old token stopped during its grace")
	}
	c.Advance(time.Second)
	if _, err := m.Verify(old); err != ErrInvalid || m.Valid(oldInfo.ID) {
		t.Fatal("old token works after its grace")
	}
	if o, _ := m.Get(oldInfo.ID); o.Status(c.Now()) != "rotated out" {
		t.Fatalf("old token status %q", o.Status(c.Now()))
	}
	if cl, err := m.Verify(tok); err != nil || cl.ID != info.ID {
		t.Fatal("new token refused")
	}
	if _, _, err := m.Rotate(ctx, oldInfo.ID, 0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Rotate of a rotated-out token = %v", err)
	}
	if _, _, err := m.Rotate(ctx, "nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotate unknown = %v", err)
	}
	if _, _, err := m.Rotate(ctx, info.ID, -time.Second); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("negative grace = %v", err)
	}
	// Without grace the old token stops at once.
	tok3, _, _ := m.Rotate(ctx, info.ID, 0)
	if _, err := m.Verify(tok); err != ErrInvalid {
		t.Fatal("token rotated without grace still works")
	}
	if _, err := m.Verify(tok3); err != nil {
		t.Fatal("newest token refused")
	}
}

func TestRotateAll(t *testing.T) {
	m, c, _, keys := setup(t)
	a, _, _ := m.Create(ctx, "a", ScopeListen, 0)
	b, _, _ := m.Create(ctx, "b", ScopeListen, 0)
	oldKid := m.reg.CurrentKey
	if err := m.RotateAll(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if m.reg.CurrentKey == oldKid {
		t.Fatal("RotateAll kept the signing key")
	}
	if _, err := m.Verify(a); err != nil {
		t.Fatal("token died before the grace ended")
	}
	c.Advance(time.Minute)
	for _, tok := range []string{a, b} {
		if _, err := m.Verify(tok); err != ErrInvalid {
			t.Fatal("token survived rotate-all")
		}
	}
	fresh, info, _ := m.Create(ctx, "c", ScopeListen, 0)
	if _, err := m.Verify(fresh); err != nil || info.KeyID == oldKid {
		t.Fatal("new tokens do not use the new key")
	}
	// That edit found the old key useless and took it out of the keyring.
	if _, err := keys.Get(ctx, keyItem(oldKid)); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("retired signing key left in the keyring: %v", err)
	}
	midKid := info.KeyID
	if err := m.RotateAll(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(fresh); err != ErrInvalid {
		t.Fatal("token survived rotate-all without grace")
	}
	if _, err := keys.Get(ctx, keyItem(midKid)); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatal("rotate-all without grace left the old key in the keyring")
	}
	if len(m.reg.Keys) != 1 {
		t.Fatalf("registry lists %d keys, want 1", len(m.reg.Keys))
	}
}

func TestRestartKeepsTokensAndLastUsed(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	m, err := Open(ctx, path, keys, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	revoked, rinfo, _ := m.Create(ctx, "r", ScopeListen, 0)
	m.Revoke(ctx, rinfo.ID)
	c.Advance(time.Minute)
	m.Touch(info.ID, "VLC")
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	m2 := open(t, path, keys, c)
	if _, err := m2.Verify(tok); err != nil {
		t.Fatalf("token lost across restart: %v", err)
	}
	if _, err := m2.Verify(revoked); err != ErrInvalid {
		t.Fatal("revocation lost across restart")
	}
	got, _ := m2.Get(info.ID)
	if got.LastUsed == nil || !got.LastUsed.Equal(c.Now()) || got.LastClient != "VLC" || got.UsedBy() != "VLC" {
		t.Fatalf("last used lost across restart: %+v", got)
	}
}

func TestTouchIsBatched(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "tokens.json")
	// A flush interval far longer than the test: only Close writes.
	m, err := Open(ctx, path, secrets.NewMemory(), Options{Now: c.Now, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	before, _ := os.ReadFile(path)
	for range 1000 {
		c.Advance(time.Second)
		m.Touch(info.ID, "127.0.0.1:1")
	}
	m.Touch("unknown", "127.0.0.1:2")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Touch wrote the registry")
	}
	if got, _ := m.Get(info.ID); got.LastUsed == nil || !got.LastUsed.Equal(c.Now()) {
		t.Fatal("Touch not visible in memory")
	}
	m.Close(ctx)
	var reg registry
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &reg)
	if lu := reg.find(info.ID).LastUsed; lu == nil || !lu.Equal(c.Now()) {
		t.Fatalf("Close did not flush last used: %v", lu)
	}
}

// Last-used times recorded while edits run are neither lost nor written
// backwards.
func TestTouchDuringEdits(t *testing.T) {
	m, c, path, keys := setup(t)
	_, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 20 {
			m.Create(ctx, "filler", ScopeListen, 0)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 2000 {
			c.Advance(time.Second)
			m.Touch(info.ID, fmt.Sprintf("program %d", i))
		}
	}()
	wg.Wait()
	want := c.Now()
	m.Close(ctx)
	m2 := open(t, path, keys, c)
	if got, _ := m2.Get(info.ID); got.LastUsed == nil || !got.LastUsed.Equal(want) || got.LastClient != "program 1999" {
		t.Fatalf("last used after concurrent edits: %v %s, want %v", got.LastUsed, got.LastClient, want)
	}
}

// Two managers on one file (a running relay and a CLI) creating at once
// lose nothing, and each sees and verifies the other's tokens.
func TestTwoManagersConcurrentEdits(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	a, b := open(t, path, keys, c), open(t, path, keys, c)
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for range 20 {
		for _, m := range []*Manager{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, _, err := m.Create(ctx, "t", ScopeListen, 0)
				if err != nil {
					t.Error(err)
				}
				tokens <- tok
			}()
		}
	}
	wg.Wait()
	close(tokens)
	reg := readRegistry(t, path)
	if len(reg.Tokens) != 40 || len(reg.Keys) != 1 {
		t.Fatalf("registry has %d tokens and %d keys, want 40 and 1", len(reg.Tokens), len(reg.Keys))
	}
	// Verify reloads on a correctly signed token it does not know yet, so
	// each manager accepts the other's tokens at once.
	for tok := range tokens {
		for _, m := range []*Manager{a, b} {
			if _, err := m.Verify(tok); err != nil {
				t.Fatal("a token created by the other manager does not verify")
			}
		}
	}
}

// Several real processes (the relay, and `earshot token create` twice at
// once) editing one registry through the real keyring lose nothing.
func TestTwoProcessesConcurrentEdits(t *testing.T) {
	if path := os.Getenv("EARSHOT_TOKENS_CHILD"); path != "" {
		childCreates(t, path)
		return
	}
	keys := realKeyring(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	parent := open(t, path, keys, newClock())
	var wg sync.WaitGroup
	out := make([][]byte, 2)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesConcurrentEdits$", "-test.count=1")
			cmd.Env = append(os.Environ(), "EARSHOT_TOKENS_CHILD="+path, "EARSHOT_TOKENS_SERVICE="+keys.service)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			o, err := cmd.Output()
			if err != nil {
				t.Errorf("child %d: %v\n%s%s", i, err, o, stderr.Bytes())
			}
			out[i] = o
		}()
	}
	wg.Wait()
	var toks []string
	for _, o := range out {
		sc := bufio.NewScanner(bytes.NewReader(o))
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "TOKEN "); ok {
				toks = append(toks, line)
			}
		}
	}
	if len(toks) != 2*childTokens {
		t.Fatalf("children reported %d tokens, want %d", len(toks), 2*childTokens)
	}
	reg := readRegistry(t, path)
	if len(reg.Tokens) != 2*childTokens || len(reg.Keys) != 1 {
		t.Fatalf("registry has %d tokens and %d keys, want %d and 1", len(reg.Tokens), len(reg.Keys), 2*childTokens)
	}
	for _, tok := range toks {
		if _, err := parent.Verify(tok); err != nil {
			t.Fatal("a token another process created does not verify here")
		}
	}
	parent.RotateAll(ctx, 0) // leaves only the newest key in the test keyring
	keys.Delete(ctx, keyItem(parent.reg.CurrentKey))
}

const childTokens = 15

func childCreates(t *testing.T, path string) {
	keys := secrets.New(os.Getenv("EARSHOT_TOKENS_SERVICE"), secrets.DefaultTimeout)
	m, err := Open(ctx, path, keys, Options{ReloadEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	for range childTokens {
		tok, _, err := m.Create(ctx, "from a child", ScopeListen, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("TOKEN " + tok)
	}
}

func readRegistry(t *testing.T, path string) registry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reg registry
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatalf("tokens.json is not valid JSON: %v", err)
	}
	return reg
}

func TestReloadSignalsChanged(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	relay := open(t, path, keys, c)
	tok, info, _ := relay.Create(ctx, "a", ScopeListen, 0)
	changed := relay.Changed()
	cli, err := Open(ctx, path, keys, Options{Now: c.Now, ReloadEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	cli.Close(ctx)
	waitFor(t, changed, "the relay's manager to notice the CLI's revoke")
	if _, err := relay.Verify(tok); err != ErrInvalid || relay.Valid(info.ID) {
		t.Fatal("token revoked by another process still verifies")
	}
}

// An edit of the file by something other than a Manager (an operator's
// editor, a restore from backup) is picked up too.
func TestReloadNoticesRawEdit(t *testing.T) {
	m, _, path, _ := setup(t)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	changed := m.Changed()
	reg := readRegistry(t, path)
	reg.find(info.ID).Revoked = true
	data, _ := json.Marshal(reg)
	tmp := path + ".edit"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, changed, "the reload of an edited tokens.json")
	if _, err := m.Verify(tok); err != ErrInvalid {
		t.Fatal("token revoked by an edit still verifies")
	}
}

// A manager's own edits are never undone in memory by its background
// reload having read the file a moment earlier: a reload reads another
// process's edit, and before it installs what it read, this manager
// revokes a token. Once all is quiet, the revoke must hold.
func TestEditsNeverUndoneByConcurrentReload(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	var armed atomic.Bool
	read := make(chan struct{})
	revoked := make(chan struct{})
	m, err := Open(ctx, path, keys, Options{Now: c.Now, ReloadEvery: time.Millisecond, afterReloadRead: func() {
		if armed.CompareAndSwap(true, false) {
			close(read)
			select { // holds the reload until the revoke is done, or (with the fix) gives way
			case <-revoked:
			case <-time.After(300 * time.Millisecond):
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	other := open(t, path, keys, c)
	_, info, _ := m.Create(ctx, "x", ScopeListen, 0)
	armed.Store(true)
	other.Create(ctx, "edit by another process", ScopeListen, 0)
	waitFor(t, read, "the reload of the other process's edit")
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	close(revoked)
	time.Sleep(50 * time.Millisecond) // let the reload finish either way
	if m.Valid(info.ID) {
		t.Fatal("a revoke was undone in memory by a concurrent reload")
	}
}

func TestRefusesUnsafeOrBrokenRegistry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		os.WriteFile(path, []byte(`{"version":1,"keys":[],"tokens":[]}`), 0o600)
		os.Chmod(path, mode)
		_, err := Open(ctx, path, secrets.NewMemory(), Options{})
		if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "other users") {
			t.Fatalf("Open of a registry with mode %v = %v", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	for _, bad := range []string{`{not json`, `{"version":2}`} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := Open(ctx, path, secrets.NewMemory(), Options{}); err == nil {
			t.Fatalf("registry %q accepted", bad)
		}
	}
}

// recorder is a slog handler that keeps every record's message.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.msgs = append(r.msgs, line)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }
func (r *recorder) count(sub string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// A running manager whose file is replaced by one other users can write
// keeps the tokens it had, says so once (not every second), and picks up
// the file again once it is fixed.
func TestReloadRefusesUnsafeEditAndSaysSoOnce(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	rec := &recorder{}
	m, err := Open(ctx, path, keys, Options{Now: c.Now, ReloadEvery: time.Millisecond, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	reg := readRegistry(t, path)
	reg.find(info.ID).Revoked = true
	data, _ := json.Marshal(reg)
	os.WriteFile(path+".edit", data, 0o600)
	os.Chmod(path+".edit", 0o666)
	os.Rename(path+".edit", path)
	for rec.count("could not reload") == 0 {
		time.Sleep(5 * time.Millisecond) // wait for the reload; the test's own timeout guards a hang
	}
	time.Sleep(50 * time.Millisecond) // many more reload ticks
	if n := rec.count("could not reload"); n != 1 {
		t.Fatalf("the unsafe file was reported %d times, want once", n)
	}
	if _, err := m.Verify(tok); err != nil {
		t.Fatal("a tampered, world-writable registry was applied")
	}
	changed := m.Changed()
	os.Chmod(path, 0o600)
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second)) // what an editor's save would do
	waitFor(t, changed, "the reload of the fixed file")
	if _, err := m.Verify(tok); err != ErrInvalid {
		t.Fatal("the fixed registry's revoke was not applied")
	}
	key, _ := keys.Get(ctx, keyItem(info.KeyID))
	if rec.count(tok) != 0 || rec.count(strings.Split(tok, ".")[2]) != 0 || rec.count(key) != 0 {
		t.Fatal("a secret was logged")
	}
}

// A signing key the keyring lost makes its tokens invalid, not the relay
// unable to start; new tokens get a new key.
func TestLostSigningKey(t *testing.T) {
	m, c, path, keys := setup(t)
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	m.Close(ctx)
	keys.Delete(ctx, keyItem(info.KeyID))
	m2 := open(t, path, keys, c)
	if _, err := m2.Verify(tok); err != ErrInvalid || m2.Valid(info.ID) {
		t.Fatal("token of a lost key verifies")
	}
	tok2, info2, err := m2.Create(ctx, "b", ScopeListen, 0)
	if err != nil || info2.KeyID == info.KeyID {
		t.Fatalf("Create after a lost key: %v", err)
	}
	if _, err := m2.Verify(tok2); err != nil {
		t.Fatal(err)
	}
}

// failingKeys is a keyring that cannot be reached.
type failingKeys struct{}

func (failingKeys) Get(context.Context, string) (string, error) {
	return "", errors.New("the system keyring did not answer within 3s")
}
func (failingKeys) Set(context.Context, string, string) error {
	return errors.New("the system keyring did not answer within 3s")
}
func (failingKeys) Delete(context.Context, string) error { return nil }

func TestKeyringFailureIsReported(t *testing.T) {
	m, _, path, _ := setup(t)
	m.Create(ctx, "a", ScopeListen, 0)
	m.Close(ctx)
	if _, err := Open(ctx, path, failingKeys{}, Options{}); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Open with a dead keyring = %v", err)
	}
	fresh, err := Open(ctx, filepath.Join(t.TempDir(), "tokens.json"), failingKeys{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	if _, _, err := fresh.Create(ctx, "a", ScopeListen, 0); err == nil || !strings.Contains(err.Error(), "keyring") {
		t.Fatalf("Create with a dead keyring = %v", err)
	}
	if len(mustList(t, fresh)) != 0 {
		t.Fatal("a failed Create left a token")
	}
}

func TestStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{}, "active"},
		{Info{Expires: &future}, "active"},
		{Info{Expires: &past}, "expired"},
		{Info{Revoked: true, Expires: &past}, "revoked"},
		{Info{RetiresAt: &past}, "rotated out"},
		{Info{RetiresAt: &future}, "rotated (until " + future.Local().Format("Jan 2 15:04:05") + ")"},
	} {
		if got := tc.info.Status(now); got != tc.want {
			t.Errorf("Status(%+v) = %q, want %q", tc.info, got, tc.want)
		}
	}
}

func TestInfoJSONIsCamelCase(t *testing.T) {
	now := time.Now()
	b, _ := json.Marshal(Info{ID: "i", LastUsed: &now, RetiresAt: &now, RevokedAt: &now, Revoked: true, LastClient: "a"})
	for _, k := range []string{`"id"`, `"lastUsed"`, `"retiresAt"`, `"revokedAt"`, `"lastClient"`, `"keyId"`, `"created"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("Info JSON %s lacks %s", b, k)
		}
	}
}

// realKeyring is the real Secret Service under a unique service name.
type testKeyring struct {
	*secrets.Store
	service string
}

func realKeyring(t *testing.T) testKeyring {
	t.Helper()
	const how = "this test uses the real Secret Service: run it under build/with-keyring.sh " +
		"(e.g. build/with-keyring.sh go test ./relay/tokens/; build/test.sh does this)"
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no D-Bus session; " + how)
	}
	var b [6]byte
	rand.Read(b[:])
	service := "earshot-test-" + hex.EncodeToString(b[:])
	s := secrets.New(service, secrets.DefaultTimeout)
	if _, err := s.Get(ctx, "probe"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("no Secret Service answers (%v); %s", err, how)
	}
	return testKeyring{s, service}
}

// TestRealKeyring keeps the signing key on the real Secret Service.
func TestRealKeyring(t *testing.T) {
	keys := realKeyring(t)
	c := newClock()
	path := filepath.Join(t.TempDir(), "tokens.json")
	m := open(t, path, keys, c)
	tok, info, err := m.Create(ctx, "real", ScopeListen, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Close(ctx)
	m2 := open(t, path, keys, c)
	if _, err := m2.Verify(tok); err != nil {
		t.Fatalf("token does not verify after reopening with the real keyring: %v", err)
	}
	if err := m2.RotateAll(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Get(ctx, keyItem(info.KeyID)); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("retired key still in the real keyring: %v", err)
	}
	keys.Delete(ctx, keyItem(m2.reg.CurrentKey))
}

func BenchmarkVerify(b *testing.B) {
	m, err := Open(ctx, filepath.Join(b.TempDir(), "tokens.json"), secrets.NewMemory(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	for range 100 {
		m.Create(ctx, "filler", ScopeListen, 0)
	}
	tok, _, _ := m.Create(ctx, "bench", ScopeListen, time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyInvalid is the cost of refusing a token with a bad
// signature (what a guessing client costs the relay).
func BenchmarkVerifyInvalid(b *testing.B) {
	m, err := Open(ctx, filepath.Join(b.TempDir(), "tokens.json"), secrets.NewMemory(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	tok, _, _ := m.Create(ctx, "bench", ScopeListen, time.Hour)
	bad := tok[:len(tok)-sigLen] + flip(tok[len(tok)-sigLen:])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Verify(bad); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	m, err := Open(ctx, filepath.Join(b.TempDir(), "tokens.json"), secrets.NewMemory(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	tok, _, _ := m.Create(ctx, "bench", ScopeListen, time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	c := newClock()
	m, err := Open(ctx, filepath.Join(f.TempDir(), "tokens.json"), secrets.NewMemory(), Options{Now: c.Now, ReloadEvery: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close(ctx) })
	good, _, _ := m.Create(ctx, "fuzz", ScopeListen, 0)
	expiring, _, _ := m.Create(ctx, "fuzz-exp", ScopeControl, time.Hour)
	revoked, rinfo, _ := m.Create(ctx, "fuzz-rev", ScopeListen, 0)
	m.Revoke(ctx, rinfo.ID)
	accept := map[string]bool{good: true, expiring: true}
	parts := strings.Split(good, ".")
	for _, s := range []string{
		good, expiring, revoked, "", "a.b.c", "...",
		"eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.",
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		good + "=", good + ".", " " + good,
		strings.ToUpper(good),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := m.Verify(tok)
		if accept[tok] {
			if err != nil {
				t.Fatal("a good token failed")
			}
			return
		}
		if err == nil {
			t.Fatalf("a token other than the ones issued verified: %q (as %+v)", tok, cl)
		}
		if err != ErrInvalid {
			t.Fatalf("Verify returned %v, want exactly ErrInvalid", err)
		}
	})
}

func TestDeadline_IsTheEarliestOfExpiryAndGraceEnd(t *testing.T) {
	m, c, _, _ := setup(t)
	_, forever, _ := m.Create(ctx, "forever", ScopeListen, 0)
	if at, ok := m.Deadline(forever.ID); ok {
		t.Fatalf("a token without exp has deadline %v", at)
	}
	_, day, _ := m.Create(ctx, "a day", ScopeListen, 24*time.Hour)
	if at, ok := m.Deadline(day.ID); !ok || !at.Equal(*day.Expires) {
		t.Fatalf("deadline %v (%v), want the expiry %v", at, ok, day.Expires)
	}
	if _, _, err := m.Rotate(ctx, day.ID, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if at, ok := m.Deadline(day.ID); !ok || !at.Equal(c.Now().Add(10*time.Minute)) {
		t.Fatalf("deadline %v (%v), want the end of the grace", at, ok)
	}
	_, short, _ := m.Create(ctx, "short", ScopeListen, time.Minute)
	if _, _, err := m.Rotate(ctx, short.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if at, ok := m.Deadline(short.ID); !ok || !at.Equal(*short.Expires) {
		t.Fatalf("deadline %v (%v), want the expiry before the grace ends", at, ok)
	}
	if err := m.Revoke(ctx, forever.ID); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	for _, id := range []string{forever.ID, short.ID, "unknown"} {
		if at, ok := m.Deadline(id); ok {
			t.Errorf("a dead or unknown token %s has deadline %v", id, at)
		}
	}
}

// A signature that differs from the right one only in its last byte is
// refused like any other: the comparison covers every byte.
func TestVerify_SignatureDifferingOnlyInTheLastByteIsRefused(t *testing.T) {
	m, _, _, _ := setup(t)
	tok, _, _ := m.Create(ctx, "a", ScopeListen, 0)
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 32 {
		t.Fatalf("signature: %d bytes, %v", len(sig), err)
	}
	for _, bit := range []byte{0x01, 0x10, 0x80} {
		bad := bytes.Clone(sig)
		bad[len(bad)-1] ^= bit
		forged := tok[:i+1] + base64.RawURLEncoding.EncodeToString(bad)
		if forged[:len(forged)-2] != tok[:len(tok)-2] {
			t.Fatalf("the forgery differs before the last byte's characters")
		}
		if _, err := m.Verify(forged); err != ErrInvalid {
			t.Errorf("signature with its last byte ^%#x: Verify = %v, want ErrInvalid", bit, err)
		}
	}
	if _, err := m.Verify(tok); err != nil {
		t.Fatalf("the real token: %v", err)
	}
}

// The signature check compares in constant time: verify.go calls
// subtle.ConstantTimeCompare in signatureOK and never compares a
// signature with == or !=, nor with bytes.Equal or strings.Compare.
func TestVerify_SignatureIsComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "verify.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	sigNames := map[string]bool{"sig": true, "want": true, "got": true, "sum": true}
	mentionsSig := func(e ast.Expr) bool {
		found := false
		ast.Inspect(e, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "len" {
					return false // comparing lengths leaks nothing
				}
			case *ast.Ident:
				if sigNames[n.Name] {
					found = true
				}
			case *ast.SelectorExpr:
				if sigNames[n.Sel.Name] {
					found = true
				}
			}
			return !found
		})
		return found
	}
	var constantTime bool
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name == "signatureOK" {
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if call, ok := m.(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
							if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "subtle" {
								constantTime = true
							}
						}
					}
					return true
				})
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && (mentionsSig(n.X) || mentionsSig(n.Y)) {
				if !isConstantTimeResult(n) {
					t.Errorf("%s: a signature compared with %s", fset.Position(n.Pos()), n.Op)
				}
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Equal" || sel.Sel.Name == "Compare") {
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "bytes" || pkg.Name == "strings") {
					t.Errorf("%s: %s.%s on verification data", fset.Position(n.Pos()), pkg.Name, sel.Sel.Name)
				}
			}
		}
		return true
	})
	if !constantTime {
		t.Fatal("signatureOK does not call subtle.ConstantTimeCompare")
	}
}

// isConstantTimeResult reports whether e is `subtle.ConstantTimeCompare(…) == 1`.
func isConstantTimeResult(e *ast.BinaryExpr) bool {
	call, ok := e.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "ConstantTimeCompare"
}

// A token another process (the CLI) creates is accepted at once even when,
// a moment before, someone presented a token of a key this process does
// not know (as consumers with old tokens do right after rotate-all):
// looking for edits on disk is not rate-limited by time.
func TestVerify_TokenFromAnotherProcessWorksRightAfterAnUnknownKeysToken(t *testing.T) {
	cli, c, path, keys := setup(t)
	var reads atomic.Int64
	relay, err := Open(ctx, path, keys, Options{Now: c.Now, ReloadEvery: -1, afterReloadRead: func() { reads.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close(ctx)
	other, _, _, _ := setup(t)
	foreign, _, _ := other.Create(ctx, "elsewhere", ScopeListen, 0)
	if _, err := relay.Verify(foreign); err != ErrInvalid {
		t.Fatalf("a foreign token: %v", err)
	}
	tok, _, err := cli.Create(ctx, "made by the CLI", ScopeControl, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.Verify(tok); err != nil {
		t.Fatalf("a token the CLI just created: %v, want it accepted at once", err)
	}
	// And garbage never makes it read the file: nothing changed on disk.
	before := reads.Load()
	for range 100 {
		relay.Verify(foreign)
	}
	if n := reads.Load() - before; n != 0 {
		t.Fatalf("%d registry reads for unknown tokens with the file unchanged", n)
	}
}

// TestVerify_DuringABackgroundReloadOfTheSameEdit: the CLI creates a token
// and the relay's background reload has read the file but not yet installed
// it when the token is first presented. Verify must wait for that reload
// (or do its own), not take the file as already seen: a fresh token was
// refused now and then under load (seen in TestTwoManagersConcurrentEdits).
func TestVerify_DuringABackgroundReloadOfTheSameEdit(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	var armed atomic.Bool
	read := make(chan struct{})
	release := make(chan struct{})
	relay, err := Open(ctx, path, keys, Options{Now: c.Now, ReloadEvery: time.Millisecond, afterReloadRead: func() {
		if armed.CompareAndSwap(true, false) {
			close(read)
			<-release // hold the reload between its read and its install
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close(ctx)
	cli := open(t, path, keys, c)
	if _, _, err := relay.Create(ctx, "first", ScopeListen, 0); err != nil { // the signing key exists
		t.Fatal(err)
	}
	armed.Store(true)
	tok, _, err := cli.Create(ctx, "made by the CLI", ScopeListen, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, read, "the background reload of the CLI's edit")
	verified := make(chan error, 1)
	go func() { _, err := relay.Verify(tok); verified <- err }()
	// Give Verify the chance to run into the held reload (not a timing the
	// test depends on: it must succeed whether or not it got there first).
	time.Sleep(50 * time.Millisecond)
	close(release)
	select {
	case err := <-verified:
		if err != nil {
			t.Fatalf("a fresh token presented during the reload of its creation: %v", err)
		}
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("Verify did not return")
	}
}

// TestFileStampHasTheFileIdentity: the registry's change check includes
// the file's identity, so an atomic replace with the same size in the same
// clock tick still reads as a change (the inode was always 0 once: the
// wrong Stat_t type).
func TestFileStampHasTheFileIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	if err := os.WriteFile(path, []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rf, err := openRegistryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := rf.read()
	if err != nil {
		t.Fatal(err)
	}
	if st.id == (safefile.ID{}) {
		t.Fatal("stampOf read no file identity")
	}
	rf.markSeen(st)
	if rf.changedOnDisk() {
		t.Fatal("an untouched file reads as changed")
	}
	fi, _ := os.Stat(path)
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte(`{"version":1}`), 0o600)
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	keep, _ := os.Open(path) // the old inode stays in use, so it is not reused
	defer keep.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !rf.changedOnDisk() {
		t.Fatal("a file replaced by one of the same size and time reads as unchanged")
	}
}

func TestUsedBySaysWhoNotWhichPort(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{}, ""},
		{Info{LastClient: "VLC", LastAddr: "127.0.0.1:45304"}, "VLC"},
		{Info{LastAddr: "127.0.0.1:45304"}, "this computer"},
		{Info{LastAddr: "[::1]:45304"}, "this computer"},
		{Info{LastAddr: "192.0.2.7:50000"}, "192.0.2.7"},
	} {
		if got := tc.info.UsedBy(); got != tc.want {
			t.Errorf("UsedBy(%+v) = %q, want %q", tc.info, got, tc.want)
		}
	}
}

// An old registry's lastAddr is replaced by lastClient at the next use.
func TestTouchReplacesALegacyAddress(t *testing.T) {
	m, c, _, _ := setup(t)
	_, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	if err := m.mutate(ctx, func(r *registry) error { r.find(info.ID).LastAddr = "127.0.0.1:1"; return nil }); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	m.Touch(info.ID, "curl")
	if got, _ := m.Get(info.ID); got.LastClient != "curl" || got.LastAddr != "" {
		t.Fatalf("after a use: %+v", got)
	}
}

func TestWatchFollowsTheRegistryAndItsUse(t *testing.T) {
	m, c, path, keys := setup(t)
	wctx, cancel := context.WithCancel(ctx)
	updates := m.Watch(wctx)
	next := func(what string) []Info {
		t.Helper()
		select {
		case l, ok := <-updates:
			if !ok {
				t.Fatalf("%s: Watch ended", what)
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no update", what)
			return nil
		}
	}
	if l := next("the first list"); len(l) != 0 {
		t.Fatalf("first list = %+v", l)
	}
	_, info, _ := m.Create(ctx, "OBS", ScopeListen, 0)
	if l := next("a create"); len(l) != 1 || l[0].Name != "OBS" {
		t.Fatalf("after a create: %+v", l)
	}
	// Another process (the CLI) creates one: the reload notices it.
	other := open(t, path, keys, c)
	if _, _, err := other.Create(ctx, "VLC", ScopeListen, 0); err != nil {
		t.Fatal(err)
	}
	if l := next("another process's create"); len(l) != 2 {
		t.Fatalf("after the CLI's create: %+v", l)
	}
	c.Advance(time.Second)
	m.Touch(info.ID, "OBS Studio")
	if l := next("a use"); l[0].UsedBy() != "OBS Studio" {
		t.Fatalf("after a use: %+v", l[0])
	}
	if err := m.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if l := next("a revoke"); !l[0].Revoked {
		t.Fatalf("after a revoke: %+v", l[0])
	}
	cancel()
	for range updates {
	}
}

func mustList(t *testing.T, m *Manager) []Info {
	t.Helper()
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}
