// Package demo runs Earshot's built-in demo: an in-process OpenScanner
// server (backendtest, playing a 1.3.3 server with public access) that
// makes up radio traffic on a few talkgroups of two systems, so a new user
// hears something before configuring an account.
//
// It owns only the made-up traffic: the systems and talkgroups, a seeded
// history, a call every few seconds with synthesized audio, and the odd
// late transcript. The server itself is the test fake; the demo must not
// reach outside the process or keep running after its context ends.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"earshot/relay/backend/backendtest"
)

// Options tune the demo; the zero value is what users get.
type Options struct {
	// MinGap and MaxGap bound the time between live calls; 0 means 2 s and
	// 6 s.
	MinGap, MaxGap time.Duration
	// History is how many calls exist before the first live one; 0 means
	// 10, a negative number none.
	History int
	// TranscriptEvery makes every Nth call (on average) get a transcript
	// a moment after it; 0 means 3.
	TranscriptEvery int
	// TranscriptDelay is how long after its call a transcript arrives;
	// 0 means 1.5 s.
	TranscriptDelay time.Duration
	// Seed fixes the random traffic (0: a new seed each run).
	Seed uint64
	// KeepCalls is how many of the newest calls the demo server keeps
	// (older ones are pruned, as a real server prunes): the server runs
	// inside the relay's process, so without a bound a demo left running
	// holds every call's audio. 0 means 100 (about 7 minutes of traffic;
	// the relay's own cache keeps the audio longer).
	KeepCalls int
}

type talkgroup struct {
	system                       int64
	id                           int64
	label, name, group, tag, led string
	voice                        float64 // the synthesized talker's pitch, Hz
	transcripts                  []string
}

type system struct {
	id         int64
	label, led string
}

// systems and talkgroups are functions, not package variables, so the
// package has no mutable state.
func systems() []system {
	return []system{
		{1, "Harness County Fire & EMS", "red"},
		{2, "Harness County Law & Services", "blue"},
	}
}

func talkgroups() []talkgroup {
	return []talkgroup{
		{1, 101, "Fire Dispatch", "County Fire Dispatch", "Fire", "Dispatch", "red", 150,
			[]string{"Engine 5, Truck 2, respond to a reported structure fire, 1200 Oak Street.", "Medic 2 en route to the station."}},
		{1, 102, "Fire Tac 2", "Fireground Tactical 2", "Fire", "Tactical", "orange", 120,
			[]string{"Command, interior crew is making entry on side Alpha.", "Primary search is negative."}},
		{1, 201, "EMS Ops", "EMS Operations", "EMS", "Operations", "green", 190,
			[]string{"Medic 7 transporting one to General, ETA ten minutes.", "Medic 3 available."}},
		{2, 301, "PD North", "Police North District", "Law", "Law Dispatch", "blue", 110,
			[]string{"Unit 12, traffic stop on Route 9 at mile marker 14.", "Unit 14, copy, en route."}},
		{2, 302, "PD South", "Police South District", "Law", "Law Dispatch", "cyan", 210,
			[]string{"Unit 31, show me clear.", "Unit 33, caller reports a loose dog near the school."}},
		{2, 901, "Public Works", "Public Works / Roads", "Services", "Public Works", "yellow", 135,
			[]string{"Plow 4 starting the north loop.", "Water crew on scene at Fifth and Main."}},
	}
}

// Start starts the demo server and its traffic; both stop when ctx ends.
// The server is public: the live feed and audio need no account.
func Start(ctx context.Context, logger *slog.Logger) (*backendtest.Server, error) {
	return StartWith(ctx, logger, Options{})
}

