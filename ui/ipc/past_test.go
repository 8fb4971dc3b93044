package ipc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/event"
	"earshot/relay/tokens"
)

// pastResident is a resident that searches, saves, exports and follows
// tokens.
type pastResident struct {
	*fakeResident
	mu      sync.Mutex
	queries []relay.SearchQuery
	saved   map[string]int64
	release chan struct{} // an export waits for it (or its cancel)
	tokens  chan []tokens.Info
	// unwatched hears when a watch of the token list ends.
	unwatched chan struct{}
}

func (r *pastResident) Search(_ context.Context, q relay.SearchQuery) (relay.SearchResult, error) {
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
	if q.Text == "fail" {
		return relay.SearchResult{}, errors.New("the relay is shutting down")
	}
	return relay.SearchResult{Calls: []event.Call{{ID: 9, DateTime: 1700000000, InlineAudio: []byte("big")}},
		Next: relay.Cursor{DateTime: 1700000000, ID: 9}, Problem: "the server's history could not be searched"}, nil
}

func (r *pastResident) AudioName(_ context.Context, id int64) (string, error) {
	return "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3", nil
}

func (r *pastResident) SaveAudio(_ context.Context, id int64, path string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved[path] = id
	return 1234, nil
}

func (r *pastResident) Export(ctx context.Context, s Search, out string, progress func(Progress)) (ExportResult, error) {
	progress(Progress{Done: 1, Total: 2, Bytes: 10})
	select {
	case <-r.release:
	case <-ctx.Done():
		return ExportResult{}, ctx.Err()
	}
	progress(Progress{Done: 2, Total: 2, Bytes: 20})
	return ExportResult{Out: out, Calls: 2, FromServer: 2, Bytes: 20}, nil
}

type watchedTokens struct {
	tokens.Admin
	ch    chan []tokens.Info
	ended chan struct{}
}

