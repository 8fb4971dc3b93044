package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"earshot/relay/alerts"
)

// fakeAlerts keeps rules in memory, as the app keeps them in config.json.
type fakeAlerts struct {
	mu    sync.Mutex
	rules []alerts.Rule
}

func (f *fakeAlerts) Rules() (string, []alerts.Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "demo", f.rules
}

func (f *fakeAlerts) Add(_ context.Context, r alerts.Rule, replace bool) (alerts.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next, err := alerts.With(f.rules, r, replace)
	if err != nil {
		return alerts.Rule{}, err
	}
	f.rules = next
	return alerts.Normalize(r), nil
}

func (f *fakeAlerts) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next, err := alerts.Without(f.rules, name)
	if err == nil {
		f.rules = next
	}
	return err
}

func (f *fakeAlerts) Replace(_ context.Context, rules []alerts.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := alerts.ValidateRules(rules); err != nil {
		return err
	}
	f.rules = rules
	return nil
}

func newAlertServer(t *testing.T) (*fakeAlerts, *httptest.Server) {
	t.Helper()
	auth := newFakeAuth()
	auth.add(controlToken, Identity{TokenID: "ctl", Scope: ScopeControl})
	fa := &fakeAlerts{}
	_, _, _, ts := newTestServerOpts(t, Options{Auth: auth, Alerts: fa})
	return fa, ts
}

func TestAlerts_ControlPlaneAddsListsReplacesAndRemoves(t *testing.T) {
	fa, ts := newAlertServer(t)
	steps := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1/alerts", `{"name":"Fire / EMS","talkgroups":[101],"words":["Structure fire, mayday"],"tone":true}`, 201},
		{"POST", "/v1/alerts", `{"name":"fire / ems","talkgroups":[5]}`, 409},
		{"POST", "/v1/alerts", `{"name":"fire / ems","talkgroups":[5],"replace":true}`, 201},
		{"POST", "/v1/alerts", `{"name":"bad","regex":"(x"}`, 400},
		{"POST", "/v1/alerts", `{"name":"x","talkgroups":[1],"sound":"loud"}`, 400},
		{"POST", "/v1/alerts", `{"name":"x","talkgroups":[1]} {}`, 400},
		{"GET", "/v1/alerts", "", 200},
		{"DELETE", "/v1/alerts/" + url.PathEscape("nope"), "", 404},
		{"PUT", "/v1/alerts", `{"rules":[{"name":"a","systems":[1]},{"name":"A","systems":[2]}]}`, 400},
		{"PUT", "/v1/alerts", `{"rules":[{"name":"a","systems":[1]},{"name":"Fire / EMS","talkgroups":[7]}]}`, 200},
		{"DELETE", "/v1/alerts/" + url.PathEscape("Fire / EMS"), "", 204},
	}
	for _, st := range steps {
		resp := do(t, ts, st.method, st.path, st.body, ctlHeader)
		if resp.StatusCode != st.want {
			t.Fatalf("%s %s %s = %d, want %d", st.method, st.path, st.body, resp.StatusCode, st.want)
		}
		if st.want >= 400 {
			errorCode(t, resp)
		}
	}
	_, rules := fa.Rules()
	if len(rules) != 1 || rules[0].Name != "a" {
		t.Fatalf("rules at the end = %+v", rules)
	}
	var list AlertsResponse
	if err := json.NewDecoder(do(t, ts, "GET", "/v1/alerts", "", ctlHeader).Body).Decode(&list); err != nil || list.Server != "demo" || len(list.Rules) != 1 {
		t.Fatalf("GET /v1/alerts = %+v, %v", list, err)
	}
}

func TestAlerts_NeedAControlTokenInTheHeader(t *testing.T) {
	_, ts := newAlertServer(t)
	for _, tc := range []struct {
		name string
		path string
		hdr  map[string]string
		want int
	}{
		{"listen token", "/v1/alerts", map[string]string{"Authorization": "Bearer " + goodToken}, 403},
		{"no token", "/v1/alerts", nil, 401},
		{"token in the URL", "/v1/alerts?token=" + controlToken, nil, 400},
		{"from a web page", "/v1/alerts", map[string]string{"Authorization": "Bearer " + controlToken, "Origin": "http://evil.example"}, 403},
	} {
		if resp := get(t, ts, tc.path, tc.hdr); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// FuzzAlertBody sends any body to POST /v1/alerts: the answer is a JSON
// status (201, 400, 409 or 415), never a 500, and only a valid rule is
// stored.
func FuzzAlertBody(f *testing.F) {
	f.Add([]byte(`{"name":"Mayday","words":["mayday"],"talkgroups":[101],"priority":true}`))
	f.Add([]byte(`{"name":"re","regex":"engine \\d{1,3}","replace":true}`))
	f.Add([]byte(`{"name":"","systems":[-1]}`))
	f.Add([]byte("\x00"))
	auth := newFakeAuth()
	auth.add(controlToken, Identity{TokenID: "ctl", Scope: ScopeControl})
	fa := &fakeAlerts{}
	s, err := New(Options{Source: newFakeSource(f), Auth: auth, Alerts: fa})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/alerts", bytes.NewReader(body))
		req.Host = "127.0.0.1"
		req.Header.Set("Authorization", "Bearer "+controlToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch rec.Code {
		case 201, 400, 409, 413:
		default:
			t.Fatalf("POST /v1/alerts %q = %d %s", body, rec.Code, rec.Body)
		}
		if err := alerts.ValidateRules(func() []alerts.Rule { _, r := fa.Rules(); return r }()); err != nil {
			t.Fatalf("an invalid rule was stored: %v", err)
		}
	})
}
