package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvalidToken measures how the relay handles requests with
// invalid tokens (a misconfigured or hostile local program): every one must
// get 401 or 429. It reports the median handling time (target ≤ 50 µs).
func BenchmarkInvalidToken(b *testing.B) {
	s, err := New(Options{Source: newFakeSource(b), Auth: newFakeAuth()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/v1/calls?token=invalid-"+strconv.Itoa(i), nil)
		req.Host = "127.0.0.1:7373"
		req.RemoteAddr = "127.0.0.1:" + strconv.Itoa(40000+i%20000)
		w := httptest.NewRecorder()
		start := time.Now()
		s.ServeHTTP(w, req)
		durs = append(durs, time.Since(start))
		if w.Code != 401 && w.Code != 429 {
			b.Fatalf("invalid token answered %d", w.Code)
		}
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "median-ns")
}

// TestInvalidTokenFloodLeavesNoGoroutines sends 10,000 requests with
// invalid tokens over real loopback connections: all get 401 or 429, and
// the relay holds no more goroutines afterwards than before.
func TestInvalidTokenFloodLeavesNoGoroutines(t *testing.T) {
	s, _, _, _ := newTestServerOpts(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ln := listenLoopback(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	base := "http://" + ln.Addr().String()
	// Warm up so the baseline includes the server's steady-state goroutines.
	if resp, err := client.Get(base + "/v1/health"); err == nil {
		resp.Body.Close()
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 10_000; i++ {
		resp, err := client.Get(base + "/v1/calls?token=bad" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 429 {
			t.Fatalf("request %d = %d, want 401 or 429", i, resp.StatusCode)
		}
	}
	client.CloseIdleConnections()
	// Connection goroutines end asynchronously after the client closes.
	var after int
	for range 100 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("goroutines grew from %d to %d after the flood", before, after)
}

// BenchmarkCachedAudioVsFileServer serves one cached 2 MiB file through the
// relay's audio route and through http.FileServer on the same machine, in
// one run, and reports the relay's throughput as a fraction of the file
// server's (target ≥ 0.8).
func BenchmarkCachedAudioVsFileServer(b *testing.B) {
	const size = 2 << 20
	src := newFakeSource(b)
	data := wavFile(size)
	if _, err := src.cache.Put("1", data); err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Source: src, Auth: newFakeAuth()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	relaySrv := httptest.NewServer(s)
	defer relaySrv.Close()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "call.wav"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	fileSrv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer fileSrv.Close()

	fetch := func(client *http.Client, url string) time.Duration {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != size {
			b.Fatalf("%s: %d, %d bytes", url, resp.StatusCode, n)
		}
		return time.Since(start)
	}
	relayURL := relaySrv.URL + "/v1/calls/1/audio?token=" + goodToken
	fileURL := fileSrv.URL + "/call.wav"
	var relayT, fileT []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate so both see the same machine conditions.
		relayT = append(relayT, fetch(relaySrv.Client(), relayURL))
		fileT = append(fileT, fetch(fileSrv.Client(), fileURL))
	}
	b.StopTimer()
	slices.Sort(relayT)
	slices.Sort(fileT)
	r, f := relayT[len(relayT)/2], fileT[len(fileT)/2]
	b.ReportMetric(float64(size)/r.Seconds()/(1<<20), "relay-MiB/s")
	b.ReportMetric(float64(size)/f.Seconds()/(1<<20), "fileserver-MiB/s")
	b.ReportMetric(f.Seconds()/r.Seconds(), "ratio")
}
