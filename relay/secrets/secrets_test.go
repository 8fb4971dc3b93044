package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testStore is the real system keyring under a service name of its own, so
// tests never touch a user's items.
func testStore(t *testing.T) *Store {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("these tests use the real Secret Service: run them under build/with-keyring.sh (build/test.sh does)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return New("earshot-test-"+hex.EncodeToString(b[:]), DefaultTimeout)
}

func TestStore_RoundTripOnTheRealSecretService(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	values := map[string]string{
		"refresh-token:listener@https://scanner.example.org": strings.Repeat("ab12", 16),
		"unicode":   "pässwörd ✓ 日本語",
		"long":      strings.Repeat("x", 8<<10),
		"with:odd/": "value with spaces and \"quotes\"",
	}
	for k, v := range values {
		if err := s.Set(ctx, k, v); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for k, v := range values {
		got, err := s.Get(ctx, k)
		if err != nil || got != v {
			t.Fatalf("Get(%q) = %q, %v", k, got, err)
		}
	}
	if err := s.Set(ctx, "unicode", "replaced"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "unicode"); got != "replaced" {
		t.Fatalf("after replace: %q", got)
	}
	for k := range values {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
	}
	if err := s.Delete(ctx, "never-there"); err != nil {
		t.Fatalf("Delete of a missing item = %v, want nil", err)
	}
}

func TestStore_RefusesOversizedValues(t *testing.T) {
	s := New("earshot-test-unused", time.Second)
	err := s.Set(context.Background(), "k", strings.Repeat("s", MaxValueLen+1))
	if err == nil {
		t.Fatal("oversized value accepted")
	}
	if strings.Contains(err.Error(), "sss") {
		t.Fatal("the error contains the value")
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	if _, err := m.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	m.Set(ctx, "a", "1")
	if v, _ := m.Get(ctx, "a"); v != "1" {
		t.Fatal(v)
	}
	m.Delete(ctx, "a")
	if _, err := m.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// TestStore_SecretServiceThatNeverAnswers points the keyring at a D-Bus
// socket that accepts connections and never says a word. Set and Get must
// fail within the bound with a message that says what to do, and nothing
// may be written in plaintext anywhere. It runs in a child process because
// the D-Bus library keeps one session connection per process.
func TestStore_SecretServiceThatNeverAnswers(t *testing.T) {
	if os.Getenv("EARSHOT_WEDGED_CHILD") == "1" {
		wedgedChild(t)
		return
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // accepted and ignored, never closed early
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_SecretServiceThatNeverAnswers$", "-test.v")
	cmd.Env = append(os.Environ(),
		"EARSHOT_WEDGED_CHILD=1",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+sock,
		"HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("did not answer within")) {
		t.Fatalf("child output lacks the timeout message:\n%s", out)
	}
	// Nothing written in plaintext in the child's home or our temp dir.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(wedgedSecret)) {
			t.Errorf("the secret was written to %s", p)
		}
		return nil
	})
}

const wedgedSecret = "never-written-anywhere-7f3a"

func wedgedChild(t *testing.T) {
	s := New("earshot-wedged", 500*time.Millisecond)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := s.Set(ctx, "k", wedgedSecret)
		if err == nil || strings.Contains(err.Error(), wedgedSecret) {
			t.Errorf("Set = %v; want a timeout error without the secret", err)
		}
		t.Log(err)
		// The wedged call still holds the keyring: the next one fails
		// within its own bound too.
		if _, err := s.Get(ctx, "k"); err == nil {
			t.Error("Get succeeded against a wedged keyring")
		} else {
			t.Log(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang, not a slow machine
		t.Fatal("keyring calls hung")
	}
}
