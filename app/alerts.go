package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"earshot/relay/alerts"
	"earshot/relay/server"
	"earshot/relay/tokens"
)

// alertAdmin is what the alert commands do, either through a running
// relay's control plane or directly on config.json (under its lock).
type alertAdmin interface {
	Rules(ctx context.Context) (server string, rules []alerts.Rule, err error)
	Add(ctx context.Context, r alerts.Rule, replace bool) (alerts.Rule, error)
	Remove(ctx context.Context, name string) error
	Close()
}

// idList is a repeatable numeric flag (--system, --talkgroup); each value
// may also be a comma-separated list.
type idList []int64

func (l *idList) String() string {
	parts := make([]string, len(*l))
	for i, id := range *l {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func (l *idList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a positive id", f)
		}
		*l = append(*l, id)
	}
	return nil
}

func cmdAlert(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("alert: say what to do: add, list or remove")
	}
	sub, args := args[0], args[1:]
	fs := newFlags(env, "alert "+sub)
	var (
		rule     alerts.Rule
		systems  idList
		tgs      idList
		words    string
		asJSON   bool
		replace  bool
		nameFlag string
	)
	switch sub {
	case "add":
		fs.StringVar(&nameFlag, "name", "", "the rule's name, e.g. Mayday")
		fs.Var(&systems, "system", "a system `id` the rule is about (repeat for more)")
		fs.Var(&tgs, "talkgroup", "a talkgroup `id` the rule is about (repeat for more)")
		fs.StringVar(&words, "words", "", "words or phrases to listen for in transcripts, comma-separated: \"mayday, structure fire\"")
		fs.StringVar(&rule.Regex, "regex", "", "a regular expression (RE2, case-insensitive) to look for in transcripts")
		fs.BoolVar(&rule.Priority, "priority", false, "matching calls interrupt a lower-priority call, and may pass quiet hours")
		fs.BoolVar(&rule.Tone, "tone", false, "play a short tone before a matching call")
		fs.BoolVar(&rule.Bump, "bump", false, "move a matching call to the front of the queue")
		fs.BoolVar(&replace, "replace", false, "replace a rule of the same name")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	case "remove":
	default:
		return usagef("alert: unknown action %q (add, list, remove)", sub)
	}
	// The name may come before the flags.
	var name string
	if sub == "remove" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch sub {
	case "remove":
		if name == "" {
			return usagef("alert remove: give the rule's name (see `earshot alert list`)")
		}
	case "add":
		rule.Name = nameFlag
		rule.Systems, rule.Talkgroups = systems, tgs
		rule.Words = alerts.ParseWords(words)
		if strings.TrimSpace(words) != "" && len(rule.Words) == 0 {
			return usagef("alert add: --words holds no word")
		}
		if err := alerts.Validate(alerts.Normalize(rule)); err != nil {
			return usagef("alert add: %v", strings.TrimPrefix(err.Error(), alerts.ErrInvalid.Error()+": "))
		}
	}

	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil {
		return err
	}
	admin, err := openAlertAdmin(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()

	switch sub {
	case "add":
		stored, err := admin.Add(ctx, rule, replace)
		if err != nil {
			return alertUsage(err)
		}
		fmt.Fprintf(env.Stdout, "Alert rule %q added: %s.\n", stored.Name, describeRule(stored))
	case "remove":
		if err := admin.Remove(ctx, name); err != nil {
			return alertUsage(err)
		}
		fmt.Fprintf(env.Stdout, "Alert rule %q removed.\n", name)
	case "list":
		where, rules, err := admin.Rules(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			if rules == nil {
				rules = []alerts.Rule{}
			}
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(server.AlertsResponse{Server: where, Rules: rules})
		}
		printAlertTable(env.Stdout, where, rules)
	}
	return nil
}

// alertUsage makes the listener's mistakes (a bad rule, a name taken or
// unknown) usage errors: exit code 2, with the reason.
func alertUsage(err error) error {
	if errors.Is(err, alerts.ErrInvalid) || errors.Is(err, alerts.ErrExists) || errors.Is(err, alerts.ErrNotFound) {
		return &usageError{err.Error()}
	}
	return err
}

// describeRule says in words what a rule does.
func describeRule(r alerts.Rule) string {
	var what []string
	if len(r.Systems) > 0 {
		what = append(what, "system "+(*idList)(&r.Systems).String())
	}
	if len(r.Talkgroups) > 0 {
		what = append(what, "talkgroup "+(*idList)(&r.Talkgroups).String())
	}
	var says []string
	if len(r.Words) > 0 {
		says = append(says, strings.Join(quoteAll(r.Words), " or "))
	}
	if r.Regex != "" {
		says = append(says, "/"+r.Regex+"/")
	}
	out := "calls"
	if len(what) > 0 {
		out += " on " + strings.Join(what, ", ")
	}
	if len(says) > 0 {
		out += " saying " + strings.Join(says, " or ")
	}
	if acts := ruleActions(r); acts != "" {
		out += " (" + acts + ")"
	}
	return out
}

func quoteAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strconv.Quote(s)
	}
	return out
}

func ruleActions(r alerts.Rule) string {
	var acts []string
	if r.Priority {
		acts = append(acts, "priority")
	}
	if r.Tone {
		acts = append(acts, "tone")
	}
	if r.Bump {
		acts = append(acts, "bump")
	}
	return strings.Join(acts, ", ")
}

func printAlertTable(w io.Writer, server string, rules []alerts.Rule) {
	where := server
	if server == DemoServerKey {
		where = "the built-in demo server"
	}
	if len(rules) == 0 {
		fmt.Fprintf(w, "No alert rules for %s. Add one with `earshot alert add --name NAME --talkgroup ID` or `--words \"mayday\"`.\n", where)
		return
	}
	fmt.Fprintf(w, "Alert rules for %s:\n", where)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSYSTEMS\tTALKGROUPS\tWORDS\tACTIONS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rules {
		says := strings.Join(quoteAll(r.Words), ", ")
		if r.Regex != "" {
			says = strings.TrimPrefix(says+", /"+r.Regex+"/", ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, dash((*idList)(&r.Systems).String()), dash((*idList)(&r.Talkgroups).String()),
			dash(says), dash(ruleActions(r)))
	}
	tw.Flush()
}

// openAlertAdmin reaches the running relay's control plane when one has
// announced itself and proved it is that relay (as the token commands
// do), so a change applies at once; otherwise it edits config.json under
// its lock, for the configured server (or the demo server), and a relay
// started later reads it.
func openAlertAdmin(ctx context.Context, env *Env, cfg *Config) (alertAdmin, error) {
	rc, err := findRelay(ctx, env)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		key := cfg.ServerKey(false)
		return &configAlerts{dir: env.ConfigDir, key: func() string { return key }}, nil
	}
	op, err := cliOperatorToken(ctx, env)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &alertClient{controlClient{conn: rc, token: op}}, nil
}

// cliOperatorToken is the operator token, from the registry in the
// configuration directory.
func cliOperatorToken(ctx context.Context, env *Env) (string, error) {
	reg, err := tokens.Open(ctx, filepath.Join(env.ConfigDir, "tokens.json"), env.keyring(), tokens.Options{Logger: discardLogger()})
	if err != nil {
		return "", fmt.Errorf("open the stream-token registry: %w", err)
	}
	defer reg.Close(ctx)
	return operatorToken(ctx, env.keyring(), reg)
}

// configAlerts edits the rules of one server in config.json. A running
// relay of this configuration that was not reached (an older one, not
// announced) picks the change up within a second (watchAlertRules); apply,
// when set, applies it to this process's relay at once.
type configAlerts struct {
	dir   string
	key   func() string // the server whose rules these are (a relay's changes with its account)
	apply func([]alerts.Rule) error
	mu    sync.Mutex // one edit at a time in this process
}

var _ server.AlertAdmin = (*relayAlerts)(nil)

func (c *configAlerts) Close() {}

func (c *configAlerts) Rules(context.Context) (string, []alerts.Rule, error) {
	cfg, err := LoadConfig(c.dir)
	if err != nil {
		return "", nil, err
	}
	key := c.key()
	return key, cfg.AlertRules(key), nil
}

