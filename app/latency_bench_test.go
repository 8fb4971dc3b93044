//go:build !headless

package app

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay"
	"earshot/relay/audio/audiotest"
	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/cache"
	"earshot/ui/listening"
	"earshot/ui/player"
)

// firstSound wraps the real oto output and notes when the device pulls the
// first non-silent sample after being armed: the moment a call's audio
// leaves Earshot for the sound device.
type firstSound struct {
	*player.OtoOutput
	armed atomic.Bool
	heard chan time.Time
}

func (o *firstSound) Start(ctx context.Context, src io.Reader) error {
	return o.OtoOutput.Start(ctx, readerFunc(func(b []byte) (int, error) {
		n, err := src.Read(b)
		if n > 0 && o.armed.Load() && !silent(b[:n]) && o.armed.CompareAndSwap(true, false) {
			o.heard <- time.Now()
		}
		return n, err
	}))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

func silent(pcm []byte) bool {
	for i := 0; i+1 < len(pcm); i += 2 {
		if int16(binary.LittleEndian.Uint16(pcm[i:])) != 0 {
			return false
		}
	}
	return true
}

// BenchmarkCallNewToFirstSound measures what a listener waits for: from the
// OpenScanner server broadcasting call.new (an MP3 call) to the first audio
// sample of that call pulled by the sound device. Every real part is in the
// path: the fake server over loopback, the backend session, the relay core
// (which prefetches the audio into its cache and measures its loudness),
// the listening core that queues the call, the player (cache read,
// sniffing, MP3 decoding, resampling, loudness levelling as the app does
// it, on by default) and the oto output on ALSA's null device.
//
//   - warm: the device is running (calls close together);
//   - from-idle: the device was suspended for being idle and resumes first;
//   - warm-30s: warm, with a 30-second call (an 8 kHz radio WAV): before
//     the relay measured calls, the player decoded and measured a whole
//     call before its first sound.
//
// Target: median ≤ 150 ms.
//
//	go test -run '^$' -bench CallNewToFirstSound -benchtime 20x ./app/
func BenchmarkCallNewToFirstSound(b *testing.B) {
	mp3 := audiotest.Fixture(b, "speech.mp3")
	// ALSA reads its configuration when the first device opens.
	alsa := filepath.Join(b.TempDir(), "asound.conf")
	if err := os.WriteFile(alsa, []byte("pcm.!default { type null }\nctl.!default { type hw card 0 }\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("ALSA_CONFIG_PATH", alsa)
	// oto tries a PulseAudio server at $XDG_RUNTIME_DIR/pulse/native first;
	// an empty directory makes this the ALSA figure on any machine.
	b.Setenv("XDG_RUNTIME_DIR", b.TempDir())
	oto, err := player.NewOtoOutput(48000, 2)
	if err != nil {
		b.Fatal(err)
	}
	out := &firstSound{OtoOutput: oto, heard: make(chan time.Time, 1)}

	fake := backendtest.NewServer(backendtest.Options{PublicAccess: true})
	defer fake.Close()
	fake.AddSystem(1, "Bench County")
	fake.AddTalkgroup(1, 101, "Fire", "County Fire", "Fire", "Dispatch", "red")
	sess, err := backend.New(backend.Options{ServerURL: fake.URL()})
	if err != nil {
		b.Fatal(err)
	}
	c, err := cache.Open(b.TempDir(), 256<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	core, err := relay.New(relay.Options{Backend: sess, Cache: c})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coreDone := make(chan error, 1)
	go func() { coreDone <- core.Run(ctx) }()
	defer func() { cancel(); <-coreDone }()

	// One player for the process (oto allows one context), suspending the
	// idle device after the default 2 s.
	const suspendAfter = 2 * time.Second
	p, err := player.New(player.Options{Audio: core, Output: out, SuspendAfter: suspendAfter,
		Gain: newSoundSettings(b.TempDir(), false).gain})
	if err != nil {
		b.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	defer func() { stop(); <-done }()
	idle := make(chan struct{}, 1)
	lc := listening.New(listening.Options{Feed: core, Player: p})
	p.OnChange(func(st player.State) {
		lc.OnPlayerChange(st)
		if st.Call == nil {
			select {
			case idle <- struct{}{}:
			default:
			}
		}
	})
	go lc.Run(pctx)
	for core.Status().Backend.State != "connected" {
		time.Sleep(10 * time.Millisecond)
	}

	long := backendtest.SynthRadioWAV(30, 140, 8000, 1)
	run := func(b *testing.B, pause time.Duration, audio []byte, name string) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			time.Sleep(pause)
			out.armed.Store(true)
			b.StartTimer()
			start := time.Now()
			fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, DateTime: time.Now(),
				Audio: audio, AudioName: name, AudioType: "application/octet-stream", Duration: 1})
			select {
			case t := <-out.heard:
				lat = append(lat, t.Sub(start))
			case <-time.After(30 * time.Second):
				b.Fatalf("call %d: no sound within 30 s (player: %+v)", i, p.State())
			}
			b.StopTimer()
			p.Skip()
			for p.State().Call != nil {
				select {
				case <-idle:
				case <-time.After(30 * time.Second):
					b.Fatal("the player never went idle after a skip")
				}
			}
			b.StartTimer()
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
		b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "ms-p95")
		if err := out.Err(); err != nil {
			b.Fatalf("the sound device failed: %v", err)
		}
	}
	b.Run("warm", func(b *testing.B) { run(b, 100*time.Millisecond, mp3, "call.mp3") })
	b.Run("from-idle", func(b *testing.B) { run(b, suspendAfter+500*time.Millisecond, mp3, "call.mp3") })
	b.Run("warm-30s", func(b *testing.B) { run(b, 100*time.Millisecond, long, "call.wav") })
}
