// Command winres gives Earshot's Windows programs their icon, version
// information and manifest without linking Fyne: `fyne package` would add
// them only by building the program itself, and its build links Fyne into
// the resident Earshot.exe. It owns the resources only: reading
// FyneApp.toml, drawing the .ico from its icon, writing a .rc, compiling it
// with MinGW-w64's windres into a .syso that `go build` links, and reading
// the resources back out of a built .exe to prove they are there.
//
//	go run ./build/winres syso -exe Earshot.exe -desc "Earshot" -o earshot_windows_amd64.syso
//	go run ./build/winres check Earshot.exe
//
// build/package.sh runs both: the .syso goes into a temporary copy of the
// tree (never into the repository), and check fails the release when an
// .exe lacks its icon, version or manifest, or names another version than
// FyneApp.toml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "winres:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: winres syso|check …")
	}
	fs := flag.NewFlagSet("winres "+args[0], flag.ContinueOnError)
	appFile := fs.String("app", "FyneApp.toml", "the app's `FyneApp.toml`: name, id, version, build, icon")
	switch args[0] {
	case "syso":
		exe := fs.String("exe", "", "the program's file `name` (OriginalFilename), e.g. Earshot.exe")
		desc := fs.String("desc", "", "what the program is (FileDescription, shown by Task Manager)")
		out := fs.String("o", "", "the .syso to write (named *_windows_amd64.syso so go build links it)")
		windres := fs.String("windres", "x86_64-w64-mingw32-windres", "MinGW-w64's resource compiler")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *exe == "" || *desc == "" || *out == "" {
			return errors.New("syso needs -exe, -desc and -o")
		}
		app, err := LoadApp(*appFile)
		if err != nil {
			return err
		}
		return WriteSyso(ctx, *windres, Program{App: app, Exe: *exe, Description: *desc}, *out)
	case "check":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return errors.New("check needs the .exe files to read")
		}
		app, err := LoadApp(*appFile)
		if err != nil {
			return err
		}
		for _, exe := range fs.Args() {
			res, err := ReadExe(exe)
			if err != nil {
				return err
			}
			if err := res.Check(app); err != nil {
				return fmt.Errorf("%s: %w", exe, err)
			}
			fmt.Fprintf(stdout, "%s: %d icons (%v px), version %s (%s), manifest %d bytes\n", exe,
				len(res.IconSizes), res.IconSizes, res.Strings["ProductVersion"], res.Strings["FileVersion"], len(res.Manifest))
		}
		return nil
	}
	return fmt.Errorf("unknown command %q (syso or check)", args[0])
}
