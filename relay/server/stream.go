package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"earshot/relay/event"
	"earshot/relay/filter"
	"earshot/relay/stream"
)

// PlayerSelection is the owner's player selection, which
// /v1/stream.mp3?follow=player follows: the talkgroups the desktop player
// lets through (selection, hold, avoid), or in a relay without a player
// the selection saved in config.json. The app provides it.
type PlayerSelection interface {
	// Allows reports whether the player lets call c through at now. It is
	// asked for every call as it arrives and again before it plays, so a
	// change of selection applies to the calls still waiting.
	Allows(c event.Call, now time.Time) bool
	// Ready returns nil when there is a selection to follow, else why
	// not, in words for the person who asked.
	Ready() error
}

// catalogSource is a Source that knows the server's systems and
// talkgroups (the relay core does), for naming a stream.
type catalogSource interface {
	Catalog() event.Catalog
}

// streamChoice is what a stream request asked to hear.
type streamChoice struct {
	query  filter.Query
	follow bool // ?follow=player
}

// parseStreamChoice reads system=, talkgroup= and follow= from a stream
// request.
func parseStreamChoice(v url.Values) (streamChoice, error) {
	q, err := filter.ParseQueryValues(v)
	if err != nil {
		return streamChoice{}, err
	}
	c := streamChoice{query: q}
	switch f := v["follow"]; {
	case len(f) == 0:
	case len(f) == 1 && f[0] == "player":
		c.follow = true
	default:
		return streamChoice{}, errors.New(`follow: the only value is "player" (the desktop player's selection)`)
	}
	return c, nil
}

// key names the station that plays c: equal choices share one encoder.
func (c streamChoice) key() string {
	k := c.query.Key()
	if c.follow {
		k += "&follow=player"
	}
	return k
}

// values are c's URL parameters, for the stream's own URL.
func (c streamChoice) values() url.Values {
	v := c.query.Values()
	if c.follow {
		v.Set("follow", "player")
	}
	return v
}

// name describes the stream for icy-name and the playlist, with the
// server's names for systems and talkgroups where the relay knows them.
func (s *Server) streamName(c streamChoice) string {
	var cat event.Catalog
	if cs, ok := s.src.(catalogSource); ok {
		cat = cs.Catalog()
	}
	var parts []string
	for _, id := range c.query.Systems {
		label := "system " + strconv.FormatInt(id, 10)
		for _, sys := range cat.Systems {
			if sys.ID == id && sys.Label != "" {
				label = sys.Label
			}
		}
		parts = append(parts, label)
	}
	for _, tg := range c.query.Talkgroups {
		label := "talkgroup " + tg.Param()
		for _, sys := range cat.Systems {
			if tg.SystemID != 0 && sys.ID != tg.SystemID {
				continue
			}
			for _, t := range sys.Talkgroups {
				if t.ID == tg.TalkgroupID && t.Label != "" {
					label = t.Label
				}
			}
		}
		parts = append(parts, label)
	}
	if c.follow {
		parts = append(parts, "the player's selection")
	}
	if len(parts) == 0 {
		return "Earshot — all calls"
	}
	return "Earshot — " + strings.Join(parts, ", ")
}

// streamChoiceOf answers a bad choice itself and reports ok false.
func (s *Server) streamChoiceOf(w http.ResponseWriter, r *http.Request) (streamChoice, bool) {
	c, err := parseStreamChoice(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return streamChoice{}, false
	}
	if c.follow {
		if s.player == nil {
			writeError(w, http.StatusConflict, "no_player_selection", "follow=player: this relay has no player selection to follow")
			return streamChoice{}, false
		}
		if err := s.player.Ready(); err != nil {
			writeError(w, http.StatusConflict, "no_player_selection", "follow=player: "+err.Error())
			return streamChoice{}, false
		}
	}
	return c, true
}

// allows is the filter of a stream choice.
func (s *Server) allows(c streamChoice) func(event.Call, time.Time) bool {
	q := c.query
	if !c.follow {
		return func(call event.Call, _ time.Time) bool { return q.Allows(call) }
	}
	p := s.player
	return func(call event.Call, now time.Time) bool { return q.Allows(call) && p.Allows(call, now) }
}

