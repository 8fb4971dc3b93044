package tray

import "strings"

// macNoticeScript shows a notification in the macOS notification centre
// through AppleScript's display notification, which every Mac has and
// which needs neither Apple's SDK nor cgo. The texts come in as the run
// handler's arguments, never inside the script, so a talkgroup name or a
// transcript cannot change what runs. Each argument carries a leading "x"
// that the script drops, so that none starts with "-" (osascript would
// take it for an option) or is empty.
const macNoticeScript = `on run argv
set t to text 2 thru -1 of item 1 of argv
set b to text 2 thru -1 of item 2 of argv
if item 3 of argv is "xurgent" then
display notification b with title t sound name "Sosumi"
else
display notification b with title t
end if
end run`

// macNoticeText caps what a notification holds (the centre shows a few
// lines) and drops NULs, which cannot pass as an argument.
const macNoticeText = 1024

// osascriptArgs is osascript's command line for a notification.
func osascriptArgs(title, body string, urgent bool) []string {
	arg := func(s string) string {
		s = strings.ReplaceAll(s, "\x00", "")
		if s == "" {
			s = " " // text 2 thru -1 of "x" is no text
		}
		return "x" + clipUTF16(s, macNoticeText)
	}
	level := "xnormal"
	if urgent {
		level = "xurgent"
	}
	return []string{"-e", macNoticeScript, arg(title), arg(body), level}
}
