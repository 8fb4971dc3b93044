package server

import (
	"net"
	"net/http"
	"strings"
)

// clientOf says who made a request, in words for the token list ("used …
// by VLC"): the program, when its User-Agent names one, else "this
// computer" for a loopback client (its port is a throwaway, never worth
// showing), or the address of another machine when the relay listens
// beyond loopback. The web player's requests are the browser's, marked
// as such.
func clientOf(r *http.Request, viaCookie bool) string {
	name := programOf(r.Header.Get("User-Agent"))
	if viaCookie {
		if name == "" {
			name = "a browser"
		}
		return name + " (web player)"
	}
	if name != "" {
		return name
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() {
		return "this computer"
	}
	return host
}

// maxProgramName caps a program's name taken from a User-Agent.
const maxProgramName = 32

// programOf names the program behind a User-Agent: a browser by its
// family, a few media programs by the names people know, anything else by
// its first product token ("curl/8.5.0" → "curl"). "" when there is none.
func programOf(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" || len(ua) > 1024 {
		return ""
	}
	// Browsers all claim to be Mozilla: the family is in later tokens,
	// most specific first.
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.HasPrefix(ua, "Mozilla/") && strings.Contains(ua, b.token) {
			return b.name
		}
	}
	product, _, _ := strings.Cut(ua, " ")
	product, _, _ = strings.Cut(product, "/")
	known := map[string]string{
		"vlc": "VLC", "libvlc": "VLC", "lavf": "ffmpeg", "mpv": "mpv", "obs-studio": "OBS Studio", "obs": "OBS Studio",
		"go-http-client": "a Go program", "python-requests": "Python (requests)", "python-urllib": "Python",
		"earshot": "Earshot", "mozilla": "a browser", "wget": "Wget", "curl": "curl", "websocat": "websocat",
	}
	if name, ok := known[strings.ToLower(product)]; ok {
		return name
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, product)
	if len(clean) > maxProgramName {
		clean = clean[:maxProgramName]
	}
	return clean
}