// handleStream serves one endless MP3 stream of the live calls the request
// chose, with ICY metadata (the call's title every stream.MetaInt bytes)
// when the client sends Icy-MetaData: 1. It ends when the client leaves,
// cannot keep up, or its token dies.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	choice, ok := s.streamChoiceOf(w, r)
	if !ok {
		return
	}
	name := s.streamName(choice)
	metaInt := 0
	if strings.TrimSpace(r.Header.Get("Icy-MetaData")) == "1" {
		metaInt = stream.MetaInt
	}
	if r.Method == http.MethodHead {
		if err := s.streams.CanEncode(); err != nil {
			streamError(w, err)
			return
		}
		setStreamHeaders(w.Header(), name, metaInt)
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	guard := &writeGuard{set: rc.SetWriteDeadline, wait: s.timeouts.Write}
	// On revocation, or when the station drops this listener, a write
	// stuck on a slow reader fails at once.
	ctx, release := s.track(r.Context(), identityFrom(r.Context()), guard.cut)
	defer release()
	guard.ctx = ctx
	l, err := s.streams.Join(choice.key(), s.allows(choice), guard.cut)
	if err != nil {
		streamError(w, err)
		return
	}
	defer l.Close()
	s.streamListeners.Add(1)
	defer s.streamListeners.Add(-1)
	setStreamHeaders(w.Header(), name, metaInt)
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	cw := &countingWriter{ResponseWriter: w, guard: guard}
	defer func() { s.bytesServed.Add(cw.n) }()
	out := stream.NewICYWriter(cw, metaInt)
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-l.Chunks():
			if !ok {
				if err := l.Err(); !errors.Is(err, stream.ErrClosed) {
					s.log.Info("stream listener ended", "err", err, "remote", r.RemoteAddr)
				}
				return
			}
			if err := out.WriteChunk(c); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

// streamError answers a stream that cannot start.
func streamError(w http.ResponseWriter, err error) {
	if errors.Is(err, stream.ErrNoEncoder) {
		writeError(w, http.StatusServiceUnavailable, "ffmpeg_missing", err.Error())
		return
	}
	writeError(w, http.StatusServiceUnavailable, "stream_unavailable", "the stream cannot start: "+err.Error())
}

// setStreamHeaders describes an MP3 stream to players (Icecast's headers).
func setStreamHeaders(h http.Header, name string, metaInt int) {
	h.Set("Content-Type", "audio/mpeg")
	h.Set("icy-name", headerSafe(name))
	h.Set("icy-description", "Live scanner calls relayed by Earshot")
	h.Set("icy-genre", "Scanner")
	h.Set("icy-pub", "0")
	h.Set("icy-br", strconv.Itoa(stream.Bitrate))
	h.Set("icy-sr", strconv.Itoa(stream.SampleRate))
	if metaInt > 0 {
		h.Set("icy-metaint", strconv.Itoa(metaInt))
	}
}

// headerSafe keeps a header value on one line.
func headerSafe(v string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7F {
			return ' '
		}
		return r
	}, v)
}

// handleStreamPlaylist serves an M3U naming the stream's http URL, with
// the same choice and the token the request was authorised by (players
// take a URL, not a header).
func (s *Server) handleStreamPlaylist(w http.ResponseWriter, r *http.Request) {
	choice, ok := s.streamChoiceOf(w, r)
	if !ok {
		return
	}
	v := choice.values()
	if t := presentedFrom(r.Context()); t != "" {
		v.Set("token", t)
	}
	u := "http://" + r.Host + "/v1/stream.mp3"
	if q := v.Encode(); q != "" {
		u += "?" + q
	}
	title := strings.NewReplacer("\n", " ", "\r", " ", ",", " ").Replace(s.streamName(choice))
	w.Header().Set("Content-Type", "audio/x-mpegurl; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="earshot-stream.m3u"`)
	_, _ = io.WriteString(w, fmt.Sprintf("#EXTM3U\n#EXTINF:-1,%s\n%s\n", title, u))
}
