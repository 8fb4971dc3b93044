package export

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"earshot/relay/event"
	"earshot/relay/media"
)

// maxNamePart cuts each part of a file name (at a character boundary), so
// the whole stays well under every file system's 255 bytes.
const maxNamePart = 60

// fileName is the readable name a call's audio is exported under:
//
//	2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3
//
// its date and time in loc, its system and talkgroup (labels, else ids)
// and its format's extension (.bin when unknown). Anything but letters and
// digits becomes one hyphen, so the name is safe on Windows, macOS and
// Linux alike.
func fileName(c event.Call, f media.Format, loc *time.Location) string {
	ext := f.Ext()
	if ext == "" {
		ext = ".bin"
	}
	parts := []string{time.Unix(c.DateTime, 0).In(loc).Format("2006-01-02_15-04-05")}
	system := namePart(c.SystemLabel)
	if system == "" {
		system = "System-" + strconv.FormatInt(c.SystemID, 10)
	}
	tg := namePart(c.TalkgroupLabel)
	if tg == "" {
		tg = namePart(c.TalkgroupName)
	}
	if tg == "" {
		tg = "TG-" + strconv.FormatInt(c.TalkgroupID, 10)
	}
	return strings.Join(append(parts, system, tg), "_") + ext
}

// namePart keeps the letters and digits of s, every other run of
// characters becoming one hyphen, with none at either end.
func namePart(s string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
			continue
		}
		hyphen = true
	}
	out := b.String()
	if len(out) > maxNamePart {
		out = out[:maxNamePart]
		for !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
		out = strings.TrimRight(out, "-")
	}
	return out
}