// StartWith is Start with options (tests use a faster pace).
func StartWith(ctx context.Context, logger *slog.Logger, opts Options) (*backendtest.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("demo: not started: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinGap <= 0 {
		opts.MinGap = 2 * time.Second
	}
	if opts.MaxGap <= 0 {
		opts.MaxGap = 6 * time.Second
	}
	opts.MaxGap = max(opts.MaxGap, opts.MinGap)
	switch {
	case opts.History == 0:
		opts.History = 10
	case opts.History < 0:
		opts.History = 0
	}
	if opts.TranscriptEvery <= 0 {
		opts.TranscriptEvery = 3
	}
	if opts.TranscriptDelay <= 0 {
		opts.TranscriptDelay = 1500 * time.Millisecond
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.KeepCalls <= 0 {
		opts.KeepCalls = 100
	}

	srv := backendtest.NewServer(backendtest.Options{PublicAccess: true, Logger: logger, KeepCalls: opts.KeepCalls})
	for _, sys := range systems() {
		srv.AddSystem(sys.id, sys.label)
		srv.SetSystemLED(sys.id, sys.led)
	}
	tgs := talkgroups()
	for _, tg := range tgs {
		srv.AddTalkgroup(tg.system, tg.id, tg.label, tg.name, tg.group, tg.tag, tg.led)
	}
	d := &traffic{srv: srv, rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed)), tgs: tgs, opts: opts, log: logger}
	now := time.Now()
	for i := opts.History; i > 0; i-- {
		at := now.Add(-time.Duration(i) * (opts.MinGap + opts.MaxGap) / 2)
		id, tg := d.call(at)
		if d.rng.IntN(opts.TranscriptEvery) == 0 {
			srv.SetTranscript(id, tg.transcripts[d.rng.IntN(len(tg.transcripts))])
		}
	}
	logger.Info("demo server started", "url", srv.URL(), "history", opts.History)
	go d.run(ctx)
	return srv, nil
}

// traffic makes up calls; only its run goroutine touches it after Start.
type traffic struct {
	srv  *backendtest.Server
	rng  *rand.Rand
	tgs  []talkgroup
	opts Options
	log  *slog.Logger
}

type pendingTranscript struct {
	due  time.Time
	id   int64
	text string
}

func (d *traffic) run(ctx context.Context) {
	defer func() {
		d.srv.Close()
		d.log.Info("demo server stopped")
	}()
	nextCall := time.Now().Add(d.gap())
	var pending []pendingTranscript
	timer := time.NewTimer(time.Until(nextCall))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(nextCall) {
			id, tg := d.call(now)
			if d.rng.IntN(d.opts.TranscriptEvery) == 0 {
				pending = append(pending, pendingTranscript{now.Add(d.opts.TranscriptDelay), id,
					tg.transcripts[d.rng.IntN(len(tg.transcripts))]})
			}
			nextCall = now.Add(d.gap())
		}
		next := nextCall
		kept := pending[:0]
		for _, p := range pending {
			if !now.Before(p.due) {
				d.srv.SetTranscript(p.id, p.text)
				continue
			}
			kept = append(kept, p)
			if p.due.Before(next) {
				next = p.due
			}
		}
		pending = kept
		timer.Reset(time.Until(next))
	}
}

func (d *traffic) gap() time.Duration {
	return d.opts.MinGap + time.Duration(d.rng.Int64N(int64(d.opts.MaxGap-d.opts.MinGap)+1))
}

// call adds one call at time at on a random talkgroup, with 1-4 s of
// synthesized radio audio.
func (d *traffic) call(at time.Time) (int64, talkgroup) {
	tg := d.tgs[d.rng.IntN(len(d.tgs))]
	seconds := 1 + d.rng.Float64()*3
	id := d.srv.AddCall(backendtest.CallSpec{
		SystemID: tg.system, TalkgroupID: tg.id, DateTime: at,
		Audio:     backendtest.SynthRadioWAV(seconds, tg.voice, 16000, d.rng.Uint64()),
		AudioName: fmt.Sprintf("%d-%d-%s.wav", tg.system, tg.id, at.UTC().Format("20060102150405")),
		AudioType: "application/octet-stream", // what recorders commonly declare
		Frequency: 851_000_000 + tg.id*12_500, Duration: float64(int(seconds*10)) / 10,
		Source: 1000 + d.rng.Int64N(9000),
	})
	return id, tg
}
