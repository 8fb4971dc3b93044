// Command soak runs a real headless `earshot relay --demo` for a long while
// with one local consumer that does what a player does — follow the live
// feed and download every call's audio — and reports the relay process's
// resident memory over time. The target: RSS ≤ 40 MB after
// 10 minutes of demo traffic.
//
// Run it under a Secret Service (the relay keeps its stream-token key in the
// keyring):
//
//	build/with-keyring.sh go run ./build/soak -duration 10m
//
// It exits 1 when the target is missed or the consumer lost calls.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"earshot/build/internal/relayproc"
)

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to run the demo traffic")
	flag.DurationVar(&o.every, "sample", 10*time.Second, "how often to sample the relay's memory")
	flag.StringVar(&o.bin, "bin", "", "earshot binary to test (default: build one with -tags headless)")
	flag.Float64Var(&o.targetMB, "target-mb", 40, "RSS target at the end, MiB")
	relayproc.Main("soak", func(ctx context.Context) (*report, error) { return run(ctx, o) })
}

type options struct {
	duration time.Duration
	every    time.Duration
	bin      string
	targetMB float64
}

// sample is the relay's memory at one moment of the run.
type sample struct {
	AtSeconds float64 `json:"atSeconds"`
	RSSMB     float64 `json:"rssMB"`
	AnonMB    float64 `json:"anonMB"`
}

type report struct {
	DurationSeconds float64  `json:"durationSeconds"`
	Calls           int64    `json:"calls"`
	AudioFetched    int64    `json:"audioFetched"`
	AudioBytes      int64    `json:"audioBytes"`
	AudioFailures   int64    `json:"audioFailures"`
	Samples         []sample `json:"samples"`
	FinalRSSMB      float64  `json:"finalRssMB"`
	MaxRSSMB        float64  `json:"maxRssMB"`
	CPUPercent      float64  `json:"cpuPercent"`
	TargetMB        float64  `json:"targetMB"`
	Pass            bool     `json:"pass"`
}

// Passed reports whether every target was met.
func (r *report) Passed() bool { return r.Pass }

func (r *report) Print(w io.Writer) {
	for _, s := range r.Samples {
		fmt.Fprintf(w, "  t=%5.0fs  rss %6.1f MB  (anonymous %5.1f MB)\n", s.AtSeconds, s.RSSMB, s.AnonMB)
	}
	fmt.Fprintf(w, "demo traffic for %.0f s: %d calls, %d audio downloads (%d bytes, %d failed)\n",
		r.DurationSeconds, r.Calls, r.AudioFetched, r.AudioBytes, r.AudioFailures)
	fmt.Fprintf(w, "relay RSS at the end %.1f MB (max %.1f MB, target ≤ %.0f MB), CPU %.2f %%\n",
		r.FinalRSSMB, r.MaxRSSMB, r.TargetMB, r.CPUPercent)
	if r.Pass {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func run(ctx context.Context, o options) (*report, error) {
	work, bin, err := relayproc.Workdir(ctx, "soak", o.bin)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	relay, err := relayproc.Launch(ctx, bin, work, nil, "--demo")
	if err != nil {
		return nil, err
	}
	defer relay.Stop()
	addr, token := relay.Addr, relay.Token

	rep := &report{TargetMB: o.targetMB}
	var calls, fetched, bytes, failures atomic.Int64
	c, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).DialContext(ctx, "ws://"+addr+"/v1/live",
		http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, fmt.Errorf("connect to the live feed: %w", err)
	}
	defer c.Close()
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		client := &http.Client{Timeout: 30 * time.Second}
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var e struct {
				Type string
				Call *struct{ AudioURL string }
			}
			if json.Unmarshal(data, &e) != nil || e.Type != "call.new" || e.Call == nil {
				continue
			}
			calls.Add(1)
			n, err := fetch(ctx, client, "http://"+addr+e.Call.AudioURL, token)
			if err != nil {
				failures.Add(1)
				fmt.Fprintln(os.Stderr, "soak: audio:", err)
				continue
			}
			fetched.Add(1)
			bytes.Add(n)
		}
	}()

	pid := relay.Pid
	cpu0 := relayproc.CPUSeconds(pid)
	start := time.Now()
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	for time.Since(start) < o.duration {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		s := sample{AtSeconds: time.Since(start).Seconds(), RSSMB: relayproc.StatusMB(pid, "VmRSS"), AnonMB: relayproc.StatusMB(pid, "RssAnon")}
		rep.Samples = append(rep.Samples, s)
		rep.MaxRSSMB = max(rep.MaxRSSMB, s.RSSMB)
	}
	elapsed := time.Since(start)
	rep.CPUPercent = (relayproc.CPUSeconds(pid) - cpu0) / elapsed.Seconds() * 100
	rep.FinalRSSMB = relayproc.StatusMB(pid, "VmRSS")
	rep.MaxRSSMB = max(rep.MaxRSSMB, rep.FinalRSSMB)
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.Close()
	<-consumerDone
	rep.DurationSeconds = elapsed.Seconds()
	rep.Calls, rep.AudioFetched, rep.AudioBytes, rep.AudioFailures = calls.Load(), fetched.Load(), bytes.Load(), failures.Load()
	rep.Pass = rep.FinalRSSMB <= o.targetMB && rep.Calls > 0 && rep.AudioFailures == 0
	return rep, nil
}

// fetch downloads one call's audio the way a player does and returns its size.
func fetch(ctx context.Context, client *http.Client, url, token string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("%s: %s", strings.TrimPrefix(url, "http://"), resp.Status)
	}
	return n, nil
}
