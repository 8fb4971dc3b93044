package autostart

import (
	"slices"
	"strings"
	"testing"
)

// FuzzCommandLines: any command reads back from its desktop-entry Exec
// line and its Windows command line exactly as written.
func FuzzCommandLines(f *testing.F) {
	f.Add("/usr/bin/earshot", "--x")
	f.Add(`C:\a b\e.exe`, `trailing\`)
	f.Add(`we"ird$`+"`", "100%")
	f.Fuzz(func(t *testing.T, exe, arg string) {
		if strings.ContainsAny(exe+arg, "\x00\n\r") {
			return // neither format can hold these; paths and our arguments never do
		}
		cmd := []string{exe, arg}
		if got := splitExec(unescapeString(desktopExec(cmd))); !slices.Equal(got, cmd) {
			t.Fatalf("Exec: %q reads back as %q", cmd, got)
		}
		if strings.ContainsRune(exe+arg, '\t') {
			return
		}
		if got := splitWindowsCommandLine(windowsCommandLine(cmd)); !slices.Equal(got, cmd) {
			t.Fatalf("Windows: %q reads back as %q", cmd, got)
		}
	})
}
