package ui

import (
	"strings"
	"time"
)

// Times are shown as the listener's locale writes them: a 12-hour clock
// where that is the custom (en_US, en_AU, en_IN, ko_KR…), 24-hour
// elsewhere, as the web player does with the browser's locale. Go has no
// locale data, so the custom is read from the locale's territory.

// hour12Territories are the territories (or, where the language decides,
// language_territory) whose locales write a 12-hour clock (CLDR's "h" time
// formats, the common ones).
var hour12Territories = map[string]bool{
	"US": true, "en_CA": true, "AU": true, "NZ": true, "PH": true, "IN": true, "PK": true, "BD": true,
	"EG": true, "SA": true, "JO": true, "KW": true, "QA": true, "AE": true, "OM": true, "BH": true,
	"KR": true, "TW": true, "MY": true, "CO": true, "SV": true, "HN": true, "NI": true, "PR": true,
}

// Hour12 tells whether locale (a POSIX locale name such as "en_US.UTF-8";
// the first set of LC_ALL, LC_TIME and LANG) writes a 12-hour clock.
func Hour12(locale string) bool {
	locale, _, _ = strings.Cut(locale, ".")
	locale, _, _ = strings.Cut(locale, "@")
	lang, territory, ok := strings.Cut(locale, "_")
	territory = strings.ToUpper(territory)
	return ok && (hour12Territories[territory] || hour12Territories[strings.ToLower(lang)+"_"+territory])
}

// LocaleFromEnv is the locale that decides time formats, from the
// environment (getenv is os.Getenv).
func LocaleFromEnv(getenv func(string) string) string {
	for _, k := range []string{"LC_ALL", "LC_TIME", "LANG"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// timeFormats are the layouts one clock style uses.
type timeFormats struct {
	hour12 bool
}

// Clock is a time of day with seconds: "15:04:05" or "3:04:05 PM".
func (f timeFormats) Clock(t time.Time) string {
	if f.hour12 {
		return t.Format("3:04:05 PM")
	}
	return t.Format("15:04:05")
}

// Short is a time of day without seconds: "15:04" or "3:04 PM".
func (f timeFormats) Short(t time.Time) string {
	if f.hour12 {
		return t.Format("3:04 PM")
	}
	return t.Format("15:04")
}

// Day names a day: "Fri 13 Mar" ("Fri Mar 13" with a 12-hour clock, as
// the US writes it), with the year when it is not now's.
func (f timeFormats) Day(t, now time.Time) string {
	layout := "Mon 2 Jan"
	if f.hour12 {
		layout = "Mon Jan 2"
	}
	if t.Year() != now.Year() {
		layout += " 2006"
	}
	return t.Format(layout)
}

// When is a call's time for a glance: the time of day, with the day in
// front when it is not today (in t's location).
func (f timeFormats) When(t, now time.Time) string {
	if sameDay(t, now.In(t.Location())) {
		return f.Clock(t)
	}
	return f.Day(t, now) + " " + f.Clock(t)
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
