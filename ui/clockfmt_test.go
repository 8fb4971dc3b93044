package ui

import (
	"testing"
	"time"
)

func TestTimesFollowTheLocalesClock(t *testing.T) {
	for locale, want := range map[string]bool{
		"en_US.UTF-8": true, "en_AU.utf8": true, "ko_KR": true, "en_IN@euro": true,
		"en_GB.UTF-8": false, "de_DE.UTF-8": false, "fr_CA.UTF-8": false, "en_CA.UTF-8": true, "C": false, "": false, "C.UTF-8": false,
	} {
		if got := Hour12(locale); got != want {
			t.Errorf("Hour12(%q) = %v, want %v", locale, got, want)
		}
	}
	env := map[string]string{"LANG": "en_US.UTF-8", "LC_TIME": "en_GB.UTF-8"}
	if got := LocaleFromEnv(func(k string) string { return env[k] }); got != "en_GB.UTF-8" {
		t.Errorf("LC_TIME should win over LANG: got %q", got)
	}
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	if got := (timeFormats{hour12: true}).When(at, at); got != "3:09:26 PM" {
		t.Errorf("12-hour today: %q", got)
	}
	if got := (timeFormats{}).When(at, at.Add(24*time.Hour)); got != "Sat 14 Mar 15:09:26" {
		t.Errorf("24-hour yesterday: %q", got)
	}
	if got := (timeFormats{hour12: true}).When(at, at.AddDate(1, 0, 0)); got != "Sat Mar 14 2026 3:09:26 PM" {
		t.Errorf("12-hour last year: %q", got)
	}
}
