package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/relay/event"
)

// searchRig is the relay core on a real backend session with the fake
// OpenScanner server, behind this server: what `earshot relay` runs.
type searchRig struct {
	fake *backendtest.Server
	core *relay.Relay
	ts   *httptest.Server
}

// newSearchRig starts the relay on a fake server holding calls the relay
// never saw live: `old` calls a minute apart in the days before now.
func newSearchRig(t *testing.T, old int) *searchRig {
	t.Helper()
	fake := backendtest.NewServer(backendtest.Options{})
	t.Cleanup(fake.Close)
	fake.AddSystem(3, "Harness County")
	fake.AddTalkgroup(3, 101, "Fire Dispatch", "", "Fire", "", "")
	fake.AddTalkgroup(3, 205, "EMS Ops", "", "EMS", "", "")
	fake.AddTalkgroup(9, 101, "Other 101", "", "", "", "")
	start := time.Now().Add(-time.Duration(old+60) * time.Minute).Truncate(time.Second)
	for i := range old {
		spec := backendtest.CallSpec{SystemID: 3, TalkgroupID: 101, DateTime: start.Add(time.Duration(i) * time.Minute),
			Audio: backendtest.SynthWAV(0.05, 440, 8000), AudioName: "call.wav"}
		switch i % 3 {
		case 1:
			spec.TalkgroupID = 205
		case 2:
			spec.SystemID = 9
		}
		id := fake.AddCall(spec)
		if i%25 == 0 {
			fake.SetTranscript(id, fmt.Sprintf("Medic %d respond, cardiac arrest", id))
		}
	}
	sess, err := backend.New(backend.Options{ServerURL: fake.URL(), Username: "listener"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Login(context.Background(), "listener", "listener-pass"); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	core, err := relay.New(relay.Options{Backend: sess, Cache: c, IsUnavailable: func(err error) bool { return errors.Is(err, backend.ErrCallUnavailable) }})
	if err != nil {
		t.Fatal(err)
	}
	sub := core.Subscribe(64)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for core.Catalog().Systems == nil {
		select {
		case <-sub.Events():
		case <-time.After(10 * time.Second):
			t.Fatal("the relay never received the server's catalogue")
		}
	}
	s, err := New(Options{Source: core, Auth: newFakeAuth(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return &searchRig{fake: fake, core: core, ts: ts}
}

func (rig *searchRig) search(t *testing.T, query string) SearchResponse {
	t.Helper()
	resp := get(t, rig.ts, "/v1/calls?"+query, map[string]string{"Authorization": "Bearer " + goodToken})
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("search %s = %d %s", query, resp.StatusCode, b)
	}
	var out SearchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// searchAllPages follows next= to the end and returns every call.
func (rig *searchRig) searchAllPages(t *testing.T, query string) []event.Call {
	t.Helper()
	var all []event.Call
	before := ""
	for range 200 {
		q := query
		if before != "" {
			q += "&before=" + url.QueryEscape(before)
		}
		res := rig.search(t, q)
		if res.Problem != "" {
			t.Fatalf("problem: %s", res.Problem)
		}
		all = append(all, res.Calls...)
		if res.Next == "" {
			return all
		}
		before = res.Next
	}
	t.Fatal("paging does not end")
	return nil
}

func TestSearchReachesTheServersHistoryThroughTheRelay(t *testing.T) {
	rig := newSearchRig(t, 240)
	all := rig.searchAllPages(t, "q=&limit=37")
	if len(all) != 240 {
		t.Fatalf("a search of everything found %d calls, want 240", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].DateTime > all[i-1].DateTime || all[i].ID == all[i-1].ID {
			t.Fatalf("results %d and %d are out of order or repeated: %d@%d, %d@%d", i-1, i, all[i-1].ID, all[i-1].DateTime, all[i].ID, all[i].DateTime)
		}
	}
	if c := all[0]; c.AudioURL != relay.AudioPath(c.ID) || c.SystemLabel != "Harness County" && c.SystemID == 3 {
		t.Fatalf("a found call lacks its audio URL or labels: %+v", c)
	}

	ids := func(calls []event.Call) (out []int64) {
		for _, c := range calls {
			out = append(out, c.ID)
		}
		return out
	}
	// Radio ids (system 3, talkgroup 205), repeatable and comma lists alike.
	ems := rig.searchAllPages(t, "system=3&talkgroup=205&limit=25")
	if len(ems) != 80 || slices.ContainsFunc(ems, func(c event.Call) bool { return c.SystemID != 3 || c.TalkgroupID != 205 }) {
		t.Fatalf("system 3 talkgroup 205: %d calls %v", len(ems), ids(ems))
	}
	both := rig.searchAllPages(t, "talkgroup=101&system=3,9&limit=100")
	if len(both) != 160 {
		t.Fatalf("talkgroup 101 of systems 3 and 9: %d calls, want 160", len(both))
	}
	// Transcript text, case-insensitive.
	if got := rig.searchAllPages(t, "q=CARDIAC"); len(got) != 10 || !strings.Contains(got[0].Transcript, "cardiac") {
		t.Fatalf("q=CARDIAC: %d calls %v", len(got), ids(got))
	}
	// A time range, as RFC 3339 and as Unix seconds.
	from, to := time.Unix(all[100].DateTime, 0), time.Unix(all[90].DateTime, 0)
	rfc := rig.searchAllPages(t, "from="+url.QueryEscape(from.UTC().Format(time.RFC3339))+"&to="+url.QueryEscape(to.In(time.FixedZone("", -5*3600)).Format(time.RFC3339)))
	unix := rig.searchAllPages(t, fmt.Sprintf("from=%d&to=%d", from.Unix(), to.Unix()))
	if !slices.Equal(ids(rfc), ids(all[90:101])) || !slices.Equal(ids(unix), ids(rfc)) {
		t.Fatalf("time range: RFC 3339 %v, Unix %v, want %v", ids(rfc), ids(unix), ids(all[90:101]))
	}

	// A call found only in history can be fetched, and saved under a
	// readable name.
	old := all[len(all)-1]
	resp := get(t, rig.ts, fmt.Sprintf("/v1/calls/%d/audio?download=1", old.ID), map[string]string{"Authorization": "Bearer " + goodToken})
	body, _ := io.ReadAll(resp.Body)
	want := time.Unix(old.DateTime, 0).UTC().Format("2006-01-02_15-04-05") + "_Harness-County_Fire-Dispatch.wav"
	if resp.StatusCode != 200 || len(body) == 0 || resp.Header.Get("Content-Disposition") != `attachment; filename="`+want+`"; filename*=UTF-8''`+want {
		t.Fatalf("download of call %d: %d, %d bytes, Content-Disposition %q; want the name %s", old.ID, resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"), want)
	}
	resp = get(t, rig.ts, fmt.Sprintf("/v1/calls/%d", old.ID), map[string]string{"Authorization": "Bearer " + goodToken})
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/calls/%d of a call found in history = %d", old.ID, resp.StatusCode)
	}
}

func TestSearchMergesWhatTheRelayHoldsWithHistory(t *testing.T) {
	rig := newSearchRig(t, 30)
	sub := rig.core.Subscribe(64)
	defer sub.Close()
	// Live calls the relay holds (and the server has too).
	for range 5 {
		rig.fake.AddCall(backendtest.CallSpec{SystemID: 3, TalkgroupID: 205})
	}
	for n := 0; n < 5; {
		select {
		case e := <-sub.Events():
			if e.Type == event.TypeCall {
				n++
			}
		case <-time.After(10 * time.Second):
			t.Fatal("live calls did not arrive")
		}
	}
	got := rig.searchAllPages(t, "talkgroup=205&limit=4")
	if len(got) != 15 || got[0].ID != 35 {
		t.Fatalf("talkgroup 205: %d calls from %d, want 15 from call 35 (5 held, 10 from history, none twice)", len(got), got[0].ID)
	}
	// The plain listing of held calls is as it was.
	resp := get(t, rig.ts, "/v1/calls?limit=2&before=35", map[string]string{"Authorization": "Bearer " + goodToken})
	var plain struct {
		Calls []event.Call `json:"calls"`
		Next  *string      `json:"next"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&plain); err != nil || len(plain.Calls) != 2 || plain.Calls[0].ID != 34 || plain.Next != nil {
		t.Fatalf("GET /v1/calls?limit=2&before=35 = %+v, %v", plain, err)
	}
}

func TestSearchSaysWhenTheServerCannotBeSearched(t *testing.T) {
	rig := newSearchRig(t, 3)
	rig.fake.Stop()
	res := rig.search(t, "q=medic")
	if res.Problem == "" || len(res.Calls) != 0 {
		t.Fatalf("search with the server down = %+v, want a problem and the held calls (none)", res)
	}
}

func TestSearchParametersAreValidated(t *testing.T) {
	_, _, ts := newTestServer(t)
	for _, query := range []string{
		"from=yesterday", "to=2026-13-01T00:00:00Z", "from=0", "from=99999999999999999999",
		"from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
		"system=x", "system=0", "system=-3", "talkgroup=1,,2", "talkgroup=" + strings.Repeat("1,", 300) + "1",
		"q=" + strings.Repeat("a", 300), "q=a%00b", "q=a&q=b", "q=a&limit=0", "q=a&limit=501",
		"q=a&before=x-1", "q=a&before=5-", "q=a&after=3", "from=1&from=2",
	} {
		resp := get(t, ts, "/v1/calls?"+query, map[string]string{"Authorization": "Bearer " + goodToken})
		if resp.StatusCode != 400 || errorCode(t, resp) != "bad_request" {
			t.Errorf("%s = %d, want 400 bad_request", query, resp.StatusCode)
		}
	}
	// A source that cannot search says so.
	resp := get(t, ts, "/v1/calls?q=fire", map[string]string{"Authorization": "Bearer " + goodToken})
	if resp.StatusCode != 501 {
		t.Errorf("search on a source without search = %d, want 501", resp.StatusCode)
	}
	resp = get(t, ts, "/v1/calls/1/audio?download=yes", map[string]string{"Authorization": "Bearer " + goodToken})
	if resp.StatusCode != 400 {
		t.Errorf("download=yes = %d, want 400", resp.StatusCode)
	}
}

func TestAudioIsNamedForTheCallInlineAndAsADownload(t *testing.T) {
	_, src, _, ts := newTestServerOpts(t, Options{Location: time.UTC})
	c := src.addCall(t, 7, wavFile(200))
	src.mu.Lock()
	src.calls[0].DateTime = time.Date(2026, 12, 1, 18, 3, 7, 0, time.UTC).Unix()
	src.calls[0].SystemLabel, src.calls[0].TalkgroupLabel = "Comté", "Fire Dispatch"
	src.mu.Unlock()
	const name = "2026-12-01_18-03-07_Comté_Fire-Dispatch.wav"
	for q, kind := range map[string]string{"": "inline", "?download=0": "inline", "?download=1": "attachment", "?download=true": "attachment"} {
		resp := get(t, ts, c.AudioURL+q, map[string]string{"Authorization": "Bearer " + goodToken})
		want := kind + `; filename="2026-12-01_18-03-07_Comt__Fire-Dispatch.wav"; filename*=UTF-8''` + url.PathEscape(name)
		if got := resp.Header.Get("Content-Disposition"); resp.StatusCode != 200 || got != want {
			t.Errorf("%s: %d, Content-Disposition %q, want %q", q, resp.StatusCode, got, want)
		}
	}
}

func FuzzSearchParams(f *testing.F) {
	f.Add("from=2026-12-01T00:00:00Z&to=1795356795&system=1&talkgroup=2,3&q=fire&limit=5&before=1795356795-42")
	f.Add("q=%ff&before=9-9")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseSearch(v)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > relay.MaxSearchLimit || len(q.Systems) > maxSearchSystems || len(q.Talkgroups) > maxSearchTalkgroups ||
			len(q.Text) > maxSearchText || (!q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To)) {
			t.Fatalf("parseSearch(%q) accepted %+v", raw, q)
		}
	})
}
