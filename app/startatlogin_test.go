package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAutostartCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	env, out, _ := testEnv(t, "")
	run := func(args ...string) string {
		t.Helper()
		out.mu.Lock()
		out.b.Reset()
		out.mu.Unlock()
		if code := Run(context.Background(), env, append([]string{"autostart"}, args...)); code != ExitOK {
			t.Fatalf("autostart %v: exit %d", args, code)
		}
		return out.String()
	}
	if got := run("status"); strings.TrimSpace(got) != "off" {
		t.Fatalf("status before: %q", got)
	}
	path := filepath.Join(home, "config", "autostart", "app.earshot.earshot.desktop")
	if got := run("on"); !strings.Contains(got, path) {
		t.Fatalf("on: %q", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if on, err := AutostartOn(); err != nil || !on {
		t.Fatalf("AutostartOn = %v, %v", on, err)
	}
	if got := run("status"); !strings.HasPrefix(got, "on (") {
		t.Fatalf("status after on: %q", got)
	}
	run("off")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the entry is still there: %v", err)
	}
	if code := Run(context.Background(), env, []string{"autostart", "maybe"}); code != ExitUsage {
		t.Fatalf("autostart maybe: exit %d, want %d", code, ExitUsage)
	}
}
