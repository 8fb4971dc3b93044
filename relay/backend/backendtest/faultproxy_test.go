package backendtest

import (
	"net/http"
	"testing"
	"time"
)

func TestFaultProxyForwardsResetsBlackholesAndSlows(t *testing.T) {
	s := newServer(t, Options{})
	get := func(p *FaultProxy, timeout time.Duration) (int, error) {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(p.URL() + "/api/v1/health")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, tc := range []struct {
		name string
		opts FaultOptions
		ok   bool
		took time.Duration // at least
		want func(FaultCounts) bool
	}{
		{"clean", FaultOptions{}, true, 0, func(c FaultCounts) bool { return c.Connections == 1 && c.Resets+c.Blackholes+c.Slowed == 0 }},
		{"reset", FaultOptions{Reset: 1}, false, 0, func(c FaultCounts) bool { return c.Resets == 1 }},
		{"blackhole", FaultOptions{Blackhole: 1, BlackholeFor: time.Second}, false, 300 * time.Millisecond,
			func(c FaultCounts) bool { return c.Blackholes == 1 }},
		{"slow", FaultOptions{Slow: 1, SlowBy: 100 * time.Millisecond}, true, 200 * time.Millisecond,
			func(c FaultCounts) bool { return c.Slowed == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewFaultProxy(s.URL()[len("http://"):], tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			began := time.Now()
			code, err := get(p, 300*time.Millisecond+tc.took)
			if took := time.Since(began); took < tc.took {
				t.Errorf("answered in %v, want at least %v", took, tc.took)
			}
			if ok := err == nil && code == 200; ok != tc.ok {
				t.Fatalf("request: %d, %v; want ok %v", code, err, tc.ok)
			}
			p.Close()
			if c := p.Counts(); !tc.want(c) {
				t.Fatalf("counts %+v", c)
			}
		})
	}
	s.Stop()
	p, _ := NewFaultProxy(s.URL()[len("http://"):], FaultOptions{})
	defer p.Close()
	if _, err := get(p, time.Second); err == nil || p.Counts().Refused != 1 {
		t.Fatalf("a stopped server: %v, counts %+v; want refused", err, p.Counts())
	}
}
