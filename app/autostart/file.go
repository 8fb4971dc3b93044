package autostart

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"earshot/relay/safefile"
)

// fileEntry is an entry kept as one file (XDG desktop entry, LaunchAgent
// plist). The file carries mark, so Disable knows it is Earshot's.
type fileEntry struct {
	path   string
	mark   string
	render func(command []string) string // the file's content, mark included
	parse  func(content string) []string // the command in a file Earshot wrote
}

const maxEntryBytes = 64 << 10

func (e fileEntry) Enable(command []string) error {
	st, err := e.Status()
	if err != nil {
		return err
	}
	if st.Foreign {
		return fmt.Errorf("%s: %w; remove it yourself if Earshot should start at log-in", e.path, ErrForeign)
	}
	dir := filepath.Dir(e.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return safefile.WriteAtomic(e.path, []byte(e.render(command)), 0o644)
}

func (e fileEntry) Disable() error {
	st, err := e.Status()
	if err != nil {
		return err
	}
	if st.Foreign {
		return fmt.Errorf("%s: %w; it is left as it is", e.path, ErrForeign)
	}
	if !st.On {
		return nil
	}
	if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", e.path, err)
	}
	return nil
}

func (e fileEntry) Status() (State, error) {
	st := State{Where: e.path}
	f, err := safefile.Open(e.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case errors.Is(err, safefile.ErrLink):
		st.Foreign = true // a link is never Earshot's
		return st, nil
	case err != nil:
		return st, fmt.Errorf("read %s: %w", e.path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("read %s: %w", e.path, err)
	}
	if !fi.Mode().IsRegular() {
		st.Foreign = true
		return st, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEntryBytes+1))
	if err != nil {
		return st, fmt.Errorf("read %s: %w", e.path, err)
	}
	if len(data) > maxEntryBytes || !strings.Contains(string(data), e.mark) {
		st.Foreign = true
		return st, nil
	}
	st.On = true
	st.Command = e.parse(string(data))
	st.Stale = isStale(st.Command)
	return st, nil
}

// isStale reports whether command starts a binary other than this one.
func isStale(command []string) bool {
	self, err := Command()
	if err != nil || len(command) == 0 {
		return len(command) == 0
	}
	return command[0] != self[0]
}