func (c *configAlerts) edit(ctx context.Context, change func([]alerts.Rule) ([]alerts.Rule, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next []alerts.Rule
	err := UpdateConfig(ctx, c.dir, func(cfg *Config) error {
		var err error
		key := c.key()
		if next, err = change(cfg.AlertRules(key)); err != nil {
			return err
		}
		cfg.ServerSettings(key).Alerts = next
		return nil
	})
	if err != nil || c.apply == nil {
		return err
	}
	return c.apply(next)
}

func (c *configAlerts) Add(ctx context.Context, r alerts.Rule, replace bool) (alerts.Rule, error) {
	var stored alerts.Rule
	err := c.edit(ctx, func(rules []alerts.Rule) ([]alerts.Rule, error) {
		next, err := alerts.With(rules, r, replace)
		if err == nil {
			stored = alerts.Normalize(r)
		}
		return next, err
	})
	return stored, err
}

func (c *configAlerts) Remove(ctx context.Context, name string) error {
	return c.edit(ctx, func(rules []alerts.Rule) ([]alerts.Rule, error) { return alerts.Without(rules, name) })
}

func (c *configAlerts) Replace(ctx context.Context, rules []alerts.Rule) error {
	return c.edit(ctx, func([]alerts.Rule) ([]alerts.Rule, error) {
		next := make([]alerts.Rule, len(rules))
		for i, r := range rules {
			next[i] = alerts.Normalize(r)
		}
		return next, alerts.ValidateRules(next)
	})
}

// relayAlerts is the running relay's side of /v1/alerts: config.json plus
// the relay core, changed together.
type relayAlerts struct{ c *configAlerts }

func (r *relayAlerts) Rules() (string, []alerts.Rule) {
	key, rules, err := r.c.Rules(context.Background())
	if err != nil {
		return r.c.key(), nil
	}
	return key, rules
}

func (r *relayAlerts) Add(ctx context.Context, rule alerts.Rule, replace bool) (alerts.Rule, error) {
	return r.c.Add(ctx, rule, replace)
}

func (r *relayAlerts) Remove(ctx context.Context, name string) error { return r.c.Remove(ctx, name) }

func (r *relayAlerts) Replace(ctx context.Context, rules []alerts.Rule) error {
	return r.c.Replace(ctx, rules)
}

// alertClient edits the rules through a running relay's control plane.
type alertClient struct{ c controlClient }

func (a *alertClient) Close() { a.c.Close() }

// do is controlClient.do with the relay's refusals turned back into the
// alerts package's errors, so the CLI words and exits the same way with
// or without a running relay.
func (a *alertClient) do(ctx context.Context, method, path string, in, out any) error {
	err := a.c.do(ctx, method, path, in, out)
	var refused *relayRefusal
	if !errors.As(err, &refused) {
		return err
	}
	switch refused.code {
	case "bad_request":
		return fmt.Errorf("%w: %s", alerts.ErrInvalid, strings.TrimPrefix(refused.message, alerts.ErrInvalid.Error()+": "))
	case "exists":
		return fmt.Errorf("%w: %s", alerts.ErrExists, strings.TrimPrefix(refused.message, alerts.ErrExists.Error()+": "))
	case "not_found":
		return fmt.Errorf("%w: %s", alerts.ErrNotFound, strings.TrimPrefix(refused.message, alerts.ErrNotFound.Error()+": "))
	}
	return err
}

func (a *alertClient) Rules(ctx context.Context) (string, []alerts.Rule, error) {
	var out server.AlertsResponse
	err := a.do(ctx, "GET", "/v1/alerts", nil, &out)
	return out.Server, out.Rules, err
}

func (a *alertClient) Add(ctx context.Context, r alerts.Rule, replace bool) (alerts.Rule, error) {
	var out struct {
		Rule alerts.Rule `json:"rule"`
	}
	err := a.do(ctx, "POST", "/v1/alerts", server.AlertRequest{Rule: r, Replace: replace}, &out)
	return out.Rule, err
}

func (a *alertClient) Remove(ctx context.Context, name string) error {
	return a.do(ctx, "DELETE", "/v1/alerts/"+url.PathEscape(name), nil, nil)
}

// watchAlertRules keeps the relay's rules in step with config.json: every
// second it looks whether the file changed (an edit by a CLI that did not
// reach this relay, or by hand) and applies the rules of key. A file that
// does not load (a half-done hand edit) is reported once and the rules in
// force stay. It returns when ctx ends.
func watchAlertRules(ctx context.Context, dir string, key func() string, apply func([]alerts.Rule) error, current func() []alerts.Rule, log *slog.Logger, every time.Duration) {
	watchConfig(ctx, dir, every, log, func(cfg *Config) { applyAlertRules(cfg, key, apply, current, log) })
}

// applyAlertRules applies the rules of key in cfg if they are not those in
// force.
func applyAlertRules(cfg *Config, key func() string, apply func([]alerts.Rule) error, current func() []alerts.Rule, log *slog.Logger) {
	rules := cfg.AlertRules(key())
	if slices.EqualFunc(rules, current(), ruleEqual) {
		return
	}
	if err := apply(rules); err != nil {
		log.Warn("the alert rules in config.json were not applied", "err", err)
		return
	}
	log.Info("alert rules changed", "server", key(), "rules", len(rules))
}

// watchConfig tells changed with config.json each time it changes and
// loads (every second: an edit by the CLI, by hand, or by this process). A
// file that does not load (a half-done hand edit) is reported once, and
// changed is not told. It returns when ctx ends.
func watchConfig(ctx context.Context, dir string, every time.Duration, log *slog.Logger, changed func(*Config)) {
	path := filepath.Join(dir, "config.json")
	// The file is small: reading it is the surest way to see a change
	// (an atomic rename can keep the size and the modification time).
	read := func() string {
		f, err := os.Open(path)
		if err != nil {
			return ""
		}
		defer f.Close()
		b, _ := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
		return string(b)
	}
	// The first look compares with the rules in force, not with the file
	// as it was when this started: an edit made between the caller's
	// load and this goroutine's first read would otherwise go unseen (a
	// test caught it on a loaded machine).
	last, reported := "", ""
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := read()
		if now == last {
			continue
		}
		last = now
		cfg, err := LoadConfig(dir)
		if err != nil {
			if msg := err.Error(); msg != reported {
				reported = msg
				log.Warn("config.json changed but does not load; the settings in force stay", "err", err)
			}
			continue
		}
		reported = ""
		changed(cfg)
	}
}

func ruleEqual(a, b alerts.Rule) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
