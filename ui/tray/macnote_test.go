package tray

import (
	"strings"
	"testing"
	"unicode/utf16"
)

// The notification's texts reach osascript as arguments only: a server's
// talkgroup name or transcript is never part of the script, never taken
// for an option, and an empty one is still an argument the script can cut.
func TestOsascriptArgsKeepTextsOutOfTheScript(t *testing.T) {
	hostile := `-e" & do shell script "rm -rf ~" & "` + "\x00\n"
	args := osascriptArgs(hostile, "", true)
	if len(args) != 5 || args[0] != "-e" || args[1] != macNoticeScript {
		t.Fatalf("args %q", args)
	}
	for _, a := range args[2:] {
		if !strings.HasPrefix(a, "x") || len(a) < 2 {
			t.Errorf("argument %q: want a leading x and some text after it", a)
		}
		if strings.ContainsRune(a, 0) {
			t.Errorf("argument %q holds a NUL", a)
		}
	}
	if got, want := args[2], "x"+strings.ReplaceAll(hostile, "\x00", ""); got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if args[3] != "x " {
		t.Errorf("an empty body is %q, want a space the script can cut", args[3])
	}
	if args[4] != "xurgent" {
		t.Errorf("urgent is %q", args[4])
	}
	if got := osascriptArgs("t", "b", false)[4]; got != "xnormal" {
		t.Errorf("not urgent is %q", got)
	}
	long := osascriptArgs("t", strings.Repeat("é", 5000), false)[3]
	if n := len(utf16.Encode([]rune(long))); n > macNoticeText+1 || !strings.HasSuffix(long, "…") {
		t.Errorf("a long body is %d units, ending %q", n, long[len(long)-8:])
	}
}