func (w watchedTokens) Watch(ctx context.Context) <-chan []tokens.Info {
	out := make(chan []tokens.Info)
	go func() {
		defer close(out)
		defer func() { w.ended <- struct{}{} }()
		for {
			select {
			case l := <-w.ch:
				select {
				case out <- l:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (r *pastResident) Tokens() tokens.Admin {
	return watchedTokens{ch: r.tokens, ended: r.unwatched}
}

func newPastResident(t *testing.T) *pastResident {
	res, _ := newResident(t)
	return &pastResident{fakeResident: res, saved: map[string]int64{}, release: make(chan struct{}), tokens: make(chan []tokens.Info),
		unwatched: make(chan struct{}, 8)}
}

func TestSearchCrossesTheChannelWithItsCursorAndProblem(t *testing.T) {
	res := newPastResident(t)
	c, _, _, _, _ := pair(t, res)
	from := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	calls, next, problem, err := c.Search(context.Background(), Search{From: from, Systems: []int64{1}, Talkgroups: []int64{101, 102},
		Text: "engine", Limit: 50, Before: "1700000100-12"})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].ID != 9 || calls[0].InlineAudio != nil {
		t.Fatalf("calls %+v; want call 9 without its inline audio", calls)
	}
	if next != "1700000000-9" || !strings.Contains(problem, "could not be searched") {
		t.Fatalf("next %q problem %q", next, problem)
	}
	res.mu.Lock()
	q := res.queries[0]
	res.mu.Unlock()
	if !q.From.Equal(from) || q.Text != "engine" || q.Limit != 50 || q.Before != (relay.Cursor{DateTime: 1700000100, ID: 12}) || len(q.Talkgroups) != 2 {
		t.Fatalf("the relay got %+v", q)
	}
	if _, _, _, err := c.Search(context.Background(), Search{Text: "fail"}); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("a failed search: %v", err)
	}
}

func TestSavingAudioNamesAnAbsolutePath(t *testing.T) {
	res := newPastResident(t)
	c, _, _, _, _ := pair(t, res)
	if name, err := c.AudioName(context.Background(), 9); err != nil || name != "2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3" {
		t.Fatalf("audio name %q, %v", name, err)
	}
	n, err := c.SaveAudio(context.Background(), 9, "/home/alice/call.mp3")
	if err != nil || n != 1234 {
		t.Fatalf("save: %d, %v", n, err)
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.saved["/home/alice/call.mp3"] != 9 {
		t.Fatalf("saved %v", res.saved)
	}
}

func TestExportTellsProgressAndCanBeCancelled(t *testing.T) {
	res := newPastResident(t)
	c, _, _, _, _ := pair(t, res)
	var mu sync.Mutex
	var seen []Progress
	record := func(p Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() }
	done := make(chan struct{})
	var out ExportResult
	var err error
	go func() {
		defer close(done)
		out, err = c.Export(context.Background(), Search{From: time.Unix(1, 0), To: time.Unix(2, 0)}, "/tmp/calls.zip", record)
	}()
	waitFor(t, "the first progress", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 })
	close(res.release)
	<-done
	if err != nil || out.Calls != 2 || out.Out != "/tmp/calls.zip" {
		t.Fatalf("export: %+v, %v", out, err)
	}
	mu.Lock()
	if len(seen) != 2 || seen[1].Done != 2 {
		t.Fatalf("progress %+v", seen)
	}
	mu.Unlock()

	// Cancelled from the window: the resident's export stops.
	res.release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() {
		defer close(done)
		_, err = c.Export(ctx, Search{}, "/tmp/other.zip", record)
	}()
	waitFor(t, "the second export's progress", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 3 })
	cancel()
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled export: %v", err)
	}
}

func TestTokenListFollowsTheRegistryWhileWatched(t *testing.T) {
	res := newPastResident(t)
	c, _, _, _, _ := pair(t, res)
	got := make(chan []tokens.Info, 4)
	c.OnTokens(func(l []tokens.Info) { got <- l })
	c.WatchTokens(true)
	res.tokens <- []tokens.Info{{ID: "a", Name: "OBS"}}
	select {
	case l := <-got:
		if len(l) != 1 || l[0].Name != "OBS" {
			t.Fatalf("token list %+v", l)
		}
	case <-time.After(hangGuard):
		t.Fatal("the token list did not reach the window")
	}
	c.WatchTokens(false)
	// The resident stops following when the message reaches it, a moment
	// later; then nothing reads the registry's changes.
	select {
	case <-res.unwatched:
	case <-time.After(hangGuard):
		t.Fatal("the resident never stopped following the registry after the window stopped watching")
	}
	select {
	case res.tokens <- []tokens.Info{{ID: "b"}}:
		t.Fatal("the registry was still followed after the window stopped watching")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestPastCallCommandsWithoutTheAbilityAreUnavailable(t *testing.T) {
	res, _ := newResident(t)
	c, _, _, _, _ := pair(t, res)
	if _, _, _, err := c.Search(context.Background(), Search{}); !IsKind(err, KindUnavailable) {
		t.Fatalf("search on a resident that cannot: %v", err)
	}
}

func TestBadPastCallCommandsAreRefused(t *testing.T) {
	for _, line := range []string{
		`{"type":"command","id":1,"command":"search"}`,
		`{"type":"command","id":1,"command":"search","search":{"limit":501}}`,
		`{"type":"command","id":1,"command":"search","search":{"systems":[0]}}`,
		`{"type":"command","id":1,"command":"search","search":{"before":"yesterday"}}`,
		`{"type":"command","id":1,"command":"search","search":{"from":"2026-12-02T00:00:00Z","to":"2026-12-01T00:00:00Z"}}`,
		`{"type":"command","id":1,"command":"search","search":{"text":"` + strings.Repeat("x", maxSearchText+1) + `"}}`,
		`{"type":"command","id":1,"command":"saveAudio","call":3,"path":"relative/call.mp3"}`,
		`{"type":"command","id":1,"command":"saveAudio","path":"/tmp/call.mp3"}`,
		`{"type":"command","id":1,"command":"saveAudio","call":3,"path":"/tmp/a\u0000b"}`,
		`{"type":"command","id":1,"command":"export","search":{},"path":""}`,
		`{"type":"command","command":"cancel"}`,
		`{"type":"reply","id":1,"next":"soon"}`,
	} {
		if _, err := Decode([]byte(line)); err == nil {
			t.Errorf("accepted %.100s", line)
		}
	}
}

// signedOut is a resident signed out, that remembers the last account.
type signedOut struct{ *fakeResident }

type lastAccounts struct{ fakeAccounts }

func (lastAccounts) Account() (string, string)     { return "", "" }
func (lastAccounts) LastAccount() (string, string) { return "https://scanner.example.org", "alice" }

func (r signedOut) Accounts() Accounts { return lastAccounts{fakeAccounts{r.fakeResident}} }

func TestTheSignInWindowIsOfferedTheLastAccountAfterASignOut(t *testing.T) {
	res, _ := newResident(t)
	c, _, _, _, _ := pair(t, signedOut{res})
	if s, u := c.Account(); s != "https://scanner.example.org" || u != "alice" {
		t.Fatalf("signed out, the window is offered %q %q; want the last account", s, u)
	}
}
