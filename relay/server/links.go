package server

import (
	"net/url"
	"strings"
)

// Link is one of the relay's URLs for people to paste into other programs.
type Link struct {
	Key  string // names the route: stream, stream.m3u, login, live, latest, calls, playlist
	Name string // for people
	URL  string
}

// Links are the relay at base's ready-to-paste URLs for a stream token,
// most useful first. Each ends with the query-escaped token, so Links(base,
// "") gives them ready for a token to be appended.
func Links(base, token string) []Link {
	q := url.QueryEscape(token)
	host := strings.TrimPrefix(base, "http://")
	return []Link{
		{"stream", "Continuous stream (VLC, OBS, a browser)", StreamURL(base, token)},
		{"stream.m3u", "Stream playlist (M3U)", base + "/v1/stream.m3u?token=" + q},
		{"login", "Web player login link", base + "/login?token=" + q},
		{"live", "Live feed (WebSocket)", "ws://" + host + "/v1/live?token=" + q},
		{"latest", "Newest call's audio", base + "/v1/calls/latest/audio?token=" + q},
		{"calls", "Recent calls (JSON)", base + "/v1/calls?token=" + q},
		{"playlist", "Recent calls playlist (M3U)", base + "/v1/playlist.m3u?token=" + q},
	}
}

// StreamURL is the continuous MP3 stream of every call on the relay at base,
// with token: what the tray's "Copy stream URL" copies.
func StreamURL(base, token string) string {
	return base + "/v1/stream.mp3?token=" + url.QueryEscape(token)
}
