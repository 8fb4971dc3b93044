package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/alerts"
	"earshot/relay/server"
)

// alertCmd runs `earshot alert …` and returns stdout, stderr and the exit
// code.
func alertCmd(env *Env, args ...string) (stdout, stderr string, code int) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	e := *env
	e.Stdout, e.Stderr = out, errOut
	code = Run(context.Background(), &e, append([]string{"alert"}, args...))
	return out.String(), errOut.String(), code
}

func mustAlert(t *testing.T, env *Env, args ...string) string {
	t.Helper()
	out, errOut, code := alertCmd(env, args...)
	if code != ExitOK {
		t.Fatalf("earshot alert %v: exit %d: %s%s", args, code, out, errOut)
	}
	return out
}

func listAlerts(t *testing.T, env *Env) server.AlertsResponse {
	t.Helper()
	var list server.AlertsResponse
	if err := json.Unmarshal([]byte(mustAlert(t, env, "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func TestAlert_CommandsWithoutARunningRelayEditTheConfiguration(t *testing.T) {
	env, _, _ := testEnv(t, "")
	out := mustAlert(t, env, "add", "--name", "Mayday", "--words", "mayday,  structure fire ,", "--talkgroup", "101", "--talkgroup", "102,103", "--tone", "--priority")
	if !strings.Contains(out, `"mayday" or "structure fire"`) || !strings.Contains(out, "talkgroup 101,102,103") || !strings.Contains(out, "priority, tone") {
		t.Fatalf("add said %q", out)
	}
	mustAlert(t, env, "add", "--name", "Engines", "--regex", `engine \d+`, "--system", "1", "--bump")
	list := listAlerts(t, env)
	if list.Server != DemoServerKey || len(list.Rules) != 2 {
		t.Fatalf("list = %+v, want two rules for the demo server (no account is configured)", list)
	}
	if r := list.Rules[0]; r.Name != "Mayday" || len(r.Words) != 2 || len(r.Talkgroups) != 3 || !r.Tone || !r.Priority || r.Bump {
		t.Fatalf("first rule = %+v", r)
	}
	cfg, err := LoadConfig(env.ConfigDir)
	if err != nil || len(cfg.AlertRules(DemoServerKey)) != 2 {
		t.Fatalf("config.json holds %+v (%v)", cfg, err)
	}
	table := mustAlert(t, env, "list")
	for _, want := range []string{"Alert rules for the built-in demo server", "NAME", "Mayday", `"mayday", "structure fire"`, "/engine \\d+/", "bump"} {
		if !strings.Contains(table, want) {
			t.Errorf("list lacks %q:\n%s", want, table)
		}
	}
	mustAlert(t, env, "remove", "mayday") // names are matched ignoring case
	if list := listAlerts(t, env); len(list.Rules) != 1 || list.Rules[0].Name != "Engines" {
		t.Fatalf("after remove: %+v", list)
	}

	// Rules belong to the server: with an account configured, the demo's
	// rules stay with the demo.
	if err := UpdateConfig(context.Background(), env.ConfigDir, func(c *Config) error {
		c.Server = "https://scanner.example.org"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if list := listAlerts(t, env); list.Server != "https://scanner.example.org" || len(list.Rules) != 0 {
		t.Fatalf("the configured server's rules = %+v, want none", list)
	}
}

func TestAlert_UsageErrorsExitTwoAndSayWhy(t *testing.T) {
	env, _, _ := testEnv(t, "")
	mustAlert(t, env, "add", "--name", "Fire", "--talkgroup", "101")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "add, list or remove"},
		{[]string{"mute"}, "unknown action"},
		{[]string{"add", "--talkgroup", "1"}, "needs a name"},
		{[]string{"add", "--name", "All"}, "matches every call"},
		{[]string{"add", "--name", "X", "--talkgroup", "abc"}, "not a positive id"},
		{[]string{"add", "--name", "X", "--system", "0"}, "not a positive id"},
		{[]string{"add", "--name", "X", "--words", " , "}, "holds no word"},
		{[]string{"add", "--name", "X", "--regex", "(a"}, "does not parse"},
		{[]string{"add", "--name", "X", "--regex", ".*"}, "empty transcript"},
		{[]string{"add", "--name", "fire", "--talkgroup", "2"}, "exists"},
		{[]string{"remove"}, "give the rule's name"},
		{[]string{"remove", "nope"}, "no alert rule"},
		{[]string{"list", "extra"}, "unexpected argument"},
	} {
		out, errOut, code := alertCmd(env, tc.args...)
		if code != ExitUsage || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("earshot alert %q: exit %d, %q; want exit 2 saying %q", tc.args, code, out+errOut, tc.want)
		}
	}
	if _, _, code := alertCmd(env, "add", "--name", "FIRE", "--talkgroup", "2", "--replace"); code != ExitOK {
		t.Fatalf("--replace: exit %d", code)
	}
	if list := listAlerts(t, env); len(list.Rules) != 1 || list.Rules[0].Talkgroups[0] != 2 {
		t.Fatalf("after --replace: %+v", list)
	}
}

// nextAlert reads the live feed until a call.alert of the rule arrives.
func nextAlert(t *testing.T, c *websocket.Conn, rule string) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a hang guard: demo calls come every 2-6 s
	for {
		var e map[string]any
		if err := c.ReadJSON(&e); err != nil {
			t.Fatalf("no call.alert for %q: %v", rule, err)
		}
		if e["type"] == "call.alert" && e["rule"] == rule {
			return e
		}
	}
}

func TestAlert_ARunningRelayAppliesRuleChangesAtOnce(t *testing.T) {
	env, out, _ := testEnv(t, "")
	token, base := runRelay(t, env, out, "--demo")
	ws := "ws" + strings.TrimPrefix(base, "http") + "/v1/live?token=" + token

	// Through the control plane: the demo's systems are 1 and 2, so this
	// rule matches every call.
	add := mustAlert(t, env, "add", "--name", "county", "--system", "1,2", "--tone")
	if !strings.Contains(add, `"county" added`) {
		t.Fatalf("add said %q", add)
	}
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := nextAlert(t, c, "county")
	if id, ok := e["callId"].(float64); !ok || id <= 0 || e["tone"] != true {
		t.Fatalf("alert = %v", e)
	}
	// The held call remembers it.
	resp, body := getWithToken(t, fmt.Sprintf("%s/v1/calls/%d", base, int64(e["callId"].(float64))), token)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"rule":"county"`) {
		t.Fatalf("the alerted call = %d %s", resp.StatusCode, body)
	}
	// Mistakes come back from the relay as usage errors too.
	if _, errOut, code := alertCmd(env, "add", "--name", "County", "--talkgroup", "5"); code != ExitUsage || !strings.Contains(errOut, "exists") {
		t.Fatalf("a taken name through the relay: exit %d %q", code, errOut)
	}

	// An edit of config.json the relay did not make (a hand edit, a CLI
	// that did not reach it) applies within a second or so.
	if err := UpdateConfig(context.Background(), env.ConfigDir, func(c *Config) error {
		c.ServerSettings(DemoServerKey).Alerts = []alerts.Rule{{Name: "by hand", Systems: []int64{1, 2}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nextAlert(t, c, "by hand")
	if list := listAlerts(t, env); len(list.Rules) != 1 || list.Rules[0].Name != "by hand" {
		t.Fatalf("list through the relay = %+v", list)
	}
	mustAlert(t, env, "remove", "by hand")
	if cfg, err := LoadConfig(env.ConfigDir); err != nil || len(cfg.AlertRules(DemoServerKey)) != 0 {
		t.Fatalf("after remove through the relay, config.json holds %+v (%v)", cfg.AlertRules(DemoServerKey), err)
	}
}

func TestUpdateConfig_ConcurrentWritersLoseNothing(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			errs <- UpdateConfig(context.Background(), dir, func(c *Config) error {
				var err error
				c.ServerSettings(DemoServerKey).Alerts, err = alerts.With(c.AlertRules(DemoServerKey),
					alerts.Rule{Name: fmt.Sprintf("rule %d", i), Talkgroups: []int64{int64(i + 1)}}, false)
				return err
			})
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := LoadConfig(dir)
	if err != nil || len(cfg.AlertRules(DemoServerKey)) != 20 {
		t.Fatalf("%d rules after 20 concurrent adds (%v)", len(cfg.AlertRules(DemoServerKey)), err)
	}
}

func TestConfig_ListeningSettingsAreValidated(t *testing.T) {
	good := `{"quietHours":{"enabled":true,"days":{"mon":["22:00-07:00"]},"allowAlerts":true},"levelling":false,"onInterrupt":"drop",
		"servers":{"demo":{"priority":[{"system":1,"talkgroup":101}],"volume":[{"system":1,"talkgroup":102,"db":-6}]}}}`
	c, err := ParseConfig([]byte(good), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.LevellingOn() || c.OnInterrupt.String() != "drop" || c.ServerSettings(DemoServerKey).Volume.Of(1, 102) != -6 {
		t.Fatalf("parsed %+v", c)
	}
	if c, _ := ParseConfig([]byte(`{}`), "config.json"); !c.LevellingOn() {
		t.Fatal("levelling is not on by default")
	}
	for _, bad := range []string{
		`{"quietHours":{"enabled":true,"days":{"mon":["22:00"]}}}`,
		`{"onInterrupt":"skip"}`,
		`{"servers":{"demo":{"priority":[{"system":0,"talkgroup":1}]}}}`,
		`{"servers":{"demo":{"volume":[{"system":1,"talkgroup":1,"db":12}]}}}`,
		`{"servers":{"demo":{"alerts":[{"name":"all"}]}}}`,
		`{"servers":{"not a url":{}}}`,
	} {
		if _, err := ParseConfig([]byte(bad), "config.json"); err == nil {
			t.Errorf("ParseConfig(%s) accepted it", bad)
		}
	}
}

func TestWatchAlertRules_KeepsTheRulesWhileTheFileIsBroken(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var applied [][]alerts.Rule
	current := func() []alerts.Rule {
		mu.Lock()
		defer mu.Unlock()
		if len(applied) == 0 {
			return nil
		}
		return applied[len(applied)-1]
	}
	apply := func(r []alerts.Rule) error {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, r)
		return nil
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchAlertRules(ctx, dir, func() string { return DemoServerKey }, apply, current, newLogger(logs, false), 10*time.Millisecond)
	}()
	defer func() { cancel(); <-done }()
	write := func(data string) {
		t.Helper()
		if err := writeFileAtomic(filepath.Join(dir, "config.json"), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"servers":{"demo":{"alerts":[{"name":"a","talkgroups":[1]}]}}}`)
	waitFor(t, "the first rules", func() bool { r := current(); return len(r) == 1 && r[0].Name == "a" })
	write(`{"servers":{"demo":{"alerts":[{"name":"all"}]}}}`) // invalid: matches every call
	waitFor(t, "the warning", func() bool { return strings.Contains(logs.String(), "does not load") })
	if r := current(); len(r) != 1 || r[0].Name != "a" {
		t.Fatalf("a broken file changed the rules to %+v", r)
	}
	write(`{"servers":{"demo":{"alerts":[{"name":"b","systems":[2]}]},"https://other.example":{"alerts":[{"name":"x","systems":[9]}]}}}`)
	waitFor(t, "the fixed rules", func() bool { r := current(); return len(r) == 1 && r[0].Name == "b" })
	mu.Lock()
	n := len(applied)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("rules applied %d times, want 2 (a, then b)", n)
	}
}
