// Package tinyprog builds a do-nothing Go program for another platform, in
// a module of its own, for the tests of the release tools (build/winres,
// build/darwincheck) to read what the toolchain and they put into it.
package tinyprog

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds the program for goos/goarch with CGO_ENABLED=0, the files
// given (name → content, e.g. a .syso) beside its main.go, and the extra
// go build arguments; it returns the binary's path.
func Build(t testing.TB, goos, goarch string, files map[string][]byte, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string][]byte{"go.mod": []byte("module x\n\ngo 1.26\n"), "main.go": []byte("package main\n\nfunc main() {}\n")}
	for name, data := range files {
		all[name] = data
	}
	for name, data := range all {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "x")
	if goos == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", append(append([]string{"build"}, args...), "-o", bin, ".")...)
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s/%s: %v\n%s", goos, goarch, err, out)
	}
	return bin
}
