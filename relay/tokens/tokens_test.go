package tokens

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

func open(t *testing.T, path string, keys secrets.KeyStore, c *clock) *Manager {
	t.Helper()
	m, err := Open(context.Background(), path, keys, Options{Now: c.Now, ReloadEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func setup(t *testing.T) (*Manager, *clock, string, *secrets.Memory) {
	t.Helper()
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	return open(t, path, keys, c), c, path, keys
}

var ctx = context.Background()

func TestCreateVerifyList(t *testing.T) {
	m, _, path, _ := setup(t)
	tok, info, err := m.Create(ctx, "OBS", ScopeListen, 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := m.Verify(tok)
	if err != nil || cl.ID != info.ID || cl.Scope != ScopeListen || cl.Name != "OBS" {
		t.Fatalf("Verify = %+v, %v", cl, err)
	}
	if !m.Valid(info.ID) {
		t.Fatal("Valid = false for a fresh token")
	}
	list := m.List()
	if len(list) != 1 || list[0].Name != "OBS" || list[0].Status(time.Now()) != "active" {
		t.Fatalf("List = %+v", list)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tok) || strings.Contains(string(data), strings.Split(tok, ".")[2]) {
		t.Fatal("tokens.json holds the token value")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens.json mode %v, want 0600", st.Mode().Perm())
	}
	// A standard JWT library accepts what we issue (we are not inventing a
	// format), and the claims are the documented ones.
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		return m.keys[tk.Header["kid"].(string)].raw, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience))
	if err != nil || !parsed.Valid {
		t.Fatalf("jwt/v5 rejects our token: %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	m, _, _, _ := setup(t)
	for _, tc := range []struct {
		name, scope string
		ttl         time.Duration
	}{{"", ScopeListen, 0}, {strings.Repeat("x", 65), ScopeListen, 0}, {"a\nb", ScopeListen, 0}, {"ok", "root", 0}, {"ok", ScopeListen, -time.Hour}} {
		if _, _, err := m.Create(ctx, tc.name, tc.scope, tc.ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q, %q, %v) = %v, want ErrInvalid", tc.name, tc.scope, tc.ttl, err)
		}
	}
}

func TestRefusesTamperedAndForeignTokens(t *testing.T) {
	m, _, _, _ := setup(t)
	tok, _, _ := m.Create(ctx, "a", ScopeListen, 0)
	parts := strings.Split(tok, ".")
	other, _, _, _ := setup(t)
	foreign, _, _ := other.Create(ctx, "b", ScopeListen, 0)

	claims := func(mod func(map[string]any)) string {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		json.Unmarshal(b, &c)
		mod(c)
		nb, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(nb)
	}
	resign := func(h, p string) string {
		kid := m.reg.CurrentKey
		mac := hmac.New(sha256.New, m.keys[kid].raw)
		mac.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	noneHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + m.reg.CurrentKey + `"}`))
	for name, bad := range map[string]string{
		"empty":             "",
		"garbage":           "not-a-token-at-all-really",
		"foreign key":       foreign,
		"flipped signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"changed scope":     parts[0] + "." + claims(func(c map[string]any) { c["scope"] = "control" }) + "." + parts[2],
		"alg none":          noneHdr + "." + parts[1] + ".",
		"alg none signed":   resign(noneHdr, parts[1]),
		"wrong audience":    resign(parts[0], claims(func(c map[string]any) { c["aud"] = "someone-else" })),
		"unknown jti":       resign(parts[0], claims(func(c map[string]any) { c["jti"] = "ffffffffffff" })),
		"scope escalation":  resign(parts[0], claims(func(c map[string]any) { c["scope"] = "control" })),
		"four parts":        tok + ".x",
		"huge":              strings.Repeat("a", MaxTokenLen+1),
	} {
		if _, err := m.Verify(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Verify = %v, want ErrInvalid", name, err)
		}
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

func TestRevokeExpireRotate(t *testing.T) {
	m, c, _, _ := setup(t)
	ch := m.Changed()
	tok, info, _ := m.Create(ctx, "a", ScopeListen, time.Hour)
	select {
	case <-ch:
	default:
		t.Fatal("Create did not signal Changed")
	}
	// Expiry.
	c.Advance(time.Hour)
	if _, err := m.Verify(tok); !errors.Is(err, ErrInvalid) || m.Valid(info.ID) {
		t.Fatal("expired token still works")
	}
	if s := m.List()[0].Status(c.Now()); s != "expired" {
		t.Fatalf("status %q", s)
	}
	// Rotation with grace.
	tok2, info2, _ := m.Create(ctx, "b", ScopeControl, 0)
	tok3, info3, err := m.Rotate(ctx, info2.ID, 10*time.Minute)
	if err != nil || info3.Name != "b" || info3.Scope != ScopeControl {
		t.Fatalf("Rotate = %+v, %v", info3, err)
	}
	if _, err := m.Verify(tok2); err != nil {
		t.Fatal("old token stopped during its grace")
	}
	c.Advance(10 * time.Minute)
	if _, err := m.Verify(tok2); !errors.Is(err, ErrInvalid) || m.Valid(info2.ID) {
		t.Fatal("old token works after its grace")
	}
	if _, err := m.Verify(tok3); err != nil {
		t.Fatal("new token refused")
	}
	// Revoke.
	if err := m.Revoke(ctx, info3.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(tok3); !errors.Is(err, ErrInvalid) || m.Valid(info3.ID) {
		t.Fatal("revoked token works")
	}
	if err := m.Revoke(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Revoke unknown = %v", err)
	}
	if _, _, err := m.Rotate(ctx, "nope", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotate unknown = %v", err)
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
	if _, err := m.Verify(a); err != nil {
		t.Fatal("token died before the grace ended")
	}
	c.Advance(time.Minute)
	for _, tok := range []string{a, b} {
		if _, err := m.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Fatal("token survived rotate-all")
		}
	}
	fresh, _, _ := m.Create(ctx, "c", ScopeListen, 0)
	if _, err := m.Verify(fresh); err != nil || m.reg.CurrentKey == oldKid {
		t.Fatal("new tokens do not use the new key")
	}
	if err := m.RotateAll(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(fresh); !errors.Is(err, ErrInvalid) {
		t.Fatal("token survived rotate-all without grace")
	}
	if _, err := keys.Get(ctx, keyItem(oldKid)); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatal("retired signing key left in the keyring")
	}
}

func TestSurvivesRestartWithLastUsed(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	m, err := Open(ctx, path, keys, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	m.Touch(info.ID, "127.0.0.1:5555")
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m2 := open(t, path, keys, c)
	if _, err := m2.Verify(tok); err != nil {
		t.Fatalf("token lost across restart: %v", err)
	}
	got, _ := m2.Get(info.ID)
	if got.LastUsed == nil || got.LastAddr != "127.0.0.1:5555" {
		t.Fatalf("last used lost across restart: %+v", got)
	}
}

func TestTouchIsBatched(t *testing.T) {
	m, c, path, _ := setup(t)
	_, info, _ := m.Create(ctx, "a", ScopeListen, 0)
	before, _ := os.Stat(path)
	for i := 0; i < 1000; i++ {
		c.Advance(time.Second)
		m.Touch(info.ID, "127.0.0.1:1")
	}
	after, _ := os.Stat(path)
	if !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Fatal("Touch wrote the registry")
	}
	if got, _ := m.Get(info.ID); got.LastUsed == nil {
		t.Fatal("Touch not visible in memory")
	}
}

// Two managers on one file (a running relay and a CLI) creating at once
// lose nothing, and each sees the other's tokens.
func TestTwoManagersConcurrentEdits(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	a, b := open(t, path, keys, c), open(t, path, keys, c)
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for i := 0; i < 20; i++ {
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
	data, _ := os.ReadFile(path)
	var reg registry
	if err := json.Unmarshal(data, &reg); err != nil || len(reg.Tokens) != 40 {
		t.Fatalf("registry has %d tokens (%v), want 40", len(reg.Tokens), err)
	}
	// The other manager picks up the edits (reload) and verifies them.
	deadline := time.Now().Add(10 * time.Second)
	for len(a.List()) != 40 || len(b.List()) != 40 {
		if time.Now().After(deadline) {
			t.Fatalf("managers see %d and %d tokens", len(a.List()), len(b.List()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for tok := range tokens {
		if _, err := a.Verify(tok); err != nil {
			t.Fatal("a token created by the other manager does not verify")
		}
	}
}

func TestReloadSignalsChanged(t *testing.T) {
	c := newClock()
	keys := secrets.NewMemory()
	path := filepath.Join(t.TempDir(), "tokens.json")
	relay := open(t, path, keys, c)
	tok, info, _ := relay.Create(ctx, "a", ScopeListen, 0)
	changed := relay.Changed()
	cli := open(t, path, keys, c)
	if err := cli.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the relay's manager did not notice the CLI's revoke")
	}
	if _, err := relay.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Fatal("revoked (by another process) token still verifies")
	}
}

func TestRefusesWritableRegistry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	os.WriteFile(path, []byte(`{"version":1,"keys":[],"tokens":[]}`), 0o600)
	os.Chmod(path, 0o666)
	_, err := Open(ctx, path, secrets.NewMemory(), Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open of a world-writable registry = %v", err)
	}
	os.WriteFile(path, []byte(`{not json`), 0o600)
	os.Chmod(path, 0o600)
	if _, err := Open(ctx, path, secrets.NewMemory(), Options{}); err == nil {
		t.Fatal("corrupt registry accepted")
	}
}

// TestRealKeyring keeps the signing key on the real Secret Service.
func TestRealKeyring(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("run under build/with-keyring.sh (build/test.sh does)")
	}
	var b [6]byte
	rand.Read(b[:])
	keys := secrets.New("earshot-test-"+hex.EncodeToString(b[:]), 3*time.Second)
	c := newClock()
	path := filepath.Join(t.TempDir(), "tokens.json")
	m := open(t, path, keys, c)
	tok, _, err := m.Create(ctx, "real", ScopeListen, 0)
	if err != nil {
		t.Fatal(err)
	}
	m2 := open(t, path, keys, c)
	if _, err := m2.Verify(tok); err != nil {
		t.Fatalf("token does not verify after reopening with the real keyring: %v", err)
	}
	m.RotateAll(ctx, 0)
}

func BenchmarkVerify(b *testing.B) {
	m, err := Open(ctx, filepath.Join(b.TempDir(), "tokens.json"), secrets.NewMemory(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	for i := 0; i < 100; i++ {
		m.Create(ctx, "filler", ScopeListen, 0)
	}
	tok, _, _ := m.Create(ctx, "bench", ScopeListen, time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	m, err := Open(ctx, filepath.Join(f.TempDir(), "tokens.json"), secrets.NewMemory(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close(ctx) })
	good, _, _ := m.Create(ctx, "fuzz", ScopeListen, 0)
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.")
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := m.Verify(tok)
		if tok == good {
			if err != nil {
				t.Fatal("the good token failed")
			}
			return
		}
		if err == nil {
			// Only a token equal in meaning to the good one may pass:
			// same signature bytes and claims (base64 padding bits aside).
			if cl.Name != "fuzz" || strings.Split(tok, ".")[1] != strings.Split(good, ".")[1] {
				t.Fatalf("a mutated token verified: %q", tok)
			}
		}
	})
}
