package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hajimehoshi/go-mp3"

	"earshot/relay/audio/audiotest"
	"earshot/relay/cache"
	"earshot/relay/event"
	"earshot/relay/hub"
)

// fakeSource is a relay core: a real hub and a real on-disk cache.
type fakeSource struct {
	hub   *hub.Hub
	cache *cache.Cache
	mu    sync.Mutex
	subs  int
}

func newFakeSource(t testing.TB) *fakeSource {
	t.Helper()
	c, err := cache.Open(t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &fakeSource{hub: hub.New(nil), cache: c}
}

func (f *fakeSource) Subscribe(n int) *hub.Subscriber {
	f.mu.Lock()
	f.subs++
	f.mu.Unlock()
	return f.hub.Subscribe(n)
}

func (f *fakeSource) Audio(ctx context.Context, id int64) (*cache.Entry, error) {
	if e, ok := f.cache.Lookup(strconv.FormatInt(id, 10)); ok {
		return e, nil
	}
	return nil, errors.New("no such call")
}

// publish caches a call's audio and announces it.
func (f *fakeSource) publish(t testing.TB, c event.Call, audio []byte) {
	t.Helper()
	if _, err := f.cache.Put(strconv.FormatInt(c.ID, 10), audio); err != nil {
		t.Fatal(err)
	}
	f.hub.Publish(event.Event{Type: event.TypeCall, Call: &c})
}

func needEncoder(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed (build/deps.sh installs it)")
	}
}

func call(id, sys, tg int64) event.Call {
	return event.Call{ID: id, SystemID: sys, SystemLabel: "Harness County", TalkgroupID: tg, TalkgroupLabel: "Fire Dispatch " + strconv.FormatInt(tg, 10)}
}

func allowAll(event.Call, time.Time) bool { return true }

func newStreams(t testing.TB, src Source) *Streams {
	t.Helper()
	s := New(Options{Source: src})
	t.Cleanup(s.Close)
	return s
}

// listening starts a station for every call with one listener, and reads
// its stream for warm (so the calls published next start on a running
// stream).
func listening(t *testing.T, warm time.Duration) (*fakeSource, *Streams, *Listener, []Chunk) {
	t.Helper()
	needEncoder(t)
	src := newFakeSource(t)
	s := newStreams(t, src)
	l, err := s.Join("", allowAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return src, s, l, collectFor(t, l, warm)
}

// collectFor reads a listener's chunks until d has passed.
func collectFor(t testing.TB, l *Listener, d time.Duration) []Chunk {
	t.Helper()
	var out []Chunk
	deadline := time.After(d)
	for {
		select {
		case c, ok := <-l.Chunks():
			if !ok {
				t.Fatalf("the stream ended: %v", l.Err())
			}
			out = append(out, c)
		case <-deadline:
			return out
		}
	}
}

// collectPast reads a listener's chunks until the call titled title has
// started and past more of the stream has come after its first frame.
// It counts frames, that is stream time, so a slow machine only makes it
// wait longer.
func collectPast(t testing.TB, l *Listener, title string, past time.Duration) []Chunk {
	t.Helper()
	var chunks []Chunk
	frames, from := 0, -1
	want := int(past.Seconds() * SampleRate / 1152)
	hang := time.After(audiotest.HangGuard)
	for from < 0 || frames-from < want {
		select {
		case c, ok := <-l.Chunks():
			if !ok {
				t.Fatalf("the stream ended: %v", l.Err())
			}
			if from < 0 && c.Title == title {
				from = frames
			}
			chunks = append(chunks, c)
			_, titles := streamFrames(t, []Chunk{c})
			frames += len(titles)
		case <-hang:
			t.Fatalf("gave up waiting for %v of the stream past the start of %q (%d frames, from %d)", past, title, frames, from)
		}
	}
	return chunks
}

// decodeMP3 decodes a stream's bytes to mono samples (the left channel
// go-mp3 gives) at the stream's rate.
func decodeMP3(t testing.TB, b []byte) []int16 {
	t.Helper()
	d, err := mp3.NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the stream is not MP3: %v", err)
	}
	if d.SampleRate() != SampleRate {
		t.Fatalf("stream at %d Hz, want %d", d.SampleRate(), SampleRate)
	}
	pcm, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("decoding the stream: %v", err)
	}
	s := audiotest.Samples(pcm)
	out := make([]int16, len(s)/2)
	for i := range out {
		out[i] = s[2*i]
	}
	return out
}

func TestStation_PlaysCallsInOrderWithSilenceBetween(t *testing.T) {
	src, _, l, chunks := listening(t, 300*time.Millisecond)
	first, second := call(1, 1, 101), call(2, 1, 102)
	second.Source, second.TalkerAlias = 4021, "ENGINE 12"
	src.publish(t, first, audiotest.ToneWAV(0.6, 440))
	src.publish(t, second, audiotest.ToneWAV(0.6, 880))
	chunks = append(chunks, collectPast(t, l, Title(second), 1200*time.Millisecond)...)

	segs := segments(t, chunks)
	got := sounds(segs)
	if len(got) != 2 {
		t.Fatalf("heard %d calls, want 2: %+v", len(got), segs)
	}
	if segs[0].Sound || segs[len(segs)-1].Sound {
		t.Errorf("the stream does not start and end in silence: %+v", segs)
	}
	for i, want := range []struct {
		freq  float64
		title string
	}{{440, "Harness County — Fire Dispatch 101"}, {880, "Harness County — Fire Dispatch 102 (ENGINE 12)"}} {
		g := got[i]
		if math.Abs(g.Freq-want.freq) > want.freq*0.05 {
			t.Errorf("call %d plays at %.0f Hz, want %.0f (order or resampling wrong)", i+1, g.Freq, want.freq)
		}
		if d := frameSeconds(g.To - g.From); d < 0.5 || d > 0.75 {
			t.Errorf("call %d lasts %.2f s, want 0.6", i+1, d)
		}
		if g.midTitle != want.title {
			t.Errorf("call %d's audio is titled %q, want %q", i+1, g.midTitle, want.title)
		}
	}
	if gap := frameSeconds(got[1].From - got[0].To); gap < DefaultGap.Seconds()-0.1 {
		t.Errorf("%.2f s between back-to-back calls, want the %v gap", gap, DefaultGap)
	}
}

// The titles change on the frame where each call's sound starts (give or
// take the encoder's and decoder's delay), not a call early or late.
func TestStation_TitlesFollowTheAudio(t *testing.T) {
	src, _, l, chunks := listening(t, 200*time.Millisecond)
	for i := int64(1); i <= 3; i++ {
		src.publish(t, call(i, 1, 100+i), audiotest.ToneWAV(0.4, 300*float64(i)))
		chunks = append(chunks, collectPast(t, l, Title(call(i, 1, 100+i)), 700*time.Millisecond)...)
	}
	_, titles := streamFrames(t, chunks)
	got := sounds(segments(t, chunks))
	if len(got) != 3 {
		t.Fatalf("heard %d calls, want 3", len(got))
	}
	for i, g := range got {
		want := Title(call(int64(i+1), 1, int64(101+i)))
		change := -1
		for f := 1; f < len(titles); f++ {
			if titles[f] == want && titles[f-1] != want {
				change = f
				break
			}
		}
		if change < 0 {
			t.Fatalf("no frame is titled %q", want)
		}
		if d := change - g.From; d < -1 || d > 1 {
			t.Errorf("call %d: the title changes at frame %d, its sound starts at frame %d", i+1, change, g.From)
		}
	}
}
