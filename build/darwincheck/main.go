// Command darwincheck reads the macOS binaries of a release and fails when
// one would not start on a Mac or is not the release it claims to be: an
// Apple silicon binary without a code signature (macOS kills it at
// launch), a library outside the system's (a Mac has no other), or no
// minimum macOS version. It owns only those checks; Go's own linker does
// the signing (ad hoc, for darwin/arm64). The version is not read back:
// -trimpath keeps -ldflags out of the build information, and the binaries
// are stripped.
//
//	go run ./build/darwincheck earshot-darwin-amd64 earshot-darwin-arm64
package main

import (
	"debug/macho"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "darwincheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: darwincheck binary…")
	}
	for _, path := range args {
		b, err := Read(path)
		if err != nil {
			return err
		}
		if err := b.Check(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		signed := "unsigned (Intel Macs run it)"
		if b.Signed {
			signed = "ad-hoc signed"
		}
		fmt.Fprintf(stdout, "%s: %s, macOS %s or later, %s, links %s\n",
			path, b.Arch, b.MinOS, signed, strings.Join(b.Libraries, " "))
	}
	return nil
}

// Binary is what the checks read of one Mach-O program.
type Binary struct {
	Arch      string // "arm64", "amd64"
	MinOS     string // LC_BUILD_VERSION's minimum macOS
	Signed    bool   // has LC_CODE_SIGNATURE
	Libraries []string
}

const (
	lcCodeSignature = 0x1d
	lcBuildVersion  = 0x32
)

// Read reads the macOS program at path.
func Read(path string) (*Binary, error) {
	f, err := macho.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not a macOS program: %w", path, err)
	}
	defer f.Close()
	b := &Binary{}
	switch f.Cpu {
	case macho.CpuArm64:
		b.Arch = "arm64"
	case macho.CpuAmd64:
		b.Arch = "amd64"
	default:
		return nil, fmt.Errorf("%s is for %v, neither Apple silicon nor Intel", path, f.Cpu)
	}
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 8 {
			continue
		}
		switch f.ByteOrder.Uint32(raw) {
		case lcCodeSignature:
			b.Signed = true
		case lcBuildVersion:
			// build_version_command: cmd, cmdsize, platform, minos
			// (xxxx.yy.zz nibbles), sdk, ntools.
			if len(raw) >= 16 {
				v := f.ByteOrder.Uint32(raw[12:])
				b.MinOS = fmt.Sprintf("%d.%d", v>>16, v>>8&0xff)
			}
		}
	}
	if b.Libraries, err = f.ImportedLibraries(); err != nil {
		return nil, fmt.Errorf("%s: its libraries: %w", path, err)
	}
	return b, nil
}

// Check says what would keep b from starting on a Mac.
func (b *Binary) Check() error {
	var errs []error
	if b.Arch == "arm64" && !b.Signed {
		errs = append(errs, errors.New("an Apple silicon binary without a code signature: macOS kills it at launch"))
	}
	if b.MinOS == "" {
		errs = append(errs, errors.New("no minimum macOS version (LC_BUILD_VERSION)"))
	}
	for _, lib := range b.Libraries {
		if !strings.HasPrefix(lib, "/usr/lib/") && !strings.HasPrefix(lib, "/System/Library/") {
			errs = append(errs, fmt.Errorf("links %s, which a Mac does not have", lib))
		}
	}
	return errors.Join(errs...)
}
