package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"earshot/ui/ico"
)

// Program is one .exe of the release: the app it belongs to, its file
// name and what it is.
type Program struct {
	App         App
	Exe         string // "Earshot.exe"
	Description string // "Earshot" (Task Manager shows it)
}

// Resource types and ids (winuser.h).
const (
	rtIcon      = 3
	rtGroupIcon = 14
	rtVersion   = 16
	rtManifest  = 24
	// manifestID is CREATEPROCESS_MANIFEST_RESOURCE_ID: the manifest
	// Windows reads when it starts the program.
	manifestID = 1
)

// rcString quotes s for a .rc file: quotes doubled, backslashes escaped
// (windres reads C escapes), UTF-8 kept (the file says code page 65001).
func rcString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// RC is the resource script: icon 1 (Explorer shows the lowest id), the
// manifest, and VERSIONINFO in US English, Unicode.
func (p Program) RC(icoPath, manifestPath string) string {
	a := p.App
	v := a.FileVersion()
	nums := fmt.Sprintf("%d,%d,%d,%d", v[0], v[1], v[2], v[3])
	var b strings.Builder
	fmt.Fprintf(&b, "#pragma code_page(65001)\n")
	fmt.Fprintf(&b, "1 ICON %s\n", rcString(filepath.ToSlash(icoPath)))
	fmt.Fprintf(&b, "%d %d %s\n", manifestID, rtManifest, rcString(filepath.ToSlash(manifestPath)))
	fmt.Fprintf(&b, "1 VERSIONINFO\nFILEVERSION %s\nPRODUCTVERSION %s\n", nums, nums)
	// FILEOS VOS_NT_WINDOWS32, FILETYPE VFT_APP.
	b.WriteString("FILEFLAGSMASK 0x3f\nFILEFLAGS 0x0\nFILEOS 0x40004\nFILETYPE 0x1\nFILESUBTYPE 0x0\n")
	b.WriteString("BEGIN\n  BLOCK \"StringFileInfo\"\n  BEGIN\n    BLOCK \"040904b0\"\n    BEGIN\n")
	for _, kv := range p.versionStrings() {
		fmt.Fprintf(&b, "      VALUE %s, %s\n", rcString(kv[0]), rcString(kv[1]))
	}
	b.WriteString("    END\n  END\n  BLOCK \"VarFileInfo\"\n  BEGIN\n    VALUE \"Translation\", 0x409, 1200\n  END\nEND\n")
	return b.String()
}

// versionStrings are the StringFileInfo values, in the order written.
func (p Program) versionStrings() [][2]string {
	a := p.App
	s := [][2]string{
		{"CompanyName", a.Name},
		{"FileDescription", p.Description},
		{"FileVersion", a.FileVersionText()},
		{"InternalName", a.ID},
		{"OriginalFilename", p.Exe},
		{"ProductName", a.Name},
		{"ProductVersion", a.Version},
	}
	if a.Website != "" {
		s = append(s, [2]string{"Comments", a.Website})
	}
	return s
}

// Manifest is the program's application manifest: its identity, asInvoker
// (never a UAC prompt), Windows 10/11, per-monitor DPI awareness (a sharp
// tray icon and window on scaled displays) and the version 6 common
// controls (the tray menu's modern look).
func (p Program) Manifest() ([]byte, error) {
	name := p.App.ID + "." + strings.TrimSuffix(strings.ToLower(p.Exe), ".exe")
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">` + "\n")
	fmt.Fprintf(&b, `  <assemblyIdentity type="win32" name="%s" version="%s" processorArchitecture="*"/>`+"\n",
		xmlEscape(name), p.App.FileVersionText())
	fmt.Fprintf(&b, "  <description>%s</description>\n", xmlEscape(p.Description))
	b.WriteString(`  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security><requestedPrivileges><requestedExecutionLevel level="asInvoker" uiAccess="false"/></requestedPrivileges></security>
  </trustInfo>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application><supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/></application>
  </compatibility>
  <application xmlns="urn:schemas-microsoft-com:asm.v3">
    <windowsSettings>
      <dpiAware xmlns="http://schemas.microsoft.com/SMI/2005/WindowsSettings">true/pm</dpiAware>
      <dpiAwareness xmlns="http://schemas.microsoft.com/SMI/2016/WindowsSettings">PerMonitorV2, PerMonitor</dpiAwareness>
    </windowsSettings>
  </application>
  <dependency>
    <dependentAssembly>
      <assemblyIdentity type="win32" name="Microsoft.Windows.Common-Controls" version="6.0.0.0" processorArchitecture="*" publicKeyToken="6595b64144ccf1df" language="*"/>
    </dependentAssembly>
  </dependency>
</assembly>
`)
	// A manifest Windows cannot parse stops the program from starting at
	// all ("side-by-side configuration is incorrect"): never write one.
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		return nil, fmt.Errorf("the manifest is not well-formed XML: %w", err)
	}
	return b.Bytes(), nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteSyso compiles p's resources into out (a COFF object go build
// links when it sits in the main package's directory, named
// *_windows_amd64.syso), through a scratch directory it removes.
func WriteSyso(ctx context.Context, windres string, p Program, out string) error {
	if !printable(p.Exe, 64) || !strings.HasSuffix(strings.ToLower(p.Exe), ".exe") || !printable(p.Description, 128) {
		return fmt.Errorf("the program's name %q (an .exe) or description %q is unusable", p.Exe, p.Description)
	}
	icon, err := loadIcon(p.App.Icon)
	if err != nil {
		return err
	}
	// Bitmaps below 256 px, PNG at 256 (ui/ico).
	icoFile, err := ico.FromPNG(icon, iconSizes...)
	if err != nil {
		return err
	}
	manifest, err := p.Manifest()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "winres-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{"app.ico": icoFile, "app.manifest": manifest,
		"app.rc": []byte(p.RC("app.ico", "app.manifest"))}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, windres, "-c", "65001", "-F", "pe-x86-64", "-O", "coff", "-i", "app.rc", "-o", abs)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath(windres); lerr != nil {
			return fmt.Errorf("%s is not installed (Debian: binutils-mingw-w64-x86-64, which build/deps.sh installs): %w", windres, lerr)
		}
		return fmt.Errorf("%s could not compile the resources: %w\n%s", windres, err, msg)
	}
	return nil
}
