package stream

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
)

// waitForEncoders waits until this process has n ffmpeg children. It reads
// /proc, so elsewhere than on Linux it checks nothing.
func waitForEncoders(t testing.TB, what string, n int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	waitUntil(t, what, func() bool { return childFFmpegs(t) == n })
}

// childFFmpegs counts this process's ffmpeg children (Linux).
func childFFmpegs(t testing.TB) int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if s[open+1:end] == "ffmpeg" && fields[1] == strconv.Itoa(os.Getpid()) {
			n++
		}
	}
	return n
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(audiotest.HangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreams_OneEncoderPerFilterStoppedByTheLastListener(t *testing.T) {
	needEncoder(t)
	src := newFakeSource(t)
	s := newStreams(t, src)
	var listeners []*Listener
	for range 5 {
		l, err := s.Join("all", allowAll, nil)
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, l)
	}
	other, err := s.Join("system=2", func(c event.Call, _ time.Time) bool { return c.SystemID == 2 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(listeners, other) {
		collectFor(t, l, 100*time.Millisecond) // each one is fed
	}
	if n := s.Stations(); n != 2 {
		t.Fatalf("%d stations for two filters, want 2", n)
	}
	waitForEncoders(t, "two encoders", 2)
	if n := s.Listeners(); n != 6 {
		t.Fatalf("Listeners() = %d, want 6", n)
	}
	for _, l := range listeners[:4] {
		l.Close()
	}
	if n := s.Stations(); n != 2 {
		t.Fatalf("%d stations while a listener of each remains, want 2", n)
	}
	listeners[4].Close()
	listeners[4].Close() // twice is harmless
	if n := s.Stations(); n != 1 {
		t.Fatalf("%d stations after the last listener of one left, want 1", n)
	}
	waitForEncoders(t, "the left station's encoder to exit", 1)
	if _, ok := <-listeners[0].Chunks(); ok {
		// Drained chunks may remain; the channel must end closed.
		for range listeners[0].Chunks() {
		}
	}
	if err := listeners[0].Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("a closed listener's Err = %v, want ErrClosed", err)
	}
	s.Close()
	waitForEncoders(t, "every encoder to exit", 0)
	if err := other.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close a listener's Err = %v, want ErrClosed", err)
	}
	if _, err := s.Join("all", allowAll, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close = %v, want ErrClosed", err)
	}
}

func TestStation_PlaysOnlyWhatItsFilterAllows(t *testing.T) {
	needEncoder(t)
	src := newFakeSource(t)
	s := newStreams(t, src)
	l, err := s.Join("tg=102", func(c event.Call, _ time.Time) bool { return c.TalkgroupID == 102 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	chunks := collectFor(t, l, 200*time.Millisecond)
	src.publish(t, call(1, 1, 101), audiotest.ToneWAV(0.4, 440))
	src.publish(t, call(2, 1, 102), audiotest.ToneWAV(0.4, 880))
	src.publish(t, call(3, 2, 101), audiotest.ToneWAV(0.4, 660))
	// Call 4 is let through too: calls play in order, so once it has
	// played, anything of 1–3 that was going to play has.
	last := call(4, 1, 102)
	last.TalkerAlias = "LAST" // a title of its own
	src.publish(t, last, audiotest.ToneWAV(0.4, 550))
	chunks = append(chunks, collectPast(t, l, Title(last), 700*time.Millisecond)...)
	got := sounds(segments(t, chunks))
	if len(got) != 2 || got[0].midTitle != Title(call(2, 1, 102)) || got[1].midTitle != Title(last) {
		t.Fatalf("heard %+v, want calls 2 and 4 alone", got)
	}
}

// A call in a format only ffmpeg decodes (M4A) plays like any other.
func TestStation_PlaysM4ACalls(t *testing.T) {
	src, _, l, chunks := listening(t, 200*time.Millisecond)
	src.publish(t, call(1, 1, 101), audiotest.Fixture(t, "speech.m4a")) // 1 s
	chunks = append(chunks, collectPast(t, l, Title(call(1, 1, 101)), 1300*time.Millisecond)...)
	got := sounds(segments(t, chunks))
	if len(got) == 0 || got[0].midTitle != Title(call(1, 1, 101)) {
		t.Fatalf("the M4A call was not heard: %+v", got)
	}
}

// A damaged call and a call whose audio cannot be had are skipped; the
// stream goes on to the next.
func TestStation_SkipsCallsItCannotPlay(t *testing.T) {
	src, _, l, chunks := listening(t, 200*time.Millisecond)
	src.publish(t, call(1, 1, 101), []byte("RIFF\x10\x00\x00\x00WAVEjunkjunkjunk"))
	missing := call(2, 1, 101)
	src.hub.Publish(event.Event{Type: event.TypeCall, Call: &missing}) // no audio cached
	src.publish(t, call(3, 1, 103), audiotest.ToneWAV(0.4, 440))
	chunks = append(chunks, collectPast(t, l, Title(call(3, 1, 103)), 700*time.Millisecond)...)
	got := sounds(segments(t, chunks))
	if len(got) != 1 || got[0].midTitle != Title(call(3, 1, 103)) {
		t.Fatalf("heard %+v, want call 3 alone", got)
	}
}

func TestStation_DropsASlowListenerAlone(t *testing.T) {
	needEncoder(t)
	src := newFakeSource(t)
	s := newStreams(t, src)
	s.queueLen = 8
	dropped := make(chan struct{})
	slow, err := s.Join("", allowAll, func() { close(dropped) })
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := s.Join("", allowAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	// fast reads on; slow never does.
	got := make(chan int)
	stop := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case _, ok := <-fast.Chunks():
				if !ok {
					got <- -1
					return
				}
				n++
			case <-stop:
				got <- n
				return
			}
		}
	}()
	audiotest.Await(t, dropped, "the slow listener to be dropped")
	for range slow.Chunks() { // what it had queued, then the end
	}
	if err := slow.Err(); !errors.Is(err, ErrSlowListener) {
		t.Fatalf("the slow listener ended with %v, want ErrSlowListener", err)
	}
	time.Sleep(300 * time.Millisecond) // the fast one keeps getting chunks meanwhile
	close(stop)
	if n := audiotest.Await(t, got, "the fast listener"); n <= 0 {
		t.Fatalf("the other listener stopped getting the stream (%d chunks; -1: dropped: %v)", n, fast.Err())
	}
	if s.Stations() != 1 {
		t.Fatal("dropping one listener stopped the station")
	}
}

