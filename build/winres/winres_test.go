package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"earshot/build/internal/tinyprog"
)

// buildWindows builds a do-nothing Windows program, linking syso when it
// is not "", and returns the .exe's path.
func buildWindows(t *testing.T, syso string) string {
	t.Helper()
	files := map[string][]byte{}
	if syso != "" {
		data, err := os.ReadFile(syso)
		if err != nil {
			t.Fatal(err)
		}
		files["rsrc_windows_amd64.syso"] = data
	}
	return tinyprog.Build(t, "windows", "amd64", files)
}

func needWindres(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("x86_64-w64-mingw32-windres"); err != nil {
		t.Fatal("x86_64-w64-mingw32-windres is missing: run build/deps.sh (binutils-mingw-w64-x86-64)")
	}
}

// The fault: Earshot.exe, built by `go build` rather than `fyne package`
// (which links Fyne into it), had no icon, version or manifest. A program
// built with the .syso has all three, as FyneApp.toml describes them.
func TestSysoGivesAWindowsProgramItsIconVersionAndManifest(t *testing.T) {
	needWindres(t)
	app, err := LoadApp("../../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	bare, err := ReadExe(buildWindows(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	err = bare.Check(app)
	for _, missing := range []string{"no icon", "no version", "no manifest"} {
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("a program built without resources passes the check: %v (want %q)", err, missing)
		}
	}

	syso := filepath.Join(t.TempDir(), "app_windows_amd64.syso")
	p := Program{App: app, Exe: "Earshot.exe", Description: "Earshot tray and relay"}
	if err := WriteSyso(context.Background(), "x86_64-w64-mingw32-windres", p, syso); err != nil {
		t.Fatal(err)
	}
	res, err := ReadExe(buildWindows(t, syso))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(app); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.IconSizes, iconSizes) || res.Types[rtGroupIcon] != 1 {
		t.Errorf("icons %v in %d groups, want %v in one", res.IconSizes, res.Types[rtGroupIcon], iconSizes)
	}
	want := map[string]string{"OriginalFilename": "Earshot.exe", "FileDescription": "Earshot tray and relay",
		"ProductName": "Earshot", "InternalName": "app.earshot.earshot", "Comments": app.Website}
	for k, v := range want {
		if res.Strings[k] != v {
			t.Errorf("%s = %q, want %q", k, res.Strings[k], v)
		}
	}
	var m struct {
		Identity struct {
			Name    string `xml:"name,attr"`
			Version string `xml:"version,attr"`
		} `xml:"assemblyIdentity"`
	}
	if err := xml.Unmarshal(res.Manifest, &m); err != nil {
		t.Fatalf("the linked manifest does not parse: %v\n%s", err, res.Manifest)
	}
	if m.Identity.Name != "app.earshot.earshot.earshot" || m.Identity.Version != app.FileVersionText() {
		t.Errorf("manifest identity %+v", m.Identity)
	}
}

// Names with quotes, backslashes and non-ASCII letters reach Windows as
// written, never as .rc syntax.
func TestVersionStringsSurviveQuotingAndUTF8(t *testing.T) {
	needWindres(t)
	app, err := LoadApp("../../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	app.Name = `Earshot "Scanner" C:\Radio — Émetteur`
	syso := filepath.Join(t.TempDir(), "app_windows_amd64.syso")
	p := Program{App: app, Exe: "Earshot.exe", Description: `say "hi" \n`}
	if err := WriteSyso(context.Background(), "x86_64-w64-mingw32-windres", p, syso); err != nil {
		t.Fatal(err)
	}
	res, err := ReadExe(buildWindows(t, syso))
	if err != nil {
		t.Fatal(err)
	}
	if res.Strings["ProductName"] != app.Name || res.Strings["FileDescription"] != p.Description {
		t.Errorf("ProductName %q, FileDescription %q", res.Strings["ProductName"], res.Strings["FileDescription"])
	}
	if err := res.Check(app); err != nil {
		t.Error(err)
	}
}

func TestLoadAppRefusesWhatWindowsCannotHold(t *testing.T) {
	good := "[Details]\nIcon = \"icon.png\"\nName = \"Earshot\"\nID = \"app.earshot.earshot\"\nVersion = \"0.1.0\"\nBuild = 3\n"
	cases := map[string]string{
		"version":     strings.Replace(good, `"0.1.0"`, `"0.1"`, 1),
		"65535":       strings.Replace(good, `"0.1.0"`, `"0.70000.0"`, 1),
		"build":       strings.Replace(good, "Build = 3", "Build = 70000", 1),
		"reverse-DNS": strings.Replace(good, "app.earshot.earshot", "app/x y", 1),
		"name":        strings.Replace(good, `"Earshot"`, `"Ear\u0007shot"`, 1),
		"Icon":        strings.Replace(good, `Icon = "icon.png"`, "", 1),
		"reading":     good + "[[[",
	}
	for want, text := range cases {
		path := filepath.Join(t.TempDir(), "FyneApp.toml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadApp(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want one mentioning %q", want, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "FyneApp.toml")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	app, err := LoadApp(path)
	if err != nil {
		t.Fatal(err)
	}
	if app.FileVersionText() != "0.1.0.3" || app.Icon != filepath.Join(filepath.Dir(path), "icon.png") {
		t.Errorf("%+v", app)
	}
}

func TestCheckNamesAVersionThatDiffersFromFyneAppToml(t *testing.T) {
	app := App{Name: "Earshot", ID: "app.earshot.earshot", Version: "0.2.0", Build: 1}
	res := &Resources{Types: map[uint32]int{rtGroupIcon: 1, rtIcon: 2, rtVersion: 1}, IconSizes: []int{16, 256},
		FixedVersion: [4]uint16{0, 1, 0, 3}, Manifest: []byte("<assembly/>"),
		Strings: map[string]string{"ProductName": "Earshot", "ProductVersion": "0.1.0", "FileVersion": "0.1.0.3",
			"InternalName": "app.earshot.earshot"}}
	err := res.Check(app)
	if err == nil || !strings.Contains(err.Error(), "ProductVersion") || !strings.Contains(err.Error(), "file version") {
		t.Fatalf("a stale version passes: %v", err)
	}
}

// FuzzParseRsrc: a resource section of any shape is read or refused, never
// a panic or a read out of bounds.
func FuzzParseRsrc(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	dir := make([]byte, 64)
	dir[14] = 1                                        // one id entry
	copy(dir[16:], []byte{3, 0, 0, 0, 32, 0, 0, 0x80}) // RT_ICON → subdirectory at 32
	f.Add(dir, uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, rva uint32) {
		_, _ = ParseRsrc(data, rva)
	})
}

// FuzzParseVersionBlock: the same for a VS_VERSIONINFO.
func FuzzParseVersionBlock(f *testing.F) {
	f.Add([]byte{6, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Resources{Strings: map[string]string{}}
		_ = r.readVersion(data)
	})
}
