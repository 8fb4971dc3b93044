package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"earshot/relay/backend"
	"earshot/relay/event"
	"earshot/relay/export"
	"earshot/relay/filter"
)

// exportTimeLayouts are the times --from and --to take besides RFC 3339:
// local time without a zone.
var exportTimeLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// parseExportTime reads an RFC 3339 time, or a local one without a zone
// (in loc), or a date (its midnight in loc).
func parseExportTime(v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range exportTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: give RFC 3339 (2026-12-01T18:00:00Z, 2026-12-01T18:00:00+01:00) or local time (2026-12-01T18:00, or a date)", v)
}

// repeated is a flag that may be given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func cmdExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "export")
	var (
		from, to, out     string
		systems, tgs      repeated
		asJSON, noHistory bool
	)
	fs.StringVar(&from, "from", "", "the first moment: RFC 3339, or local time such as 2026-12-01T18:00")
	fs.StringVar(&to, "to", "", "the end (not included), as --from")
	fs.Var(&systems, "system", "only this system `ID` (repeat for more)")
	fs.Var(&tgs, "talkgroup", "only this talkgroup: `TG` on any system, or SYSTEM:TG (repeat for more)")
	fs.StringVar(&out, "out", "", "a new (or empty) directory, or a new FILE.zip")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON for scripts (no progress bar)")
	fs.BoolVar(&noHistory, "archive-only", false, "export the archive's calls only; do not ask the server's history")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	loc := time.Local
	if from == "" || to == "" || out == "" {
		return usagef("export: --from, --to and --out are required, e.g. --from 2026-12-01T18:00 --to 2026-12-01T19:00 --out calls.zip")
	}
	fromT, err := parseExportTime(from, loc)
	if err != nil {
		return usagef("export: --from: %v", err)
	}
	toT, err := parseExportTime(to, loc)
	if err != nil {
		return usagef("export: --to: %v", err)
	}
	q, err := filter.ParseQuery(systems, tgs)
	if err != nil {
		return usagef("export: %v", err)
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	if !cfg.HasAccount() {
		return usagef("export: no account is configured; sign in with `earshot login --server URL --user NAME` first")
	}
	settings := cfg.Archive
	if settings == nil {
		settings = &ArchiveSettings{} // an archive kept before, since turned off, is still read
	}
	opts := export.Options{
		From: fromT, To: toT, Query: q, Out: out, Location: loc,
		ArchiveRoot: settings.Root(env.DataDir), Server: cfg.Server,
	}
	if !noHistory {
		remote, closeRemote, err := openHistory(ctx, env, cfg)
		if err != nil {
			return err
		}
		defer closeRemote()
		opts.Remote = remote
	}
	if !asJSON && env.StderrIsTerminal != nil && env.StderrIsTerminal() {
		bar := &progressBar{w: env.Stderr}
		opts.Progress = bar.show
		defer bar.done()
	}
	res, err := export.Run(ctx, opts)
	if errors.Is(err, export.ErrUsage) {
		return usagef("export: %s", strings.TrimPrefix(err.Error(), export.ErrUsage.Error()+": "))
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printExport(env.Stdout, res)
	}
	if !res.Complete() {
		return fmt.Errorf("export: incomplete: %s", incompleteWhy(res))
	}
	return nil
}

func printExport(w io.Writer, res export.Result) {
	fmt.Fprintf(w, "Exported %d calls (%d from the archive, %d from the server's history), %.1f MB, to %s\n",
		len(res.Calls), res.FromArchive, res.FromServer, float64(res.Bytes)/(1<<20), res.Out)
	for _, f := range res.Failed {
		fmt.Fprintf(w, "  not exported: call %d at %s (%s): %s\n", f.Call.ID, f.Call.Time().Format("2006-01-02 15:04:05"),
			strings.TrimSpace(f.Call.SystemLabel+" "+f.Call.TalkgroupLabel), f.Reason)
	}
	if res.Problem != "" {
		fmt.Fprintln(w, "  "+res.Problem)
	}
}

func incompleteWhy(res export.Result) string {
	var why []string
	if n := len(res.Failed); n > 0 {
		why = append(why, fmt.Sprintf("%d calls could not be exported", n))
	}
	if res.Problem != "" {
		why = append(why, "the server's history was not read")
	}
	return strings.Join(why, "; ") + " (see above; the rest is in " + res.Out + ")"
}

// progressBar draws an export's progress on a terminal.
type progressBar struct {
	w     io.Writer
	drawn bool
}

const barWidth = 30

