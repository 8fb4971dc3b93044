package media

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"earshot/relay/event"
)

// Name parts are cut to these many bytes (at a character boundary), so the
// whole name stays well under every file system's 255.
const (
	maxNamePart = 60
)

// FileName is the name a call's audio is saved under, the same from the
// relay's download, the window's Save and `earshot export`:
//
//	2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3
//
// the call's date and time in loc (nil: the local zone), its system and its
// talkgroup (labels, else ids), and the extension of the audio's format
// (".bin" when unknown). Anything but letters and digits becomes a single
// hyphen, so the name is safe on Windows, macOS and Linux alike (no path
// separators, reserved characters, control characters, or leading or
// trailing dots and spaces).
func FileName(c event.Call, f Format, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	ext := f.Ext()
	if ext == "" {
		ext = ".bin"
	}
	var parts []string
	if c.DateTime > 0 {
		parts = append(parts, time.Unix(c.DateTime, 0).In(loc).Format("2006-01-02_15-04-05"))
	} else {
		parts = append(parts, "call-"+strconv.FormatInt(c.ID, 10))
	}
	system := namePart(c.SystemLabel)
	if system == "" && c.SystemID != 0 {
		system = "System-" + strconv.FormatInt(c.SystemID, 10)
	}
	talkgroup := namePart(firstNonEmpty(c.TalkgroupLabel, c.TalkgroupName))
	if talkgroup == "" && c.TalkgroupID != 0 {
		talkgroup = "TG-" + strconv.FormatInt(c.TalkgroupID, 10)
	}
	for _, p := range []string{system, talkgroup} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "_") + ext
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// namePart keeps the letters and digits of s, every other run of
// characters becoming one hyphen, without hyphens at either end.
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

// ASCIIFileName is name with every character outside printable ASCII (and
// the quote and backslash) replaced by an underscore: the fallback
// filename= of a Content-Disposition header, beside the exact UTF-8 one.
func ASCIIFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ForContentType is the format a MIME type this package gives
// (Format.ContentType) stands for; Unknown for any other.
func ForContentType(ct string) Format {
	for _, f := range []Format{MP3, M4A, WAV, Ogg, AAC} {
		if f.ContentType() == ct {
			return f
		}
	}
	return Unknown
}
