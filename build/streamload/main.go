// Command streamload measures the continuous stream (/v1/stream.mp3) the
// way users load it: it runs the fake OpenScanner server in-process, starts
// a real `earshot relay` process against it, and plays calls to stream
// listeners — first one, then many on the same stream — reporting for each
// phase the relay's CPU and memory, the encoders (ffmpeg) it runs and their
// CPU, and the time from the server accepting a call to the first frame of
// that call's sound reaching a listener.
//
// Run it under a Secret Service (the relay keeps its stream-token key in the
// keyring):
//
//	build/with-keyring.sh go run ./build/streamload -listeners 100 -duration 60s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/go-mp3"

	"earshot/build/internal/relayproc"
	"earshot/relay/audio/audiotest"
	"earshot/relay/backend/backendtest"
	"earshot/relay/stream"
)

func main() {
	var o options
	flag.IntVar(&o.listeners, "listeners", 100, "stream listeners in the second phase (the first has one)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long each phase plays calls")
	flag.DurationVar(&o.every, "every", 3*time.Second, "time between calls (each is 1.5 s of audio)")
	flag.StringVar(&o.bin, "bin", "", "earshot binary to test (default: build one with -tags headless)")
	relayproc.Main("streamload", func(ctx context.Context) (*report, error) { return run(ctx, o) })
}

type options struct {
	listeners int
	duration  time.Duration
	every     time.Duration
	bin       string
}

// phase is what one phase (a number of listeners) measured.
type phase struct {
	Listeners     int     `json:"listeners"`
	Calls         int     `json:"calls"`
	Encoders      int     `json:"encoders"`
	RelayCPU      float64 `json:"relayCpuPercent"`
	EncoderCPU    float64 `json:"encoderCpuPercent"`
	RelayMaxRSSMB float64 `json:"relayMaxRssMB"`
	Dropped       int     `json:"listenersDropped"`
	// MinKBps is the slowest listener's rate: about 8 KB/s (64 kbit/s)
	// when none stalled.
	MinKBps float64 `json:"slowestListenerKBps"`
	// Latency from the server accepting a call to the first frame of its
	// sound arriving at a listener, over the measured listeners.
	P50ms float64 `json:"p50ms"`
	MaxMs float64 `json:"maxMs"`
	Heard int     `json:"callsHeard"`
}

type report struct {
	Phases []phase `json:"phases"`
	Pass   bool    `json:"pass"`
}

// Passed reports whether every target was met.
func (r report) Passed() bool { return r.Pass }

func (r report) Print(w io.Writer) {
	for _, p := range r.Phases {
		fmt.Fprintf(w, "%d listener(s), %d calls: %d encoder(s); relay CPU %.2f%%, encoder CPU %.2f%% of one core; relay max RSS %.1f MB\n",
			p.Listeners, p.Calls, p.Encoders, p.RelayCPU, p.EncoderCPU, p.RelayMaxRSSMB)
		fmt.Fprintf(w, "  call accepted → its first sound at a listener: median %.0f ms, max %.0f ms (%d calls heard; target ≤ 500 ms)\n",
			p.P50ms, p.MaxMs, p.Heard)
		fmt.Fprintf(w, "  listeners dropped: %d; slowest listener %.1f KB/s\n", p.Dropped, p.MinKBps)
	}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintln(w, verdict, "(one encoder for any number of listeners of a stream, latency ≤ 500 ms, relay RSS ≤ 120 MB, no listener dropped)")
}

func run(ctx context.Context, o options) (*report, error) {
	work, bin, err := relayproc.Workdir(ctx, "streamload", o.bin)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	fake := backendtest.NewServer(backendtest.Options{PublicAccess: true, Logger: slog.New(slog.DiscardHandler)})
	defer fake.Close()
	fake.AddSystem(1, "Load County")
	fake.AddTalkgroup(1, 1, "Dispatch", "County Dispatch", "Load", "Test", "")

	cfg, _ := json.Marshal(map[string]any{"server": fake.URL()})
	relay, err := relayproc.Launch(ctx, bin, work, cfg)
	if err != nil {
		return nil, err
	}
	defer relay.Stop()
	addr, token := relay.Addr, relay.Token

	rep := &report{Pass: true}
	for _, n := range []int{1, o.listeners} {
		p, err := runPhase(ctx, o, fake, relay.Pid, addr, token, n)
		if err != nil {
			return nil, err
		}
		rep.Phases = append(rep.Phases, *p)
		if p.Encoders != 1 || p.MaxMs > 500 || p.Heard < p.Calls-1 || p.RelayMaxRSSMB > 120 || p.Dropped > 0 {
			rep.Pass = false
		}
		// Let the stream's last listener leave, and its encoder stop.
		time.Sleep(2 * time.Second)
	}
	return rep, nil
}

// measured is how many listeners of a phase time the calls (decoding the
// stream costs this tool CPU; the rest only read it).
const measured = 4

// listener reads the stream; a measured one keeps each frame's arrival.
type listener struct {
	resp     *http.Response
	measure  bool
	data     []byte
	arrivals []time.Time // per frame, for a measured listener
	bytes    atomic.Int64
	err      error
}

func (l *listener) read(stop <-chan struct{}) {
	buf := make([]byte, 16<<10)
	var pending []byte // bytes of a frame not yet whole
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := l.resp.Body.Read(buf)
		now := time.Now()
		l.bytes.Add(int64(n))
		if l.measure && n > 0 {
			l.data = append(l.data, buf[:n]...)
			pending = append(pending, buf[:n]...)
			for len(pending) >= 4 {
				size := frameSize(pending)
				if size == 0 || len(pending) < size {
					break
				}
				l.arrivals = append(l.arrivals, now)
				pending = pending[size:]
			}
		}
		if err != nil {
			l.err = err
			return
		}
	}
}

