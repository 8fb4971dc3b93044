// Command loadtest measures the relay under load the way users load it: it
// runs the fake OpenScanner server in-process, starts a real `earshot relay`
// process against it, opens N local WebSocket consumers and drives the
// server at R calls per second. It reports event delivery latency (from the
// server accepting a call to each consumer receiving it), drops, and the
// relay process's RSS and CPU.
//
// Run it under a Secret Service (the relay keeps its stream-token key in the
// keyring):
//
//	build/with-keyring.sh go run ./build/loadtest -consumers 1000 -rate 20 -duration 60s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"earshot/build/internal/relayproc"
	"earshot/relay/backend/backendtest"
)

func main() {
	var o options
	flag.IntVar(&o.consumers, "consumers", 1000, "WebSocket consumers to open")
	flag.Float64Var(&o.rate, "rate", 20, "calls per second the server broadcasts")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long to drive calls")
	flag.StringVar(&o.bin, "bin", "", "earshot binary to test (default: build one with -tags headless)")
	relayproc.Main("loadtest", func(ctx context.Context) (*report, error) { return run(ctx, o) })
}

type options struct {
	consumers int
	rate      float64
	duration  time.Duration
	bin       string
}

// report is what a run measured, with the targets.
type report struct {
	Consumers       int     `json:"consumers"`
	Rate            float64 `json:"callsPerSecond"`
	CallsSent       int     `json:"callsSent"`
	Deliveries      int64   `json:"deliveries"`
	Expected        int64   `json:"expected"`
	ConsumersShort  int     `json:"consumersMissingCalls"`
	ConsumersClosed int     `json:"consumersDisconnected"`
	P50ms           float64 `json:"p50ms"`
	P99ms           float64 `json:"p99ms"`
	MaxMs           float64 `json:"maxMs"`
	RelayRSSMB      float64 `json:"relayMaxRSSMB"`
	RelayCPUPercent float64 `json:"relayCPUPercent"`
	Pass            bool    `json:"pass"`
}

// Passed reports whether every target was met.
func (r report) Passed() bool { return r.Pass }

func (r report) Print(w io.Writer) {
	fmt.Fprintf(w, "consumers %d, %.1f calls/s, %d calls sent\n", r.Consumers, r.Rate, r.CallsSent)
	fmt.Fprintf(w, "deliveries %d of %d; consumers missing calls: %d; disconnected: %d\n", r.Deliveries, r.Expected, r.ConsumersShort, r.ConsumersClosed)
	fmt.Fprintf(w, "event delivery latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 ≤ 50 ms)\n", r.P50ms, r.P99ms, r.MaxMs)
	fmt.Fprintf(w, "relay process: max RSS %.1f MB (target ≤ 120 MB), CPU %.1f%% of one core\n", r.RelayRSSMB, r.RelayCPUPercent)
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintln(w, verdict)
}

func run(ctx context.Context, o options) (*report, error) {
	work, bin, err := relayproc.Workdir(ctx, "loadtest", o.bin)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	fake := backendtest.NewServer(backendtest.Options{PublicAccess: true, Logger: slog.New(slog.DiscardHandler)})
	defer fake.Close()
	fake.AddSystem(1, "Load County")
	for tg := int64(1); tg <= 10; tg++ {
		fake.AddTalkgroup(1, tg, "TG "+strconv.FormatInt(tg, 10), "Talkgroup "+strconv.FormatInt(tg, 10), "Load", "Test", "")
	}

	cfg, _ := json.Marshal(map[string]any{"server": fake.URL()})
	relay, err := relayproc.Launch(ctx, bin, work, cfg)
	if err != nil {
		return nil, err
	}
	defer relay.Stop()
	addr, token := relay.Addr, relay.Token

	// Consumers.
	var (
		sent       sync.Map // talker alias → time the server accepted the call
		mu         sync.Mutex
		latencies  = make([]time.Duration, 0, 1<<20)
		deliveries atomic.Int64
		closed     atomic.Int64
	)
	counts := make([]int, o.consumers)
	var ready, done sync.WaitGroup
	conns := make([]*websocket.Conn, o.consumers)
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	for i := range o.consumers {
		ready.Add(1)
		c, _, err := dialer.DialContext(ctx, "ws://"+addr+"/v1/live", hdr)
		if err != nil {
			return nil, fmt.Errorf("consumer %d: %w", i, err)
		}
		conns[i] = c
		done.Add(1)
		go func() {
			defer done.Done()
			first := true
			local := make([]time.Duration, 0, 4096)
			defer func() {
				mu.Lock()
				latencies = append(latencies, local...)
				mu.Unlock()
			}()
			for {
				_, data, err := c.ReadMessage()
				now := time.Now()
				if err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) && ce.Code != websocket.CloseNormalClosure {
						closed.Add(1)
					}
					if first {
						ready.Done()
					}
					return
				}
				if first {
					first = false
					ready.Done()
				}
				var e struct {
					Type string
					Call *struct{ TalkerAlias string }
				}
				if json.Unmarshal(data, &e) != nil || e.Type != "call.new" || e.Call == nil {
					continue
				}
				if t0, ok := sent.Load(e.Call.TalkerAlias); ok {
					local = append(local, now.Sub(t0.(time.Time)))
					counts[i]++
					deliveries.Add(1)
				}
			}
		}()
	}
	ready.Wait()

	// Sample the relay's RSS while driving calls.
	var maxRSS atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := int64(relayproc.StatusMB(relay.Pid, "VmRSS") * (1 << 20)); rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	cpu0 := relayproc.CPUSeconds(relay.Pid)
	start := time.Now()
	audio := backendtest.SynthWAV(1, 700, 8000)
	interval := time.Duration(float64(time.Second) / o.rate)
	tick := time.NewTicker(interval)
	n := 0
	for time.Since(start) < o.duration {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		n++
		alias := "load-" + strconv.Itoa(n)
		sent.Store(alias, time.Now())
		fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: int64(1 + n%10), DateTime: time.Now(), Audio: audio, AudioName: "call.wav", AudioType: "audio/wav", TalkerAlias: alias, Duration: 1})
	}
	tick.Stop()
	elapsed := time.Since(start)
	cpu1 := relayproc.CPUSeconds(relay.Pid)
	// Let the last events arrive, then stop the consumers.
	deadline := time.Now().Add(5 * time.Second)
	for deliveries.Load() < int64(n*o.consumers) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stopSampling()
	for _, c := range conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	}
	done.Wait()

	rep := &report{Consumers: o.consumers, Rate: o.rate, CallsSent: n, Deliveries: deliveries.Load(), Expected: int64(n * o.consumers), ConsumersClosed: int(closed.Load())}
	for _, c := range counts {
		if c < n {
			rep.ConsumersShort++
		}
	}
	slices.Sort(latencies)
	if len(latencies) > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		rep.P50ms = ms(latencies[len(latencies)/2])
		rep.P99ms = ms(latencies[len(latencies)*99/100])
		rep.MaxMs = ms(latencies[len(latencies)-1])
	}
	rep.RelayRSSMB = float64(maxRSS.Load()) / (1 << 20)
	rep.RelayCPUPercent = (cpu1 - cpu0) / elapsed.Seconds() * 100
	rep.Pass = rep.ConsumersShort == 0 && rep.ConsumersClosed == 0 && rep.P99ms <= 50 && rep.RelayRSSMB <= 120
	return rep, nil
}
