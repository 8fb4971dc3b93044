package secrets

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// uniqueService is a keyring service name of this test run's own, so tests
// never touch a user's items and runs never see each other's.
func uniqueService(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "earshot-test-" + hex.EncodeToString(b[:])
}

// realStore is the real system keyring under a unique service name. With
// no Secret Service that answers, the test fails and says how to run it:
// these tests are about the real thing, so skipping would hide the gap.
// realKeyringBound bounds each call to the real keyring in these tests: a
// bound on a hang, not a timing target. With the whole suite running three
// times over on two cores, gnome-keyring once took longer than the
// production 3 s for a few seconds and every call in that window failed.
const realKeyringBound = 30 * time.Second

func realStore(t *testing.T) *Store {
	t.Helper()
	const how = "these tests use the real Secret Service: run them under build/with-keyring.sh " +
		"(e.g. build/with-keyring.sh go test ./relay/secrets/; build/test.sh does this)"
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is empty); " + how)
	}
	s := New(uniqueService(t), realKeyringBound)
	if _, err := s.Get(context.Background(), "probe"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no Secret Service answers on this D-Bus session (%v); %s", err, how)
	}
	return s
}

func TestStore_RoundTripOnTheRealSecretService(t *testing.T) {
	s := realStore(t)
	ctx := context.Background()
	values := map[string]string{
		"refresh-token:listener@https://scanner.example.org": "rt-" + strings.Repeat("ab12", 16),
		"unicode": "pässwörd ✓ 日本語 🎧",
		"long":    strings.Repeat("0123456789abcdef", 512), // 8 KiB: split over 5 items
		"password:listener@https://" + strings.Repeat("s", 400): "a name longer than an item name may be",
		"with:odd/": "value with spaces, \"quotes\", \\backslashes\\ and\nnewlines",
		"empty":     "",
	}
	t.Cleanup(func() {
		for k := range values {
			s.Delete(context.Background(), k)
		}
	})
	for k := range values {
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%q) before Set = %v, want ErrNotFound", k, err)
		}
	}
	for k, v := range values {
		if err := s.Set(ctx, k, v); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for k, v := range values {
		got, err := s.Get(ctx, k)
		if err != nil || got != v {
			t.Fatalf("Get(%q) = %d bytes, %v; want the %d bytes stored", k, len(got), err, len(v))
		}
	}
	// Another Store on the same service (another process, in real life)
	// reads the same items; one on another service does not.
	if got, err := New(s.service, realKeyringBound).Get(ctx, "unicode"); err != nil || got != values["unicode"] {
		t.Fatalf("second store: %q, %v", got, err)
	}
	if _, err := New(uniqueService(t), realKeyringBound).Get(ctx, "unicode"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another service sees our item: %v", err)
	}
	if err := s.Set(ctx, "unicode", "replaced"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "unicode"); got != "replaced" {
		t.Fatalf("after replace: %q", got)
	}
	// Nothing we stored is in plaintext in the keyring's files.
	if dir := os.Getenv("EARSHOT_TEST_KEYRING_DIR"); dir != "" {
		assertNowhere(t, dir, values["refresh-token:listener@https://scanner.example.org"], values["long"])
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

// Calls from many goroutines are serialized and each gets its own answer.
func TestStore_ConcurrentCallsOnTheRealSecretService(t *testing.T) {
	s := realStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("z", i*100))
			if err := s.Set(ctx, k, v); err != nil {
				t.Error(err)
				return
			}
			if got, err := s.Get(ctx, k); err != nil || got != v {
				t.Errorf("Get(%q) = %q, %v", k, got, err)
			}
			if err := s.Delete(ctx, k); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
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

func TestStore_CancelledContext(t *testing.T) {
	s := realStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, "k", "v"); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context = %v", err)
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

// A Secret Service that never answers, two ways. Each runs the keyring
// calls in a child process (the D-Bus library keeps one session connection
// per process) with a fresh HOME, and checks that they fail within the
// bound with a message that says what to do, and that the secret was
// written nowhere.
//
//   - a socket that accepts D-Bus connections and never says a word (the
//     bus itself is wedged);
//   - a real, private bus on which org.freedesktop.secrets is owned by a
//     connection that receives every call and never replies (the service
//     is wedged, e.g. waiting on an unlock prompt nobody sees).

func TestStore_BusThatNeverAnswers(t *testing.T) {
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
	var held []net.Conn // accepted and ignored
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	runWedgedChild(t, "TestStore_BusThatNeverAnswers", "unix:path="+sock, dir)
}

func TestStore_SecretServiceThatNeverReplies(t *testing.T) {
	if os.Getenv("EARSHOT_WEDGED_CHILD") == "1" {
		wedgedChild(t)
		return
	}
	dir := t.TempDir()
	addr := privateBus(t, dir)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	reply, err := conn.RequestName("org.freedesktop.secrets", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.secrets on the private bus: %v, %v", reply, err)
	}
	// From here every incoming call lands in calls and nothing replies.
	calls := make(chan *dbus.Message, 64)
	conn.Eavesdrop(calls)
	var mu sync.Mutex
	var members []string
	go func() {
		for msg := range calls {
			if msg.Type == dbus.TypeMethodCall {
				if m, ok := msg.Headers[dbus.FieldMember]; ok {
					mu.Lock()
					members = append(members, fmt.Sprint(m.Value()))
					mu.Unlock()
				}
			}
		}
	}()
	runWedgedChild(t, "TestStore_SecretServiceThatNeverReplies", addr, dir)
	mu.Lock()
	defer mu.Unlock()
	if len(members) == 0 {
		t.Fatal("the child never called the fake Secret Service: the test did not exercise a wedged service")
	}
	t.Logf("the fake Secret Service received (and ignored) %v", members)
}

// privateBus starts a dbus-daemon of the test's own and returns its address.
func privateBus(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Fatal("dbus-daemon is missing; install the dependencies with build/deps.sh")
	}
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile",
		"--address=unix:path="+filepath.Join(dir, "private-bus"), "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

func runWedgedChild(t *testing.T, test, busAddr, dir string) {
	t.Helper()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang guard, not a timing
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"EARSHOT_WEDGED_CHILD=1",
		"DBUS_SESSION_BUS_ADDRESS="+busAddr,
		"HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the child hung on a wedged keyring:\n%s", out)
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("did not answer within 500ms (is a Secret Service")) {
		t.Fatalf("child output lacks the timeout message:\n%s", out)
	}
	assertNowhere(t, dir, wedgedSecret)
}