func (st *station) encoderPID() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.enc.cmd.Process.Pid
}

func (s *Streams) station(key string) *station {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stations[key]
}

func TestStation_RestartsAnEncoderThatDies(t *testing.T) {
	src, s, l, chunks := listening(t, 200*time.Millisecond)
	st := s.station("")
	pid := st.encoderPID()
	encoder, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := encoder.Kill(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a new encoder", func() bool { return st.encoderPID() != pid })
	src.publish(t, call(1, 1, 101), audiotest.ToneWAV(0.4, 440))
	chunks = append(chunks, collectPast(t, l, Title(call(1, 1, 101)), 700*time.Millisecond)...)
	got := sounds(segments(t, chunks)) // the frames stay whole across the restart
	if len(got) != 1 {
		t.Fatalf("after the encoder was restarted, heard %+v, want the call", got)
	}
	waitForEncoders(t, "one encoder", 1)
}

// fakeFFmpeg writes a shell script standing in for ffmpeg: it lists
// encoders as the real one does (with or without libmp3lame), and as an
// encoder runs body.
func fakeFFmpeg(t *testing.T, lame bool, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in ffmpeg is a shell script")
	}
	encoders := "A..... aac AAC"
	if lame {
		encoders += "\n A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)"
	}
	path := filepath.Join(t.TempDir(), "ffmpeg")
	script := "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -encoders ] && { printf '%s\\n' '" + encoders + "'; exit 0; }; done\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStreams_SaysWhenFFmpegCannotEncode(t *testing.T) {
	src := newFakeSource(t)
	for _, tt := range []struct {
		name, ffmpeg, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "ffmpeg"), "ffmpeg is not at"},
		{"without libmp3lame", fakeFFmpeg(t, false, "exit 1"), "without libmp3lame"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Source: src, FFmpeg: tt.ffmpeg})
			defer s.Close()
			_, err := s.Join("", allowAll, nil)
			if !errors.Is(err, ErrNoEncoder) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Join = %v, want ErrNoEncoder saying %q", err, tt.want)
			}
			if s.Stations() != 0 {
				t.Fatal("a station started without an encoder")
			}
		})
	}
	t.Run("not in PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		s := New(Options{Source: src})
		defer s.Close()
		_, err := s.Join("", allowAll, nil)
		if !errors.Is(err, ErrNoEncoder) || !strings.Contains(err.Error(), "not installed") {
			t.Fatalf("Join = %v, want ErrNoEncoder saying ffmpeg is not installed", err)
		}
	})
}

func TestStation_GivesUpOnAnEncoderThatKeepsDying(t *testing.T) {
	src := newFakeSource(t)
	s := New(Options{Source: src, FFmpeg: fakeFFmpeg(t, true, "echo 'Unknown encoder libmp3lame' >&2; exit 1")})
	defer s.Close()
	l, err := s.Join("", allowAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		for range l.Chunks() {
		}
		close(done)
	}()
	audiotest.Await(t, done, "the stream to end")
	err = l.Err()
	if !errors.Is(err, ErrEncoderFailed) || !strings.Contains(err.Error(), "Unknown encoder") {
		t.Fatalf("the listener ended with %v, want ErrEncoderFailed with ffmpeg's complaint", err)
	}
	waitUntil(t, "the failed station to be retired", func() bool { return s.Stations() == 0 })
}

