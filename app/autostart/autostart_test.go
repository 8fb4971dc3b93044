package autostart

import (
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// parseDesktopFile reads a desktop entry as the spec lays it out: groups
// in brackets, Key=Value lines, comments and blank lines. It fails the test
// on anything else.
func parseDesktopFile(t *testing.T, data string) map[string]map[string]string {
	t.Helper()
	groups := map[string]map[string]string{}
	var cur map[string]string
	for i, line := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := line[1 : len(line)-1]
			if groups[name] != nil {
				t.Fatalf("line %d: group %q twice", i+1, name)
			}
			cur = map[string]string{}
			groups[name] = cur
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil || k == "" || strings.ContainsAny(k, " \t") {
				t.Fatalf("line %d is not a key=value in a group: %q", i+1, line)
			}
			if _, dup := cur[k]; dup {
				t.Fatalf("line %d: key %q twice", i+1, k)
			}
			cur[k] = v
		}
	}
	return groups
}

// TestXDGAutostartForReal: turned on, the entry appears where session
// managers look, parses as a desktop entry and names this binary by its
// resolved path; turned off, it is gone.
func TestXDGAutostartForReal(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	e, err := NewEntry()
	if err != nil {
		t.Fatal(err)
	}
	xe, ok := e.(fileEntry)
	if !ok {
		t.Skipf("this platform's entry is %T", e) // the XDG one is the one built on Linux
	}
	want := filepath.Join(home, "config", "autostart", "app.earshot.earshot.desktop")
	if xe.path != want {
		t.Fatalf("entry at %s, want %s", xe.path, want)
	}
	if st, err := e.Status(); err != nil || st.On || st.Foreign {
		t.Fatalf("before: %+v %v; autostart must be off until turned on", st, err)
	}
	cmd, err := Command()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Enable(cmd); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("the entry did not appear: %v", err)
	}
	g := parseDesktopFile(t, string(data))["Desktop Entry"]
	if g == nil || g["Type"] != "Application" || g["Name"] == "" {
		t.Fatalf("not a desktop entry of an application: %v", g)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if args := splitExec(unescapeString(g["Exec"])); len(args) != 1 || args[0] != exe {
		t.Fatalf("Exec=%s starts %q, want this binary %q", g["Exec"], args, exe)
	}
	if v, err := exec.LookPath("desktop-file-validate"); err == nil {
		if out, err := exec.Command(v, want).CombinedOutput(); err != nil {
			t.Fatalf("desktop-file-validate: %v\n%s", err, out)
		}
	}
	st, err := e.Status()
	if err != nil || !st.On || st.Stale || !slices.Equal(st.Command, cmd) {
		t.Fatalf("after on: %+v %v", st, err)
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(want); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the entry is still there after off: %v", err)
	}
	if err := e.Disable(); err != nil {
		t.Fatalf("off when already off: %v", err)
	}
}

// TestEntriesNeverTouchWhatTheyDidNotWrite: a file of the same name that
// Earshot did not write, or a link there, is neither replaced nor removed.
func TestEntriesNeverTouchWhatTheyDidNotWrite(t *testing.T) {
	for name, mk := range map[string]func(home string) fileEntry{
		"XDG":         func(home string) fileEntry { return xdgEntry(home) },
		"LaunchAgent": launchAgent,
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			e := mk(home)
			os.MkdirAll(filepath.Dir(e.path), 0o755)
			theirs := "[Desktop Entry]\nType=Application\nName=Someone else's\nExec=other\n"
			os.WriteFile(e.path, []byte(theirs), 0o644)
			if st, err := e.Status(); err != nil || st.On || !st.Foreign {
				t.Fatalf("status of a foreign entry: %+v %v", st, err)
			}
			if err := e.Enable([]string{"/bin/earshot"}); !errors.Is(err, ErrForeign) {
				t.Fatalf("on over a foreign entry: %v", err)
			}
			if err := e.Disable(); !errors.Is(err, ErrForeign) {
				t.Fatalf("off with a foreign entry: %v", err)
			}
			if b, _ := os.ReadFile(e.path); string(b) != theirs {
				t.Fatalf("the foreign entry was changed: %q", b)
			}
			// A link in its place, even to a file that looks like ours.
			ours := filepath.Join(home, "elsewhere")
			os.WriteFile(ours, []byte(e.render([]string{"/bin/earshot"})), 0o644)
			os.Remove(e.path)
			os.Symlink(ours, e.path)
			if err := e.Disable(); !errors.Is(err, ErrForeign) {
				t.Fatalf("off with a link there: %v", err)
			}
			if _, err := os.Lstat(e.path); err != nil {
				t.Fatal("the link was removed")
			}
			if _, err := os.Stat(ours); err != nil {
				t.Fatal("the link's target was removed")
			}
		})
	}
}

