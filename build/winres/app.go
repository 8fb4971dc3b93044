package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"
)

// App is what FyneApp.toml says about Earshot, as Windows shows it.
type App struct {
	Name    string
	ID      string
	Version string // major.minor.patch
	Build   int
	Website string
	Icon    string // path of the PNG icon, resolved beside FyneApp.toml
}

// fyneApp is the part of FyneApp.toml that is read.
type fyneApp struct {
	Website string
	Details struct {
		Icon, Name, ID, Version string
		Build                   int
	}
}

var (
	versionPattern = regexp.MustCompile(`^[0-9]{1,5}\.[0-9]{1,5}\.[0-9]{1,5}$`)
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$`)
)

// maxAppFile bounds FyneApp.toml (a few hundred bytes in practice).
const maxAppFile = 64 << 10

// LoadApp reads and checks FyneApp.toml at path.
func LoadApp(path string) (App, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return App{}, err
	}
	if len(data) > maxAppFile {
		return App{}, fmt.Errorf("%s is %d bytes, more than an app description can be (%d)", path, len(data), maxAppFile)
	}
	var f fyneApp
	if _, err := toml.Decode(string(data), &f); err != nil {
		return App{}, fmt.Errorf("reading %s: %w", path, err)
	}
	d := f.Details
	app := App{Name: d.Name, ID: d.ID, Version: d.Version, Build: d.Build, Website: f.Website}
	if d.Icon != "" {
		app.Icon = filepath.Join(filepath.Dir(path), d.Icon)
	}
	if err := app.validate(); err != nil {
		return App{}, fmt.Errorf("%s: %w", path, err)
	}
	return app, nil
}

func (a App) validate() error {
	if !printable(a.Name, 64) {
		return fmt.Errorf("the name %q is empty, too long or has control characters", a.Name)
	}
	if !idPattern.MatchString(a.ID) {
		return fmt.Errorf("the id %q is not a reverse-DNS name (letters, digits, dots, dashes)", a.ID)
	}
	if !versionPattern.MatchString(a.Version) {
		return fmt.Errorf("the version %q is not major.minor.patch", a.Version)
	}
	for _, p := range strings.Split(a.Version, ".") {
		if n, _ := strconv.Atoi(p); n > 0xffff {
			return fmt.Errorf("the version %q has a part above 65535, which Windows cannot show", a.Version)
		}
	}
	if a.Build < 0 || a.Build > 0xffff {
		return fmt.Errorf("the build number %d is outside 0–65535", a.Build)
	}
	if a.Website != "" && !printable(a.Website, 256) {
		return fmt.Errorf("the website %q is too long or has control characters", a.Website)
	}
	if a.Icon == "" {
		return fmt.Errorf("no Icon: a Windows program needs one")
	}
	return nil
}

// FileVersion is the four-part version Windows keeps in numbers:
// major.minor.patch.build.
func (a App) FileVersion() [4]uint16 {
	var v [4]uint16
	for i, p := range strings.Split(a.Version, ".") {
		n, _ := strconv.Atoi(p)
		v[i] = uint16(n)
	}
	v[3] = uint16(a.Build)
	return v
}

// FileVersionText is FileVersion as text ("0.1.0.3").
func (a App) FileVersionText() string {
	v := a.FileVersion()
	return fmt.Sprintf("%d.%d.%d.%d", v[0], v[1], v[2], v[3])
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
