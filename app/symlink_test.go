package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"earshot/relay/backend/backendtest"
	"earshot/relay/safefile"
)

// A link planted where Earshot keeps its files is refused, with a message
// that says what to fix, and the link's target is left as it was.

// victimDir is a directory with a file in it, of mode 0755, that a link
// will point at.
func victimDir(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "victim")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	file = filepath.Join(dir, "precious")
	if err := os.WriteFile(file, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func assertUntouched(t *testing.T, dir, file string) {
	t.Helper()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the link's target directory was changed: %v %v", fi.Mode().Perm(), err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
		t.Errorf("a file in the link's target was changed: %q %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files were made in the link's target: %v", entries)
	}
}

func TestSymlinks_ConfigDirLinkIsRefused(t *testing.T) {
	env, _, errOut := testEnv(t, "")
	victim, file := victimDir(t)
	link := filepath.Join(t.TempDir(), "earshot")
	os.Symlink(victim, link)
	env.ConfigDir = link
	if code := Run(context.Background(), env, []string{"relay", "--demo", "--listen", "127.0.0.1:0"}); code == ExitOK {
		t.Fatal("the relay ran on a configuration directory that is a link")
	}
	if msg := errOut.String(); !strings.Contains(msg, link+" is a symbolic link") || !strings.Contains(msg, "EARSHOT_CONFIG_DIR") {
		t.Fatalf("stderr: %s", msg)
	}
	assertUntouched(t, victim, file)
}

func TestSymlinks_CacheDirLinkIsRefused(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	env, _, _ := testEnv(t, testPassword+"\n")
	if code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
		t.Fatalf("login exit %d", code)
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, which := range []string{"the cache directory", "the account's cache directory"} {
		t.Run(which, func(t *testing.T) {
			victim, file := victimDir(t)
			e := *env
			errOut := &syncBuffer{}
			e.Stderr, e.Stdout = errOut, &syncBuffer{}
			e.CacheDir = filepath.Join(t.TempDir(), "audio")
			link := e.CacheDir
			if which != "the cache directory" {
				os.Mkdir(e.CacheDir, 0o700)
				link = accountCacheDir(e.CacheDir, cfg)
			}
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			if code := Run(context.Background(), &e, []string{"relay", "--listen", "127.0.0.1:0"}); code == ExitOK {
				t.Fatal("the relay ran on a cache directory that is a link")
			}
			if !strings.Contains(errOut.String(), link+" is a symbolic link") {
				t.Fatalf("stderr: %s", errOut.String())
			}
			assertUntouched(t, victim, file)
		})
	}
}

// TestSymlinks_FilesInTheConfigDirAreNotFollowed: account.lock (a planted
// link used to be truncated and overwritten with the process id),
// tokens.json, its lock, config.json and running.json.
func TestSymlinks_FilesInTheConfigDirAreNotFollowed(t *testing.T) {
	fake := newFake(t, backendtest.Options{})
	for _, name := range []string{accountLockFile, "tokens.json", "tokens.json.lock", "config.json", runningFile} {
		t.Run(name, func(t *testing.T) {
			env, _, errOut := testEnv(t, testPassword+"\n")
			if code := Run(context.Background(), env, []string{"login", "--server", fake.URL(), "--user", testUser, "--password-stdin"}); code != ExitOK {
				t.Fatalf("login exit %d", code)
			}
			victim, file := victimDir(t)
			path := filepath.Join(env.ConfigDir, name)
			os.Remove(path)
			if err := os.Symlink(file, path); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() { done <- Run(ctx, env, []string{"relay", "--listen", "127.0.0.1:0"}) }()
			// running.json is written after the relay is up; the others
			// stop it before it starts.
			if name == runningFile {
				waitFor(t, "the relay to answer or stop", func() bool {
					select {
					case code := <-done:
						done <- code
						return true
					default:
					}
					_, err := safefile.Open(path)
					return !errors.Is(err, safefile.ErrLink) // replaced by the relay's own file
				})
				if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
					t.Fatal("running.json is still the link")
				}
				// Stopped before the test's directories go: a relay
				// still shutting down writes in them.
				cancel()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the relay did not stop within 30 s")
				}
			} else if code := <-done; code == ExitOK {
				t.Fatalf("the relay ran with %s a link", name)
			} else if !strings.Contains(errOut.String(), "is a symbolic link") {
				t.Fatalf("stderr: %s", errOut.String())
			}
			assertUntouched(t, victim, file)
		})
	}
}