func (b *progressBar) show(p export.Progress) {
	filled := 0
	if p.Total > 0 {
		filled = p.Done * barWidth / p.Total
	}
	fmt.Fprintf(b.w, "\r%s%s %d/%d calls, %.1f MB ", strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled),
		p.Done, p.Total, float64(p.Bytes)/(1<<20))
	b.drawn = true
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// openHistory returns where the server's history is read: through the
// running relay (over the connection on which it proved itself, with the
// CLI's operator token) when one runs, else through a session of the
// CLI's own with the stored sign-in (holding the account, as a relay
// would, so that two never spend one refresh token).
func openHistory(ctx context.Context, env *Env, cfg *Config) (export.Remote, func(), error) {
	admin, _, err := openTokenAdmin(ctx, env, cfg)
	if err != nil {
		return nil, nil, err
	}
	if cc, ok := admin.(*controlClient); ok {
		return relayHistory{cc}, admin.Close, nil
	}
	admin.Close()
	opts := backend.Options{ServerURL: cfg.Server, Username: cfg.User, Logger: discardLogger()}
	release := func() {}
	if cfg.User != "" {
		if release, err = storedSignIn(ctx, env, cfg, &opts); err != nil {
			return nil, nil, err
		}
	}
	sess, err := backend.New(opts)
	if err != nil {
		release()
		return nil, nil, err
	}
	return sessionHistory{sess}, release, nil
}

// sessionHistory reads the server's history with a session of the CLI's
// own, when no relay runs.
type sessionHistory struct{ s *backend.Session }

func (h sessionHistory) Calls(ctx context.Context, from, to time.Time, q filter.Query) ([]event.Call, error) {
	var talkgroups []int64
	for _, t := range q.Talkgroups {
		talkgroups = append(talkgroups, t.TalkgroupID)
	}
	var all []event.Call
	for page := 1; page <= maxHistoryPages*(historyPageLimit/backend.MaxHistoryPage); page++ {
		p, err := h.s.History(ctx, backend.HistoryQuery{
			From: from.Unix(), To: to.Unix() - 1, Systems: q.Systems, Talkgroups: talkgroups,
			Page: page, Limit: backend.MaxHistoryPage,
		})
		if err != nil {
			return all, err
		}
		// A short page, and the total, may hide more (the server cuts
		// calls outside the account's grants after taking a page): only an
		// empty page ends the history.
		if len(p.Calls) == 0 {
			return all, nil
		}
		all = append(all, p.Calls...)
	}
	return all, fmt.Errorf("more than %d calls match; export a shorter time range", historyPageLimit*maxHistoryPages)
}

func (h sessionHistory) Audio(ctx context.Context, c event.Call, w io.Writer) error {
	_, err := h.s.FetchAudio(ctx, c, w)
	return err
}

// relayHistory reads the server's history through a running relay: its
// search (GET /v1/calls?from=&to=) and call audio.
type relayHistory struct{ c *controlClient }

// Bounds on reading history through the relay.
const (
	historyPageLimit = 500
	maxHistoryPages  = 200 // 100,000 calls
)

func (h relayHistory) Calls(ctx context.Context, from, to time.Time, q filter.Query) ([]event.Call, error) {
	v := url.Values{}
	v.Set("from", strconv.FormatInt(from.Unix(), 10))
	v.Set("to", strconv.FormatInt(to.Unix()-1, 10)) // the search's to is inclusive
	v.Set("limit", strconv.Itoa(historyPageLimit))
	for _, s := range q.Systems {
		v.Add("system", strconv.FormatInt(s, 10))
	}
	for _, t := range q.Talkgroups {
		// The search takes talkgroup ids; export checks the system.
		v.Add("talkgroup", strconv.FormatInt(t.TalkgroupID, 10))
	}
	var all []event.Call
	for range maxHistoryPages {
		var page struct {
			Calls   []event.Call `json:"calls"`
			Next    string       `json:"next"`
			Problem string       `json:"problem"`
		}
		if err := h.c.do(ctx, "GET", "/v1/calls?"+v.Encode(), nil, &page); err != nil {
			return all, err
		}
		all = append(all, page.Calls...)
		if page.Problem != "" {
			return all, errors.New(page.Problem)
		}
		if page.Next == "" {
			return all, nil
		}
		v.Set("before", page.Next)
	}
	return all, fmt.Errorf("more than %d calls match; export a shorter time range", historyPageLimit*maxHistoryPages)
}

func (h relayHistory) Audio(ctx context.Context, c event.Call, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", h.c.conn.base()+"/v1/calls/"+strconv.FormatInt(c.ID, 10)+"/audio", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.c.token)
	req.Host = h.c.conn.host
	resp, err := h.c.conn.client.Do(req)
	if err != nil {
		return fmt.Errorf("reach the running relay: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return fmt.Errorf("the relay answered %d: %s", resp.StatusCode, e.Error.Message)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
