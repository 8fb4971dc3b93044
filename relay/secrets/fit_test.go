package secrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// platformKeyring is a keyring with another platform's limits, as
// go-keyring enforces them there (or the platform does).
type platformKeyring struct {
	mu     sync.Mutex
	items  map[string]string
	limits func(service, user, password string) error
}

func newPlatformKeyring(limits func(service, user, password string) error) *platformKeyring {
	return &platformKeyring{items: map[string]string{}, limits: limits}
}

func (k *platformKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.items[service+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *platformKeyring) Set(service, user, password string) error {
	if err := k.limits(service, user, password); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items[service+"\x00"+user] = password
	return nil
}

func (k *platformKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.items[service+"\x00"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.items, service+"\x00"+user)
	return nil
}

func (k *platformKeyring) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.items)
}

// windowsLimits: go-keyring's Windows backend refuses a secret over 2,560
// bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE); the credential's user name (our
// item name) may be at most 513 characters (CRED_MAX_USERNAME_LENGTH).
func windowsLimits(service, user, password string) error {
	if len(password) > 2560 || len(service) >= 512 {
		return keyring.ErrSetDataTooBig
	}
	if len([]rune(user)) > 513 {
		return errors.New("CredWrite: The parameter is incorrect.")
	}
	return nil
}

// macOSLimits: go-keyring's macOS backend base64-encodes the secret behind
// "go-keyring-base64:" and refuses a `security -i` command over 4,096 bytes.
func macOSLimits(service, user, password string) error {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }
	pw := "go-keyring-base64:" + base64.StdEncoding.EncodeToString([]byte(password))
	if len(fmt.Sprintf("add-generic-password -U -s %s -a %s -w %s\n", quote(service), quote(user), quote(pw))) > 4096 {
		return keyring.ErrSetDataTooBig
	}
	return nil
}

var platforms = []struct {
	name   string
	limits func(service, user, password string) error
}{
	{"Windows Credential Manager", windowsLimits},
	{"macOS Keychain", macOSLimits},
}

func storeWith(k keyringAPI) *Store {
	s := New("earshot", time.Second)
	s.keyring = k
	return s
}

// TestEveryItemFitsEveryKeyring: what Earshot stores — refresh tokens,
// passwords (up to MaxValueLen), signing keys, the operator and tray
// tokens (JWTs), the relay-instance secret — under names that carry the
// longest server URL and user name a configuration allows, round-trips on
// each platform's limits.
func TestEveryItemFitsEveryKeyring(t *testing.T) {
	longServer := "https://" + strings.Repeat("s", 2040)
	longUser := strings.Repeat("ü", 128) // 256 bytes
	jwt := "eyJhbGciOiJIUzI1NiIsImtpZCI6IjEyMzQ1Njc4OTBhYmNkZWYiLCJ0eXAiOiJKV1QifQ." +
		strings.Repeat("eyJhdWQiOiJlYXJzaG90IiwianRpIjoiMTIzIn0", 4) + "." + strings.Repeat("x", 43)
	items := map[string]string{
		"refresh-token:" + longUser + "@" + longServer:  strings.Repeat("ab12", 16),
		"password:" + longUser + "@" + longServer:       strings.Repeat("pässwörd🎧", MaxValueLen/14),
		"password:listener@https://scanner.example.org": "a password of ordinary length",
		"password:max@https://scanner.example.org":      strings.Repeat("p", MaxValueLen),
		"signing-key:0123456789abcdef":                  base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"operator-token":                                jwt,
		"relay-instance":                                "0123456789abcdef:" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"split-looking":                                 splitMark + "1:00:not really split",
		"empty":                                         "",
	}
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			k := newPlatformKeyring(p.limits)
			s := storeWith(k)
			ctx := context.Background()
			for key, v := range items {
				if err := s.Set(ctx, key, v); err != nil {
					t.Fatalf("Set(%.40q…, %d bytes): %v", key, len(v), err)
				}
			}
			for key, v := range items {
				got, err := s.Get(ctx, key)
				if err != nil || got != v {
					t.Fatalf("Get(%.40q…) = %d bytes, %v; want the %d bytes stored", key, len(got), err, len(v))
				}
			}
			for key := range items {
				if err := s.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			if n := k.count(); n != 0 {
				t.Fatalf("%d items left after every key was deleted", n)
			}
		})
	}
}

// TestOneItemWouldNotFit: without splitting, a 3 KB password (or a name
// with a long server URL) is refused by the Windows limits — what the
// fitting is for.
func TestOneItemWouldNotFit(t *testing.T) {
	if maxParts > 9 {
		t.Fatalf("maxParts = %d: the split header's count must stay one digit", maxParts)
	}
	if windowsLimits("earshot", "password:listener@https://scanner.example.org", strings.Repeat("p", 3000)) == nil {
		t.Fatal("the Windows limits took a 3,000-byte secret")
	}
	if windowsLimits("earshot", "password:listener@https://"+strings.Repeat("s", 600), "pw") == nil {
		t.Fatal("the Windows limits took a 600-character name")
	}
	if macOSLimits("earshot", "k", strings.Repeat("p", 3500)) == nil {
		t.Fatal("the macOS limits took a 3,500-byte secret")
	}
}