// assertNowhere fails if any regular file under dir holds one of the
// secrets.
func assertNowhere(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("a secret was written in plaintext to %s", p)
			}
		}
		return nil
	})
}

const wedgedSecret = "never-written-anywhere-7f3a"

// wedgedChild runs in the child process against a keyring that never
// answers.
func wedgedChild(t *testing.T) {
	s := New("earshot-wedged", 500*time.Millisecond)
	ctx := context.Background()
	err := s.Set(ctx, "k", wedgedSecret)
	if err == nil || strings.Contains(err.Error(), wedgedSecret) {
		t.Fatalf("Set = %v; want a timeout error without the secret", err)
	}
	t.Log(err)
	// The wedged call still holds the keyring: the next ones fail within
	// their own bound too, and say so.
	if _, err := s.Get(ctx, "k"); err == nil {
		t.Error("Get succeeded against a wedged keyring")
	} else {
		t.Log(err)
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Error("Delete succeeded against a wedged keyring")
	}
}

// TestStore_FailureSaysWhatToCheck: the library's D-Bus errors mean little
// to a listener, so a failed call says what to look at.
func TestStore_FailureSaysWhatToCheck(t *testing.T) {
	s := New("earshot-test", time.Second)
	_, err := s.do(context.Background(), "write", "relay-instance", func() (string, error) {
		return "", errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
	})
	if err == nil || !strings.Contains(err.Error(), "running and unlocked") || !strings.Contains(err.Error(), "relay-instance") {
		t.Fatalf("error %v does not say which item and what to check", err)
	}
	if !strings.Contains(err.Error(), "failed to unlock") {
		t.Fatalf("error %v lost its cause", err)
	}
}
