// Package demo runs Earshot's built-in demo: an in-process OpenScanner
// server (backendtest) with public access that makes up radio traffic on a
// few talkgroups, so a new user hears something before configuring an
// account.
//
// It owns only the made-up traffic; the server itself is the test fake.
package demo

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"earshot/relay/backend/backendtest"
)

// Options tune the demo; the zero value is what users get.
type Options struct {
	// MinGap and MaxGap bound the time between calls; 0 means 2 s and 6 s.
	MinGap, MaxGap time.Duration
	// History is how many calls exist before the first live one; 0 means 10.
	History int
}

type talkgroup struct {
	system                       int64
	id                           int64
	label, name, group, tag, led string
	tone                         float64
	transcripts                  []string
}

var talkgroups = []talkgroup{
	{1, 101, "Fire Dispatch", "County Fire Dispatch", "Fire", "Dispatch", "#ff3b30", 620, []string{"Engine 5, respond to a reported structure fire, 1200 Oak Street.", "Medic 2 en route."}},
	{1, 102, "Fire Tac 2", "Fireground Tactical 2", "Fire", "Tactical", "#ff9500", 700, []string{"Command, interior crew is going in on side Alpha."}},
	{1, 201, "EMS Ops", "EMS Operations", "EMS", "Operations", "#34c759", 540, []string{"Medic 7 transporting one to General, ETA ten minutes."}},
	{2, 301, "PD North", "Police North District", "Law", "Dispatch", "#007aff", 480, []string{"Unit 12, traffic stop on Route 9 at mile marker 14."}},
	{2, 302, "PD South", "Police South District", "Law", "Dispatch", "#5856d6", 450, []string{"Unit 31, copy, show me clear."}},
	{2, 901, "Public Works", "Public Works / Roads", "Services", "Public Works", "#ffcc00", 760, []string{"Plow 4 starting the north loop."}},
}

// Start starts the demo server and its traffic; both stop when ctx ends.
func Start(ctx context.Context, logger *slog.Logger) (*backendtest.Server, error) {
	return StartWith(ctx, logger, Options{})
}

// StartWith is Start with options (tests use a faster pace).
func StartWith(ctx context.Context, logger *slog.Logger, opts Options) (*backendtest.Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinGap <= 0 {
		opts.MinGap = 2 * time.Second
	}
	if opts.MaxGap < opts.MinGap {
		opts.MaxGap = max(opts.MinGap, 6*time.Second)
	}
	if opts.History == 0 {
		opts.History = 10
	}
	srv := backendtest.NewServer(backendtest.Options{PublicAccess: true, Logger: logger})
	srv.AddSystem(1, "Harness County Fire & EMS")
	srv.AddSystem(2, "Harness County Law & Services")
	for _, tg := range talkgroups {
		srv.AddTalkgroup(tg.system, tg.id, tg.label, tg.name, tg.group, tg.tag, tg.led)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	now := time.Now()
	for i := opts.History; i > 0; i-- {
		addCall(srv, rng, now.Add(-time.Duration(i)*20*time.Second))
	}
	go func() {
		defer srv.Close()
		for {
			gap := opts.MinGap + time.Duration(rng.Int64N(int64(opts.MaxGap-opts.MinGap)+1))
			select {
			case <-ctx.Done():
				return
			case <-time.After(gap):
			}
			addCall(srv, rng, time.Now())
		}
	}()
	return srv, nil
}

func addCall(srv *backendtest.Server, rng *rand.Rand, at time.Time) {
	tg := talkgroups[rng.IntN(len(talkgroups))]
	seconds := 1 + rng.Float64()*3
	id := srv.AddCall(backendtest.CallSpec{
		SystemID: tg.system, TalkgroupID: tg.id, DateTime: at,
		Audio:     backendtest.SynthWAV(seconds, tg.tone, 16000),
		AudioName: "call.wav", AudioType: "application/octet-stream",
		Frequency: 851_000_000 + tg.id*12_500, Duration: seconds,
		Source: 1000 + rng.Int64N(9000),
	})
	if rng.IntN(3) == 0 {
		srv.SetTranscript(id, tg.transcripts[rng.IntN(len(tg.transcripts))])
	}
}
