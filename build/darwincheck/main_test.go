package main

import (
	"strings"
	"testing"

	"earshot/build/internal/tinyprog"
)

// buildDarwin builds a do-nothing macOS program for arch, stripped as the
// release's are.
func buildDarwin(t *testing.T, arch string) string {
	return tinyprog.Build(t, "darwin", arch, nil, "-trimpath", "-ldflags", "-s -w")
}

// Go's linker signs Apple silicon binaries ad hoc, stripped or not; the
// check reads that, the minimum macOS and the libraries, and passes both
// architectures as the release builds them.
func TestReleaseBuildsStartOnAMac(t *testing.T) {
	for _, arch := range []string{"arm64", "amd64"} {
		b, err := Read(buildDarwin(t, arch))
		if err != nil {
			t.Fatal(err)
		}
		if b.Arch != arch || b.Signed != (arch == "arm64") || b.MinOS == "" || len(b.Libraries) == 0 {
			t.Errorf("darwin/%s read as %+v", arch, b)
		}
		if err := b.Check(); err != nil {
			t.Errorf("darwin/%s: %v", arch, err)
		}
	}
}

func TestCheckRefusesWhatAMacWouldNotStart(t *testing.T) {
	b := &Binary{Arch: "arm64", MinOS: "12.0", Libraries: []string{"/usr/lib/libSystem.B.dylib", "/opt/homebrew/lib/libfoo.dylib"}}
	err := b.Check()
	if err == nil || !strings.Contains(err.Error(), "code signature") || !strings.Contains(err.Error(), "homebrew") {
		t.Fatalf("an unsigned arm64 binary linking Homebrew passes: %v", err)
	}
	if err := (&Binary{Arch: "amd64"}).Check(); err == nil || !strings.Contains(err.Error(), "minimum macOS") {
		t.Fatalf("no LC_BUILD_VERSION passes: %v", err)
	}
	if _, err := Read("main.go"); err == nil {
		t.Fatal("a Go source file read as a macOS program")
	}
}