func TestDesktopExecQuoting(t *testing.T) {
	for _, cmd := range [][]string{
		{"/usr/bin/earshot"},
		{"/home/al ice/My Apps/earshot", "--flag"},
		{`/opt/we"ird/ear$hot`, "`x`", `back\slash`, "100%", "semi;colon", ""},
	} {
		line := desktopExec(cmd)
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("%q: newline in Exec", cmd)
		}
		if got := splitExec(unescapeString(line)); !slices.Equal(got, cmd) {
			t.Errorf("Exec=%s reads back as %q, want %q", line, got, cmd)
		}
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	home := t.TempDir()
	e := launchAgent(home)
	cmd := []string{"/Applications/Earshot.app/Contents/MacOS/earshot", "<&>"}
	if err := e.Enable(cmd); err != nil {
		t.Fatal(err)
	}
	if e.path != filepath.Join(home, "Library", "LaunchAgents", "app.earshot.earshot.plist") {
		t.Fatalf("plist at %s", e.path)
	}
	data, _ := os.ReadFile(e.path)
	// Well-formed XML with the keys launchd needs.
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("not well-formed XML: %v\n%s", err, data)
		}
	}
	for _, want := range []string{"<key>Label</key>", "<string>app.earshot.earshot</string>", "<key>RunAtLoad</key>", "<true/>"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("plist lacks %s", want)
		}
	}
	st, err := e.Status()
	if err != nil || !st.On || !slices.Equal(st.Command, cmd) || !st.Stale {
		t.Fatalf("status %+v %v (another binary than this test's: stale)", st, err)
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the plist is still there")
	}
}

// fakeRunKey is the Windows Run key's values.
type fakeRunKey map[string]string

func (k fakeRunKey) GetString(name string) (string, error) {
	v, ok := k[name]
	if !ok {
		return "", errValueNotFound
	}
	return v, nil
}
func (k fakeRunKey) SetString(name, value string) error { k[name] = value; return nil }
func (k fakeRunKey) DeleteValue(name string) error {
	if _, ok := k[name]; !ok {
		return errValueNotFound
	}
	delete(k, name)
	return nil
}

func TestWindowsRunKey(t *testing.T) {
	key := fakeRunKey{"OneDrive": `"C:\Program Files\OneDrive.exe" /background`}
	e := runKeyEntry{open: func() (registryValues, func(), error) { return key, func() {}, nil }}
	if st, err := e.Status(); err != nil || st.On {
		t.Fatalf("before: %+v %v", st, err)
	}
	cmd := []string{`C:\Users\Al Ice\AppData\Local\Programs\Earshot\Earshot.exe`}
	if err := e.Enable(cmd); err != nil {
		t.Fatal(err)
	}
	if got := key[AppID]; got != `"C:\Users\Al Ice\AppData\Local\Programs\Earshot\Earshot.exe"` {
		t.Fatalf("Run value %q", got)
	}
	if st, err := e.Status(); err != nil || !st.On || !slices.Equal(st.Command, cmd) {
		t.Fatalf("after on: %+v %v", st, err)
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, ok := key[AppID]; ok || len(key) != 1 || key["OneDrive"] == "" {
		t.Fatalf("after off the key holds %v: only Earshot's value may go", key)
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
}

func TestWindowsCommandLineQuoting(t *testing.T) {
	for _, cmd := range [][]string{
		{`C:\Program Files\Earshot\Earshot.exe`},
		{`C:\a b\e.exe`, `--x`, `trailing\`, `quote"inside`, `back\\"slashes`, ``},
	} {
		line := windowsCommandLine(cmd)
		if got := splitWindowsCommandLine(line); !slices.Equal(got, cmd) {
			t.Errorf("%s reads back as %q, want %q", line, got, cmd)
		}
	}
}