func TestSplitValueReplacedAndDamaged(t *testing.T) {
	k := newPlatformKeyring(windowsLimits)
	s := storeWith(k)
	ctx := context.Background()
	big := strings.Repeat("0123456789", 1000)
	if err := s.Set(ctx, "password:x", big); err != nil {
		t.Fatal(err)
	}
	if n := k.count(); n != 5 {
		t.Fatalf("a 10,000-byte value is in %d items, want 5", n)
	}
	// Replaced by a short value: the old parts go.
	if err := s.Set(ctx, "password:x", "short"); err != nil {
		t.Fatal(err)
	}
	if n := k.count(); n != 1 {
		t.Fatalf("%d items after a short value replaced a split one, want 1", n)
	}
	if err := s.Set(ctx, "password:x", big); err != nil {
		t.Fatal(err)
	}
	// A part changed behind Earshot's back (or a set that stopped
	// half-way): an error, never a wrong secret.
	k.mu.Lock()
	k.items["earshot\x00password:x#part3"] = strings.Repeat("X", maxPartLen)
	k.mu.Unlock()
	if v, err := s.Get(ctx, "password:x"); err == nil || strings.Contains(err.Error(), "0123") {
		t.Fatalf("a damaged split value: %d bytes, %v", len(v), err)
	}
	k.mu.Lock()
	delete(k.items, "earshot\x00password:x#part3")
	k.mu.Unlock()
	if _, err := s.Get(ctx, "password:x"); err == nil || !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing part: %v", err)
	}
}

// An item stored under a long name by an Earshot from before names were
// shortened is still found, and deleted.
func TestLongNameStoredBeforeIsFound(t *testing.T) {
	k := newPlatformKeyring(func(string, string, string) error { return nil })
	s := storeWith(k)
	key := "refresh-token:listener@https://" + strings.Repeat("s", 300)
	k.Set("earshot", key, "old")
	if v, err := s.Get(context.Background(), key); err != nil || v != "old" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := s.Delete(context.Background(), key); err != nil || k.count() != 0 {
		t.Fatalf("Delete: %v, %d left", err, k.count())
	}
}

// slowKeyring answers every call, after a while: a Secret Service on a
// busy machine (gnome-keyring writes its file on every change).
type slowKeyring struct {
	*platformKeyring
	each time.Duration
}

func (k slowKeyring) Get(service, user string) (string, error) {
	time.Sleep(k.each)
	return k.platformKeyring.Get(service, user)
}

func (k slowKeyring) Set(service, user, password string) error {
	time.Sleep(k.each)
	return k.platformKeyring.Set(service, user, password)
}

func (k slowKeyring) Delete(service, user string) error {
	time.Sleep(k.each)
	return k.platformKeyring.Delete(service, user)
}

// TestStore_CallsWaitingTheirTurnDoNotTimeOut: the bound is on the keyring
// answering, not on the queue of calls before it. Six callers each store
// an item (two keyring calls a Set) on a keyring that takes 0.3 s a call,
// under a 1 s bound: every call is answered well within it, though the
// last waits over 3 s for its turn. Before, the bound ran from the moment
// a call was asked, turn included, so the later callers were told that the
// keyring "did not answer within 1s" (TestStore_ConcurrentCallsOnTheRealSecretService
// failed so once in 20 runs on a loaded machine, where gnome-keyring is slow).
func TestStore_CallsWaitingTheirTurnDoNotTimeOut(t *testing.T) {
	k := slowKeyring{newPlatformKeyring(func(string, string, string) error { return nil }), 300 * time.Millisecond}
	s := storeWith(k)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if err := s.Set(context.Background(), fmt.Sprintf("k%d", i), "v"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := k.count(); n != 6 {
		t.Fatalf("%d items stored, want 6", n)
	}
}

// A call the keyring never answers still fails the calls waiting behind
// it within their bound, rather than holding them for as long as it lasts.
func TestStore_CallsBehindAWedgedOneFailWithinTheBound(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := New("earshot", 200*time.Millisecond)
	s.keyring = wedgedKeyring(release)
	if err := s.Set(context.Background(), "k", "v"); err == nil || !strings.Contains(err.Error(), "did not answer within") {
		t.Fatalf("Set on a wedged keyring = %v, want a timeout", err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Get(context.Background(), "k"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not answer within") {
			t.Fatalf("Get behind the wedged call = %v, want a timeout", err)
		}
	case <-time.After(20 * time.Second): // a hang guard
		t.Fatal("a call behind a wedged one hung")
	}
}

// wedgedKeyring blocks every call until release is closed.
type wedgedKeyring chan struct{}

func (k wedgedKeyring) Get(string, string) (string, error) { <-k; return "", keyring.ErrNotFound }
func (k wedgedKeyring) Set(string, string, string) error   { <-k; return nil }
func (k wedgedKeyring) Delete(string, string) error        { <-k; return nil }
