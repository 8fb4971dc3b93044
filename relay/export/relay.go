package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/filter"
)

// FromRelay is a Remote reading the server's history through a relay core
// in this process (what the window's export of search results uses): its
// search, and its audio (the cache, else the server).
func FromRelay(core *relay.Relay) Remote { return relayRemote{core} }

type relayRemote struct{ core *relay.Relay }

// maxRelayPages bounds one export's search (at most relay.MaxSearchLimit
// calls a page).
const maxRelayPages = 200

func (r relayRemote) Calls(ctx context.Context, from, to time.Time, q filter.Query) ([]event.Call, error) {
	sq := relay.SearchQuery{From: from, To: to.Add(-time.Second), Systems: q.Systems, Limit: relay.MaxSearchLimit}
	for _, t := range q.Talkgroups {
		sq.Talkgroups = append(sq.Talkgroups, t.TalkgroupID) // the system is checked by Run
	}
	var all []event.Call
	for range maxRelayPages {
		res, err := r.core.Search(ctx, sq)
		if err != nil {
			return all, err
		}
		all = append(all, res.Calls...)
		if res.Problem != "" {
			return all, errors.New(res.Problem)
		}
		if res.Next.IsZero() {
			return all, nil
		}
		sq.Before = res.Next
	}
	return all, fmt.Errorf("more than %d calls match; export a shorter time range", maxRelayPages*relay.MaxSearchLimit)
}

func (r relayRemote) Audio(ctx context.Context, c event.Call, w io.Writer) error {
	e, err := r.core.Audio(ctx, c.ID)
	if err != nil {
		return err
	}
	f, err := e.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
