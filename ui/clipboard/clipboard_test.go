package clipboard

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"earshot/ui/xvfbtest"
)

func TestChoosesTheDesktopsProgram(t *testing.T) {
	for _, tc := range []struct {
		name      string
		goos      string
		env       map[string]string
		installed []string
		want      string
	}{
		{"wayland first", "linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, []string{"wl-copy", "xclip"}, "wl-copy"},
		{"xwayland without wl-copy", "linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, []string{"xclip"}, "xclip"},
		{"x11", "linux", map[string]string{"DISPLAY": ":0"}, []string{"wl-copy", "xclip", "xsel"}, "xclip"},
		{"x11 with xsel only", "freebsd", map[string]string{"DISPLAY": ":0"}, []string{"xsel"}, "xsel"},
		{"macOS", "darwin", nil, []string{"pbcopy"}, "pbcopy"},
		{"Windows", "windows", nil, []string{"clip"}, "clip"},
		{"no display", "linux", nil, []string{"wl-copy", "xclip"}, ""},
		{"nothing installed", "linux", map[string]string{"DISPLAY": ":0"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Env{GOOS: tc.goos, Getenv: func(k string) string { return tc.env[k] },
				LookPath: func(name string) (string, error) {
					for _, p := range tc.installed {
						if p == name {
							return "/usr/bin/" + name, nil
						}
					}
					return "", exec.ErrNotFound
				}}
			path, _, err := e.choose()
			if tc.want == "" {
				if !errors.Is(err, ErrNoProgram) {
					t.Fatalf("chose %q, %v; want ErrNoProgram", path, err)
				}
				return
			}
			if err != nil || filepath.Base(path) != tc.want {
				t.Fatalf("chose %q, %v; want %s", path, err, tc.want)
			}
		})
	}
}

// The text can hold a stream token: it goes to the program on its standard
// input, never on its command line (which every user of the machine can
// read).
func TestTheTextGoesOnStandardInputNotTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	// A stand-in xclip that records what it was given.
	script := "#!/bin/sh\necho \"$@\" > " + filepath.Join(dir, "args") + "\ncat > " + filepath.Join(dir, "stdin") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xclip"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := Env{GOOS: "linux", Getenv: func(k string) string { return map[string]string{"DISPLAY": ":0"}[k] },
		LookPath: func(name string) (string, error) {
			if name == "xclip" {
				return filepath.Join(dir, "xclip"), nil
			}
			return "", exec.ErrNotFound
		}}
	const secret = "ws://127.0.0.1:7373/v1/live?token=eyJhbGciOiJIUzI1NiJ9.secret"
	if err := e.Copy(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if strings.Contains(string(args), "token") {
		t.Fatalf("the token is on the command line: %s", args)
	}
	if string(stdin) != secret {
		t.Fatalf("the program read %q", stdin)
	}
	if err := e.Copy(context.Background(), strings.Repeat("x", MaxText+1)); err == nil {
		t.Fatal("a copy over MaxText was accepted")
	}
}

// The fault this fixes: Copy stream URL from the tray went through the
// window process, and on X11 a copy leaves with the process that made it.
// Here the copy is pasted (read by another client) after Copy returned and
// its caller did nothing more; a second copy replaces it without leaving a
// program behind for each copy.
func TestTheCopyOutlivesTheCallOnARealDisplay(t *testing.T) {
	if _, err := exec.LookPath("xclip"); err != nil {
		t.Fatal("this needs xclip; install it with build/deps.sh")
	}
	display := xvfbtest.Start(t)
	t.Setenv("DISPLAY", display)
	t.Setenv("WAYLAND_DISPLAY", "")
	e := Env{}
	paste := func() string {
		cmd := exec.Command("xclip", "-selection", "clipboard", "-out")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		out, err := cmd.Output()
		if err != nil {
			return "(nothing: " + err.Error() + ")"
		}
		return string(out)
	}
	const first = "ws://127.0.0.1:7373/v1/live?token=first"
	if err := e.Copy(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // pasted a moment later
	if got := paste(); got != first {
		t.Fatalf("pasted %q, want %q", got, first)
	}
	const second = "ws://127.0.0.1:7373/v1/live?token=second"
	if err := e.Copy(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if got := paste(); got != second {
		t.Fatalf("pasted %q after the second copy, want %q", got, second)
	}
	holders := func() int {
		out, _ := exec.Command("pgrep", "-f", "xclip -selection clipboard -in").Output()
		n := 0
		for _, pid := range strings.Fields(string(out)) {
			env, _ := os.ReadFile("/proc/" + pid + "/environ")
			if strings.Contains(string(env), "DISPLAY="+display+"\x00") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); holders() > 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d programs hold this display's clipboard after two copies, want one", holders())
		}
	}
}
