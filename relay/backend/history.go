package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"earshot/relay/event"
)

// HistoryQuery asks the server's call history (its search) for calls,
// newest first. System and talkgroup ids are radio ids, as calls carry
// them; the session turns them into the server's own row ids, which is
// what OpenScanner filters by.
type HistoryQuery struct {
	// From and To bound the calls' dateTime, inclusive, in Unix seconds;
	// 0 leaves that end open.
	From, To int64
	// Systems and Talkgroups restrict the calls (empty: any). A talkgroup
	// id stands for that talkgroup in any of Systems (or in any system).
	Systems, Talkgroups []int64
	// Text is looked for in the transcripts (the server's partial match).
	Text string
	// Page counts from 1; Limit is 1 to MaxHistoryPage.
	Page, Limit int
}

// MaxHistoryPage is the most calls the server gives in one page.
const MaxHistoryPage = 100

// maxHistoryText caps the transcript text sent to the server.
const maxHistoryText = 256

// HistoryPage is one page of a history search.
type HistoryPage struct {
	Calls []event.Call
	// Total is the server's count of the matching calls. OpenScanner cuts
	// calls outside the account's grants from a page after taking it and
	// then gives offset plus what is left, so a short page may hide more.
	Total int
	// Unfiltered is set when the server could not be asked to filter by
	// system or talkgroup (its catalogue is not known yet): the page holds
	// other calls too, and the caller filters them.
	Unfiltered bool
}

// History reads one page of the server's call history. Calls come back
// with their labels (the catalogue's where it has them) and transcripts,
// but no audio: fetch that with FetchAudio. When the asked systems and
// talkgroups are ones the server does not show this account, the page is
// empty without asking.
func (s *Session) History(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	if q.Page < 1 {
		q.Page = 1
	}
	if q.Limit < 1 || q.Limit > MaxHistoryPage {
		q.Limit = MaxHistoryPage
	}
	if err := s.ensureProbed(ctx); err != nil {
		return HistoryPage{}, err
	}
	v := url.Values{}
	v.Set("sort", "desc")
	v.Set("limit", strconv.Itoa(q.Limit))
	v.Set("page", strconv.Itoa(q.Page))
	if q.From > 0 {
		v.Set("date_from", strconv.FormatInt(q.From, 10))
	}
	if q.To > 0 {
		v.Set("date_to", strconv.FormatInt(q.To, 10))
	}
	if text := strings.TrimSpace(q.Text); text != "" {
		if len(text) > maxHistoryText {
			text = text[:maxHistoryText]
			for !utf8.ValidString(text) {
				text = text[:len(text)-1]
			}
		}
		v.Set("transcript", text)
	}
	var page HistoryPage
	if len(q.Systems) > 0 || len(q.Talkgroups) > 0 {
		systems, talkgroups, known := s.labels.rows(q.Systems, q.Talkgroups)
		switch {
		case !known:
			page.Unfiltered = true
		case len(systems) == 0 && len(talkgroups) == 0:
			return page, nil // nothing this account can see matches
		default:
			if len(systems) > 0 {
				v.Set("system_ids", joinIDs(systems))
			}
			if len(talkgroups) > 0 {
				v.Set("talkgroup_ids", joinIDs(talkgroups))
			}
		}
	}
	tok, err := s.accessToken(ctx)
	if err != nil {
		return HistoryPage{}, err
	}
	var ans struct {
		Calls []json.RawMessage `json:"calls"`
		Total int               `json:"total"`
	}
	if err := s.do(ctx, "GET", s.prefix()+"/calls?"+v.Encode(), nil, tok, &ans); err != nil {
		return HistoryPage{}, fmt.Errorf("search the server's call history: %w", err)
	}
	page.Total = max(ans.Total, 0)
	for _, raw := range ans.Calls {
		c, err := parseCall(raw)
		if err != nil {
			s.log.Warn("skipping a malformed history row", "err", err)
			continue
		}
		c.InlineAudio = nil
		s.labels.resolve(c)
		page.Calls = append(page.Calls, *c)
	}
	return page, nil
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// rows turns radio system and talkgroup ids into the server's row ids. A
// talkgroup id stands for that talkgroup in every asked system (or every
// system). known is false until a configuration has arrived.
func (b *labelBook) rows(systems, talkgroups []int64) (sysRows, tgRows []int64, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.systems == nil {
		return nil, nil, false
	}
	inSystem := func(id int64) bool { return len(systems) == 0 || slices.Contains(systems, id) }
	if len(talkgroups) == 0 {
		for _, id := range systems {
			if sys, ok := b.systems[id]; ok {
				if sys.Row <= 0 {
					return nil, nil, false // a server that does not number its systems
				}
				sysRows = append(sysRows, int64(sys.Row))
			}
		}
	} else {
		for key, tg := range b.tgs {
			if inSystem(key[0]) && slices.Contains(talkgroups, key[1]) {
				if tg.Row <= 0 {
					return nil, nil, false
				}
				tgRows = append(tgRows, int64(tg.Row))
			}
		}
	}
	slices.Sort(sysRows)
	slices.Sort(tgRows)
	return sysRows, tgRows, true
}