// frameSize is the size of the stream's MP3 frame at the start of b
// (MPEG-1 Layer III, 64 kbit/s, 44.1 kHz: 208 bytes, 209 padded), 0 if b
// does not start with one.
func frameSize(b []byte) int {
	if b[0] != 0xFF || b[1] != 0xFB {
		return 0
	}
	return 208 + int(b[2]>>1&1)
}

func runPhase(ctx context.Context, o options, fake *backendtest.Server, pid int, addr, token string, n int) (*phase, error) {
	u := "http://" + addr + "/v1/stream.mp3"
	ls := make([]*listener, n)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	for i := range ls {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("listener %d: %w", i, err)
		}
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, fmt.Errorf("listener %d: %d %s", i, resp.StatusCode, b)
		}
		ls[i] = &listener{resp: resp, measure: i < measured}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { l.read(stop) })
	}
	time.Sleep(time.Second) // every listener past its burst

	var maxRSS atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := int64(relayproc.StatusMB(pid, "VmRSS") * (1 << 20)); rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	encoders := childFFmpegs(pid)
	cpu0, enc0 := relayproc.CPUSeconds(pid), cpuOf(encoders)
	bytes0 := make([]int64, n)
	for i, l := range ls {
		bytes0[i] = l.bytes.Load()
	}
	start := time.Now()
	audio := backendtest.SynthWAV(1.5, 440, 8000)
	var sent []time.Time
	tick := time.NewTicker(o.every)
	for time.Since(start) < o.duration {
		select {
		case <-ctx.Done():
			close(stop)
			wg.Wait()
			return nil, ctx.Err()
		case <-tick.C:
		}
		sent = append(sent, time.Now())
		fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 1, Audio: audio, AudioName: "call.wav", AudioType: "audio/wav", Duration: 1.5})
	}
	tick.Stop()
	time.Sleep(o.every) // the last call plays out
	elapsed := time.Since(start)
	p := &phase{Listeners: n, Calls: len(sent), Encoders: len(childFFmpegs(pid))}
	p.RelayCPU = (relayproc.CPUSeconds(pid) - cpu0) / elapsed.Seconds() * 100
	p.EncoderCPU = (cpuOf(encoders) - enc0) / elapsed.Seconds() * 100
	stopSampling()
	sampler.Wait()
	p.RelayMaxRSSMB = float64(maxRSS.Load()) / (1 << 20)
	p.MinKBps = -1
	for i, l := range ls {
		kbps := float64(l.bytes.Load()-bytes0[i]) / elapsed.Seconds() / 1000
		if p.MinKBps < 0 || kbps < p.MinKBps {
			p.MinKBps = kbps
		}
	}
	close(stop)
	for _, l := range ls {
		l.resp.Body.Close()
	}
	wg.Wait()
	for _, l := range ls {
		if l.err != nil && !errors.Is(l.err, http.ErrBodyReadAfterClose) && !strings.Contains(l.err.Error(), "closed") {
			p.Dropped++
		}
	}
	var lat []time.Duration
	for _, l := range ls[:min(measured, n)] {
		d, heard, err := latencies(l, sent)
		if err != nil {
			return nil, err
		}
		lat = append(lat, d...)
		p.Heard = heard
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		p.P50ms = float64(lat[len(lat)/2].Microseconds()) / 1000
		p.MaxMs = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	return p, nil
}

// latencies decodes what a measured listener received, finds where each
// call's sound starts, and returns how long after its call was sent the
// first frame of that sound arrived.
func latencies(l *listener, sent []time.Time) ([]time.Duration, int, error) {
	d, err := mp3.NewDecoder(bytes.NewReader(l.data))
	if err != nil {
		return nil, 0, fmt.Errorf("the stream is not MP3: %w", err)
	}
	raw, err := io.ReadAll(d)
	if err != nil {
		return nil, 0, fmt.Errorf("decoding the stream: %w", err)
	}
	stereo := audiotest.Samples(raw)
	mono := make([]int16, len(stereo)/2)
	for i := range mono {
		mono[i] = stereo[2*i]
	}
	const decoderDelay = 529 // go-mp3's output lags its frames
	var out []time.Duration
	heard := 0
	for _, s := range audiotest.Sounds(audiotest.Segments(mono[min(decoderDelay, len(mono)):], stream.SampleRate, 1152)) {
		if s.From >= len(l.arrivals) {
			break
		}
		at := l.arrivals[s.From]
		// The call it belongs to: the last one sent before its sound came.
		i, _ := slices.BinarySearchFunc(sent, at, func(a, b time.Time) int { return a.Compare(b) })
		if i == 0 {
			continue // sound from before the phase (none is expected)
		}
		out = append(out, at.Sub(sent[i-1]))
		heard++
	}
	return out, heard, nil
}

// childFFmpegs returns the pids of the relay's ffmpeg children.
func childFFmpegs(ppid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 1 && s[open+1:end] == "ffmpeg" && f[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			out = append(out, pid)
		}
	}
	return out
}

func cpuOf(pids []int) float64 {
	var sum float64
	for _, p := range pids {
		sum += relayproc.CPUSeconds(p)
	}
	return sum
}
