package media

import (
	"strings"
	"testing"
	"time"

	"earshot/relay/event"
)

func TestFileNameNamesTimeSystemAndTalkgroup(t *testing.T) {
	at := time.Date(2026, 12, 1, 18, 3, 7, 0, time.UTC)
	c := event.Call{ID: 42, DateTime: at.Unix(), SystemID: 1, SystemLabel: "Harness County", TalkgroupID: 101, TalkgroupLabel: "Fire Dispatch"}
	if got, want := FileName(c, MP3, time.UTC), "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3"; got != want {
		t.Fatalf("FileName = %q, want %q", got, want)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	if got := FileName(c, M4A, ny); got != "2026-12-01_13-03-07_Harness-County_Fire-Dispatch.m4a" {
		t.Fatalf("in New York: %q", got)
	}
}

func TestFileNameIsSafeOnEveryOS(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix()
	tests := []struct {
		c    event.Call
		f    Format
		want string
	}{
		{event.Call{ID: 1, DateTime: at, SystemLabel: `../..\etc/passwd`, TalkgroupLabel: `CON: "A*B?" <x>|y`}, WAV,
			"2026-01-02_03-04-05_etc-passwd_CON-A-B-x-y.wav"},
		{event.Call{ID: 2, DateTime: at, SystemLabel: "  .hidden. ", TalkgroupLabel: "\x00\n\t"}, Ogg,
			"2026-01-02_03-04-05_hidden.ogg"},
		{event.Call{ID: 3, DateTime: at, SystemLabel: "Comté de Montréal", TalkgroupName: "Pompiers – répartition"}, MP3,
			"2026-01-02_03-04-05_Comté-de-Montréal_Pompiers-répartition.mp3"},
		{event.Call{ID: 4, DateTime: at, SystemID: 7, TalkgroupID: 205}, Unknown, "2026-01-02_03-04-05_System-7_TG-205.bin"},
		{event.Call{ID: 5}, AAC, "call-5.aac"},
	}
	for _, tt := range tests {
		got := FileName(tt.c, tt.f, time.UTC)
		if got != tt.want {
			t.Errorf("FileName(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
	long := event.Call{ID: 6, DateTime: at, SystemLabel: strings.Repeat("é", 200), TalkgroupLabel: strings.Repeat("x", 500)}
	if got := FileName(long, MP3, time.UTC); len(got) > 160 || !strings.HasSuffix(got, ".mp3") {
		t.Errorf("a long name is %d bytes: %q", len(got), got)
	}
}

func TestASCIIFileNameReplacesWhatAHeaderCannotHold(t *testing.T) {
	if got := ASCIIFileName(`Comté "x"\y.mp3`); got != "Comt_ _x__y.mp3" {
		t.Fatalf("ASCIIFileName = %q", got)
	}
}

func FuzzFileName(f *testing.F) {
	f.Add("Harness County", "Fire Dispatch", int64(1795356795))
	f.Add("../\x00", "CON", int64(0))
	f.Fuzz(func(t *testing.T, system, talkgroup string, dt int64) {
		if dt < 0 || dt > 1<<40 {
			return
		}
		name := FileName(event.Call{ID: 1, DateTime: dt, SystemLabel: system, TalkgroupLabel: talkgroup}, MP3, time.UTC)
		if strings.ContainsAny(name, `/\:*?"<>|`) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") || len(name) > 200 || !strings.HasSuffix(name, ".mp3") {
			t.Fatalf("unsafe file name %q", name)
		}
	})
}