// A reset (the account changed, or the server's call ids were reset) voids
// the calls still waiting: their ids may now name other calls.
func TestStation_AResetDropsTheCallsWaiting(t *testing.T) {
	src, _, l, chunks := listening(t, 200*time.Millisecond)
	// Call 1 is longer than the decoded audio a station keeps ahead, so
	// call 2 waits in the queue while it plays.
	src.publish(t, call(1, 1, 101), audiotest.ToneWAV(3, 440))
	src.publish(t, call(2, 1, 102), audiotest.ToneWAV(0.5, 880))
	// The reset must come while call 1 plays and call 2 waits: once call
	// 1's frames arrive (on a loaded machine its decoding can take longer
	// than a fixed pause, and a reset before it started voided both).
	for hang := time.Now().Add(20 * time.Second); ; {
		c, ok := <-l.Chunks()
		if !ok {
			t.Fatalf("the stream ended: %v", l.Err())
		}
		chunks = append(chunks, c)
		if c.Title == Title(call(1, 1, 101)) {
			break
		}
		if time.Now().After(hang) {
			t.Fatal("call 1 never started")
		}
	}
	src.hub.Publish(event.Event{Type: event.TypeReset, Reason: event.ResetServer})
	// A call of the new numbering plays after call 1; call 2 would have
	// played before it.
	next := call(3, 1, 103)
	src.publish(t, next, audiotest.ToneWAV(0.5, 660))
	chunks = append(chunks, collectPast(t, l, Title(next), 800*time.Millisecond)...)
	got := sounds(segments(t, chunks))
	if len(got) != 2 || got[0].midTitle != Title(call(1, 1, 101)) || got[1].midTitle != Title(next) {
		t.Fatalf("heard %+v, want call 1 and then call 3 (call 2 was waiting at the reset)", got)
	}
}

// A call whose decoding stalls part way (ffmpeg, or a machine too busy to
// run the decoder for a moment) plays whole once it goes on: the station
// starts a call only when enough of it is decoded, and does not cut
// silence into it. Before, the pacer played the first chunks and filled
// with silence until the rest came, so the call was heard in two pieces
// (TestStream_FFmpegReadsAValidStreamAcrossCalls heard a call split so on
// a loaded machine).
func TestStation_PlaysACallWholeWhenItsDecodingStalls(t *testing.T) {
	needEncoder(t)
	ffmpeg, _ := exec.LookPath("ffmpeg")
	// A 0.8 s tone as the decoder gives it (stereo s16le at the stream's
	// rate); the stand-in decoder stops for 0.6 s after its first 0.2 s.
	const rate, freq = SampleRate, 440.0
	pcm := make([]byte, 0, rate*8/10*4)
	for i := range rate * 8 / 10 {
		v := uint16(int16(0.5 * math.MaxInt16 * math.Sin(2*math.Pi*freq*float64(i)/rate)))
		pcm = append(pcm, byte(v), byte(v>>8), byte(v), byte(v>>8))
	}
	dir := t.TempDir()
	pcmPath := filepath.Join(dir, "call.pcm")
	if err := os.WriteFile(pcmPath, pcm, 0o600); err != nil {
		t.Fatal(err)
	}
	head := rate * 2 / 10 * 4
	stub := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do [ \"$a\" = -af ] && { head -c " + strconv.Itoa(head) + " '" + pcmPath + "'; sleep 0.6; tail -c +" +
		strconv.Itoa(head+1) + " '" + pcmPath + "'; exit 0; }; done\n" + // decoding a call
		"exec '" + ffmpeg + "' \"$@\"\n" // encoding the stream
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	src := newFakeSource(t)
	s := New(Options{Source: src, FFmpeg: stub})
	t.Cleanup(s.Close)
	l, err := s.Join("", allowAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	c := call(1, 1, 101)
	src.publish(t, c, []byte("OggS: the stand-in decoder plays its own tone"))
	// Two seconds of stream from the call's first frame on.
	var chunks []Chunk
	frames, after := 0, -1
	for hang := time.Now().Add(audiotest.HangGuard); after < 0 || frames-after < 2*SampleRate/1152; {
		select {
		case ch, ok := <-l.Chunks():
			if !ok {
				t.Fatalf("the stream ended: %v", l.Err())
			}
			if after < 0 && ch.Title == Title(c) {
				after = frames
			}
			chunks = append(chunks, ch)
			_, titles := streamFrames(t, []Chunk{ch})
			frames += len(titles)
		case <-time.After(time.Until(hang)):
			t.Fatal("the call never played")
		}
	}
	got := sounds(segments(t, chunks))
	if len(got) != 1 || math.Abs(got[0].Freq-freq) > freq*0.05 {
		t.Fatalf("heard %+v, want the call once, whole", got)
	}
	if d := frameSeconds(got[0].To - got[0].From); d < 0.7 || d > 0.9 {
		t.Errorf("the call lasts %.2f s, want 0.8", d)
	}
}
