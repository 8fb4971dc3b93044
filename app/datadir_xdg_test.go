//go:build !windows && !darwin

package app

import (
	"path/filepath"
	"testing"
)

func TestDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("EARSHOT_DATA_DIR", "")
	for _, c := range []struct{ xdg, want string }{
		{filepath.Join(home, "data"), filepath.Join(home, "data", "earshot")},
		{"", filepath.Join(home, ".local", "share", "earshot")},
		{"relative", filepath.Join(home, ".local", "share", "earshot")},
	} {
		t.Setenv("XDG_DATA_HOME", c.xdg)
		if got, err := DataDir(); err != nil || got != c.want {
			t.Errorf("XDG_DATA_HOME=%q: DataDir() = %q, %v; want %q", c.xdg, got, err, c.want)
		}
	}
	t.Setenv("EARSHOT_DATA_DIR", "/srv/earshot")
	if got, _ := DataDir(); got != "/srv/earshot" {
		t.Errorf("EARSHOT_DATA_DIR: %q", got)
	}
}
