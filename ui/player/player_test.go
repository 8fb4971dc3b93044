package player

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
	"earshot/relay/event"
)

// Each test call is 48 kHz stereo with every sample equal to 100·id, so the
// PCM the output receives tells which call it came from.
const callFrames = 960 // 20 ms

func (h *harness) addCalls(ids ...int64) []event.Call {
	h.t.Helper()
	var out []event.Call
	for _, id := range ids {
		out = append(out, h.audio.put(h.t, id, audiotest.ConstWAV(int16(100*id), callFrames)))
	}
	return out
}

func (h *harness) enqueue(calls ...event.Call) {
	h.t.Helper()
	for _, c := range calls {
		if !h.p.Enqueue(c) {
			h.t.Fatalf("Enqueue(call %d) = false", c.ID)
		}
	}
}

func want(pairs ...int) []run {
	var out []run
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, run{int16(pairs[i]), pairs[i+1]})
	}
	return out
}

func checkRuns(t *testing.T, got []int16, want []run) {
	t.Helper()
	if g := runs(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("output runs (value, samples) = %v, want %v", g, want)
	}
}

func TestPlayer_PlaysInOrderWithoutGaps(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2, 3)...)
	got := h.out.pull(t, 3*callFrames)
	// Call 2 follows call 1 in the very next sample: no silence between.
	checkRuns(t, got, want(100, 2*callFrames, 200, 2*callFrames, 300, 2*callFrames))
	if st := h.p.State(); st.Call == nil || st.Call.ID != 3 {
		t.Fatalf("State().Call = %v, want call 3", st.Call)
	}
	// Reading on ends call 3; the player then waits for more.
	rest := h.out.pullAsync(1)
	h.waitFor("call 3 to end", func(s State) bool { return s.Call == nil && s.Queue == 0 })
	h.enqueue(h.addCalls(4)...)
	checkRuns(t, audiotest.Await(t, rest, "call 4"), want(400, 2))
}

func TestPlayer_StateDuringCall(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.addCalls(1, 2)
	h.enqueue(c...)
	h.out.pull(t, callFrames/2)
	st := h.p.State()
	if st.Call == nil || st.Call.ID != 1 || st.Call.TalkgroupLabel != "TG 1" {
		t.Fatalf("State().Call = %+v, want call 1", st.Call)
	}
	if st.Position != 10*time.Millisecond || st.Duration != 20*time.Millisecond {
		t.Errorf("Position/Duration = %v/%v, want 10ms/20ms", st.Position, st.Duration)
	}
	if st.Queue != 1 || !st.Live || st.Paused || st.Muted || st.Volume != 1 || st.Device != "" {
		t.Errorf("State = %+v", st)
	}
	if q := h.p.Queue(); len(q) != 1 || q[0].ID != 2 {
		t.Errorf("Queue() = %v, want [call 2]", q)
	}
}

func TestPlayer_Skip(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2)...)
	checkRuns(t, h.out.pull(t, 100), want(100, 200))
	h.p.Skip()
	// The rest of call 1 is never handed over: call 2 starts at once.
	checkRuns(t, h.out.pull(t, callFrames), want(200, 2*callFrames))
	h.p.Skip() // skipping the last call leaves the player idle
	rest := h.out.pullAsync(1)
	h.waitFor("idle after skip", func(s State) bool { return s.Call == nil })
	h.enqueue(h.addCalls(3)...)
	checkRuns(t, audiotest.Await(t, rest, "call 3"), want(300, 2))
}

func TestPlayer_PauseResume(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2)...)
	checkRuns(t, h.out.pull(t, 100), want(100, 200))
	h.p.Pause()
	if !h.p.State().Paused {
		t.Fatal("State().Paused = false after Pause")
	}
	pending := h.out.pullAsync(callFrames + 100)
	h.waitFor("paused state sent", func(s State) bool { return s.Paused })
	select {
	case got := <-pending:
		t.Fatalf("paused player handed over %d samples", len(got))
	default:
	}
	h.p.TogglePause()
	// Resuming continues call 1 where it stopped, then call 2.
	checkRuns(t, audiotest.Await(t, pending, "audio after resume"), want(100, 2*(callFrames-100), 200, 2*200))
	h.p.TogglePause()
	h.p.Resume()
	if h.p.State().Paused {
		t.Fatal("State().Paused = true after Resume")
	}
}

func TestPlayer_ReplayStepsBackUpToFive(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2, 3, 4, 5, 6, 7)...)
	h.out.pull(t, 7*callFrames) // all seven played; 7 is the latest
	for i, wantID := range []int{7, 6, 5, 4, 3, 3} {
		h.p.Replay()
		checkRuns(t, h.out.pull(t, 10), want(100*wantID, 20))
		st := h.p.State()
		if st.Call == nil || st.Call.ID != int64(wantID) || st.Replay != min(i+1, 5) {
			t.Fatalf("press %d: State().Call=%v Replay=%d, want call %d replay %d", i+1, st.Call, st.Replay, wantID, min(i+1, 5))
		}
	}
	// A live call after the replays starts a fresh chain from it.
	h.p.Skip()
	h.enqueue(h.addCalls(8)...)
	checkRuns(t, h.out.pull(t, 10), want(800, 20))
	h.p.Replay()
	checkRuns(t, h.out.pull(t, 10), want(800, 20))
	h.p.Replay()
	checkRuns(t, h.out.pull(t, 10), want(700, 20))
}

func TestPlayer_ReplayPressesBeforeStartCollapse(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2, 3)...)
	h.out.pull(t, 3*callFrames)
	h.p.Replay()
	h.p.Replay() // pressed again before the first replay started
	checkRuns(t, h.out.pull(t, callFrames), want(200, 2*callFrames))
}

func TestPlayer_ReplayWithNoHistoryDoesNothing(t *testing.T) {
	h := newHarness(t, Options{})
	h.p.Replay()
	if st := h.p.State(); st.Queue != 0 || st.Call != nil {
		t.Fatalf("State = %+v after Replay with no history", st)
	}
}

func TestPlayer_PlayInterruptsThenQueueContinues(t *testing.T) {
	h := newHarness(t, Options{})
	calls := h.addCalls(1, 2, 9)
	h.enqueue(calls[0], calls[1])
	checkRuns(t, h.out.pull(t, 100), want(100, 200))
	h.p.Pause()
	h.p.Play(calls[2]) // also resumes
	checkRuns(t, h.out.pull(t, callFrames+50), want(900, 2*callFrames, 200, 100))
	if h.p.State().Paused {
		t.Fatal("Play left the player paused")
	}
}

func TestPlayer_LiveOffQueuesNothing(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.addCalls(1, 2)
	h.p.SetLive(false)
	if h.p.Enqueue(c[0]) {
		t.Fatal("Enqueue queued a call with live off")
	}
	if st := h.p.State(); st.Live || st.Queue != 0 {
		t.Fatalf("State = %+v, want live off and nothing queued", st)
	}
	h.p.Play(c[0]) // the listener can still play a call by hand
	checkRuns(t, h.out.pull(t, 10), want(100, 20))
	h.p.SetLive(true)
	h.enqueue(c[1])
	if h.p.Enqueue(c[1]) {
		t.Fatal("the same call was queued twice")
	}
	if st := h.p.State(); !st.Live || st.Queue != 1 {
		t.Fatalf("State = %+v, want live and one queued", st)
	}
}

func TestPlayer_VolumeAndMuteScaleSamples(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(40)...) // samples of 4000
	checkRuns(t, h.out.pull(t, 10), want(4000, 20))
	h.p.SetVolume(0.5)
	checkRuns(t, h.out.pull(t, 10), want(2000, 20))
	h.p.SetMuted(true)
	checkRuns(t, h.out.pull(t, 10), want(0, 20))
	if st := h.p.State(); !st.Muted || st.Volume != 0.5 {
		t.Fatalf("State = %+v, want muted at volume 0.5", st)
	}
	h.p.ToggleMute()
	checkRuns(t, h.out.pull(t, 10), want(2000, 20))
	h.p.SetVolume(0.25)
	checkRuns(t, h.out.pull(t, 10), want(1000, 20))
	h.p.SetVolume(7) // clamped
	checkRuns(t, h.out.pull(t, 10), want(4000, 20))
	h.p.SetVolume(-1)
	checkRuns(t, h.out.pull(t, 10), want(0, 20))
}

func TestApplyGain(t *testing.T) {
	b := audiotest.S16(32767, -32768, 1000, -1000, 1)
	applyGain(b, 16384)
	if got, want := audiotest.Samples(b), []int16{16383, -16384, 500, -500, 0}; !slices.Equal(got, want) {
		t.Fatalf("half gain: %v, want %v", got, want)
	}
	b = audiotest.S16(32767, -32768)
	applyGain(b, 32768)
	if got := audiotest.Samples(b); got[0] != 32767 || got[1] != -32768 {
		t.Fatalf("unity gain changed samples: %v", got)
	}
}

func TestPlayer_Filters(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }

	h := newHarness(t, Options{Now: clock})
	mk := func(id, sys, tg int64) event.Call {
		c := h.audio.put(t, id, audiotest.ConstWAV(int16(id), 10))
		c.SystemID, c.TalkgroupID = sys, tg
		return c
	}

	queue := func(want ...int64) {
		t.Helper()
		if got := ids(h.p.Queue()); !reflect.DeepEqual(got, want) {
			t.Fatalf("Queue() = %v, want %v", got, want)
		}
	}

	h.p.HoldTalkgroup(1, 10, now.Add(time.Minute))
	if h.p.Enqueue(mk(1, 1, 11)) {
		t.Error("a call of another talkgroup was queued during a hold")
	}
	if !h.p.Enqueue(mk(2, 1, 10)) {
		t.Error("a call of the held talkgroup was not queued")
	}
	advance(2 * time.Minute) // the hold lifts by itself
	if !h.p.Enqueue(mk(3, 1, 11)) {
		t.Error("a call was kept out by an expired hold")
	}
	queue(2, 3)

	// A new filter also drops queued calls it keeps out.
	h.p.HoldSystem(2, time.Time{})
	queue()
	if h.p.Enqueue(mk(4, 1, 10)) || !h.p.Enqueue(mk(5, 2, 99)) {
		t.Error("system hold let the wrong calls through")
	}
	h.p.ReleaseHold()
	queue(5)

	h.p.AvoidTalkgroup(1, 12, time.Time{})
	if h.p.Enqueue(mk(6, 1, 12)) {
		t.Error("a call of an avoided talkgroup was queued")
	}
	h.p.Unavoid(1, 12)
	if !h.p.Enqueue(mk(7, 1, 12)) {
		t.Error("a call was kept out after Unavoid")
	}
	queue(5, 7)

	h.p.SetSelection([]Talkgroup{{SystemID: 2, TalkgroupID: 0}, {SystemID: 3, TalkgroupID: 30}})
	queue(5)
	if h.p.Enqueue(mk(8, 3, 31)) || !h.p.Enqueue(mk(9, 3, 30)) {
		t.Error("selection let the wrong calls through")
	}
	h.p.SetSelection(nil)
	if !h.p.Enqueue(mk(10, 1, 10)) || !h.p.Enqueue(mk(11, 2, 5)) {
		t.Error("an empty selection kept calls out")
	}
	queue(5, 9, 10, 11)
	h.p.AvoidTalkgroup(1, 0, now.Add(time.Hour)) // all of system 1
	queue(5, 9, 11)
	// Calls the listener picks are not filtered.
	h.p.Play(mk(12, 1, 1))
	queue(12, 5, 9, 11)
	// And the queue plays in order.
	checkRuns(t, h.out.pull(t, 40), want(12, 20, 5, 20, 9, 20, 11, 20))

	// The filter round-trips through Filter/SetFilter for persistence.
	f := h.p.Filter()
	if len(f.Avoids) != 1 || f.Avoids[0].SystemID != 1 {
		t.Fatalf("Filter() = %+v", f)
	}
	if st := h.p.State(); !reflect.DeepEqual(st.Filter, f) {
		t.Fatalf("State().Filter = %+v, want %+v", st.Filter, f)
	}
	h.p.SetFilter(Filter{})
	if !h.p.Enqueue(mk(13, 1, 10)) {
		t.Error("SetFilter(Filter{}) did not clear the avoid")
	}
}

func TestPlayer_ExpiredHoldLeavesState(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	h := newHarness(t, Options{Now: clock})
	h.p.HoldTalkgroup(1, 10, now.Add(time.Minute))
	h.waitFor("the hold in State", func(s State) bool { return s.Filter.Hold != nil })
	clockMu.Lock()
	now = now.Add(time.Hour)
	clockMu.Unlock()
	// The periodic tick prunes it, so the window's hold button can update.
	h.waitFor("the expired hold to go", func(s State) bool { return s.Filter.Hold == nil })
}

func TestPlayer_PlayRemovesTheSameCallFromTheQueue(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.addCalls(1, 2, 3)
	h.enqueue(c...)
	h.p.Play(c[2])
	if got := ids(h.p.Queue()); !reflect.DeepEqual(got, []int64{3, 1, 2}) {
		t.Fatalf("Queue() = %v, want [3 1 2]", got)
	}
}

func ids(cs []event.Call) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestPlayer_QueueIsBounded(t *testing.T) {
	h := newHarness(t, Options{MaxQueue: 3})
	h.enqueue(h.addCalls(1, 2, 3, 4, 5)...)
	if got := ids(h.p.Queue()); !reflect.DeepEqual(got, []int64{3, 4, 5}) {
		t.Fatalf("Queue() = %v, want the newest three [3 4 5]", got)
	}
	checkRuns(t, h.out.pull(t, callFrames+1), want(300, 2*callFrames, 400, 2))
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestPlayer_MissingFFmpegSaysSoOnceAndMovesOn(t *testing.T) {
	logs := &logBuffer{}
	h := newHarness(t, Options{
		FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg-here"),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	m4a := audiotest.Fixture(t, "speech.m4a")
	a := h.audio.put(t, 1, m4a)
	b := h.audio.put(t, 2, m4a)
	wav := h.addCalls(3)[0]
	h.enqueue(a, b, wav)
	// Both M4A calls are passed over; the WAV plays.
	checkRuns(t, h.out.pull(t, 10), want(300, 20))
	st := h.p.State()
	if !st.FFmpegMissing || !strings.Contains(st.LastError, "needs ffmpeg") || !strings.Contains(st.LastError, "install the ffmpeg package") {
		t.Fatalf("State = %+v, want FFmpegMissing and a needs-ffmpeg LastError", st)
	}
	for _, id := range []int64{1, 2} {
		if got := h.p.CallProblem(id); got != "needs ffmpeg" {
			t.Errorf("CallProblem(%d) = %q, want %q", id, got, "needs ffmpeg")
		}
	}
	if h.p.CallProblem(3) != "" {
		t.Errorf("CallProblem(3) = %q for a call that played", h.p.CallProblem(3))
	}
	if n := strings.Count(logs.String(), `msg="ffmpeg is not installed`); n != 1 {
		t.Fatalf("the missing-ffmpeg message was logged %d times, want once:\n%s", n, logs)
	}
}

func TestPlayer_PlaysM4AThroughFFmpeg(t *testing.T) {
	audiotest.NeedFFmpeg(t)
	h := newHarness(t, Options{})
	h.enqueue(h.audio.put(t, 1, audiotest.Fixture(t, "speech.m4a")))
	got := h.out.pull(t, DefaultRate/2)
	if r := audiotest.RMS(got); r < 0.02 {
		t.Fatalf("RMS %.4f: M4A call played as silence", r)
	}
	if st := h.p.State(); st.FFmpegMissing || st.LastError != "" {
		t.Fatalf("State = %+v", st)
	}
}

func TestPlayer_PlaysMP3(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.audio.put(t, 1, audiotest.Fixture(t, "speech.mp3")))
	got := h.out.pull(t, DefaultRate/2)
	if r := audiotest.RMS(got); r < 0.02 {
		t.Fatalf("RMS %.4f: MP3 call played as silence", r)
	}
	if st := h.p.State(); st.Duration < 900*time.Millisecond || st.Duration > 1200*time.Millisecond {
		t.Fatalf("Duration = %v, want about 1 s", st.Duration)
	}
}

func TestPlayer_UnavailableAudioIsSkipped(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.addCalls(1, 2)
	h.audio.errs[1] = errors.New("the OpenScanner server is unreachable and this call's audio is not cached")
	damaged := h.audio.put(t, 3, []byte("RIFF\x00\x00\x00\x00WAVEjunk"))
	h.enqueue(c[0], damaged, c[1])
	checkRuns(t, h.out.pull(t, 10), want(200, 20))
	if h.p.CallProblem(1) == "" || h.p.CallProblem(3) == "" {
		t.Fatalf("problems not recorded: 1=%q 3=%q", h.p.CallProblem(1), h.p.CallProblem(3))
	}
	if st := h.p.State(); !strings.Contains(st.LastError, "Call 3") {
		t.Fatalf("LastError = %q, want it to name call 3", st.LastError)
	}
}

func TestPlayer_DeviceMissingIsStateNotFailure(t *testing.T) {
	out := newFakeOutput()
	out.startErr = errors.New("the sound device is not available: no card")
	h := newHarness(t, Options{Output: out})
	st := h.waitFor("the device error", func(s State) bool { return s.Device != "" })
	if !strings.Contains(st.Device, "no card") {
		t.Fatalf("Device = %q", st.Device)
	}
	// Everything else goes on.
	h.enqueue(h.addCalls(1, 2)...)
	h.p.SetVolume(0.3)
	h.p.Pause()
	if st := h.p.State(); st.Queue != 2 || !st.Paused || st.Volume != 0.3 {
		t.Fatalf("State = %+v", st)
	}
}

func TestPlayer_DeviceFailingLaterIsReported(t *testing.T) {
	h := newHarness(t, Options{})
	h.enqueue(h.addCalls(1)...)
	h.out.pull(t, 10)
	h.out.fail(errors.New("the sound device is not available: snd_pcm_writei: No such device"))
	h.waitFor("the device error", func(s State) bool { return strings.Contains(s.Device, "No such device") })
	h.out.fail(nil)
	h.waitFor("the device error to clear", func(s State) bool { return s.Device == "" })
}

func TestPlayer_OnChangeCalledFromRun(t *testing.T) {
	h := newHarness(t, Options{})
	got := make(chan State, 100)
	h.p.OnChange(func(s State) {
		select {
		case got <- s:
		default:
		}
	})
	h.p.SetMuted(true)
	for {
		s := audiotest.Await(t, got, "OnChange")
		if s.Muted {
			return
		}
	}
}

func TestPlayer_StopsCleanly(t *testing.T) {
	out := newFakeOutput()
	audio := newFakeAudio(t)
	p, err := New(Options{Audio: audio, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	p.Enqueue(audio.put(t, 1, audiotest.ConstWAV(100, 48000)))
	<-out.started
	buf := make([]byte, 4096)
	if _, err := out.src.Read(buf); err != nil {
		t.Fatal(err)
	}
	// A reader blocked waiting for audio is released by the stop.
	p.Pause()
	blocked := make(chan error, 1)
	go func() {
		// The pause's de-click ramp may still yield a few samples first.
		for {
			if _, err := out.src.Read(buf); err != nil {
				blocked <- err
				return
			}
		}
	}()
	cancel()
	if err := audiotest.Await(t, done, "Run to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if err := audiotest.Await(t, blocked, "the output's read to end"); err != io.EOF {
		t.Fatalf("blocked Read = %v, want io.EOF", err)
	}
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("a second Run succeeded")
	}
}

func TestNew_RequiresAudioAndOutput(t *testing.T) {
	if _, err := New(Options{Output: newFakeOutput()}); err == nil {
		t.Error("New without Audio succeeded")
	}
	if _, err := New(Options{Audio: newFakeAudio(t)}); err == nil {
		t.Error("New without Output succeeded")
	}
}

// fadeFrames at 48 kHz: 5 ms.
const fade = 240

// checkRamp checks that s (interleaved stereo, both channels equal) moves
// monotonically from about `from` to about `to` over its frames.
func checkRamp(t *testing.T, s []int16, from, to int) {
	t.Helper()
	if len(s) != 2*fade {
		t.Fatalf("ramp of %d frames, want %d", len(s)/2, fade)
	}
	step := abs(to-from)/fade + 2
	if abs(int(s[0])-from) > step || abs(int(s[len(s)-1])-to) > step {
		t.Fatalf("ramp runs %d → %d, want %d → %d", s[0], s[len(s)-1], from, to)
	}
	for i := 2; i < len(s); i += 2 {
		d := int(s[i]) - int(s[i-2])
		if s[i] != s[i+1] || (to < from && d > 0) || (to > from && d < 0) || abs(d) > step {
			t.Fatalf("ramp not smooth at frame %d: %d after %d", i/2, s[i], s[i-2])
		}
	}
}

func TestPlayer_FadesOnPauseAndResume(t *testing.T) {
	h := newFadingHarness(t, Options{})
	h.enqueue(h.audio.put(t, 1, audiotest.ConstWAV(10000, 4800)))
	checkRuns(t, h.out.pull(t, 100), want(10000, 200))
	h.p.Pause()
	checkRamp(t, h.out.pull(t, fade), 10000, 0)
	pending := h.out.pullAsync(2 * fade)
	h.waitFor("paused state sent", func(s State) bool { return s.Paused })
	select {
	case <-pending:
		t.Fatal("paused player handed over more than its fade-out")
	default:
	}
	h.p.Resume()
	got := audiotest.Await(t, pending, "audio after resume")
	checkRamp(t, got[:2*fade], 0, 10000)
	checkRuns(t, got[2*fade:], want(10000, 2*fade))
	// The fade-out is part of the call: no audio was lost or repeated.
	if st := h.p.State(); st.Position != framesToDuration(100+3*fade, 48000) {
		t.Fatalf("Position = %v, want %v", st.Position, framesToDuration(100+3*fade, 48000))
	}
}

func TestPlayer_FadesOnSkipAndVolume(t *testing.T) {
	h := newFadingHarness(t, Options{})
	h.enqueue(h.audio.put(t, 1, audiotest.ConstWAV(10000, 4800)), h.audio.put(t, 2, audiotest.ConstWAV(20000, 4800)))
	h.out.pull(t, 100)
	h.p.Skip()
	checkRamp(t, h.out.pull(t, fade), 10000, 0)
	got := h.out.pull(t, fade+10)
	checkRamp(t, got[:2*fade], 0, 20000)
	checkRuns(t, got[2*fade:], want(20000, 20))
	h.p.SetVolume(0.5)
	got = h.out.pull(t, fade+10)
	checkRamp(t, got[:2*fade], 20000, 10000)
	checkRuns(t, got[2*fade:], want(10000, 20))
}

func TestPlayer_NoRampBetweenCallsThatEndByThemselves(t *testing.T) {
	h := newFadingHarness(t, Options{})
	h.enqueue(h.addCalls(1, 2, 3)...)
	checkRuns(t, h.out.pull(t, 3*callFrames), want(100, 2*callFrames, 200, 2*callFrames, 300, 2*callFrames))
}

func TestApplyGainRamp(t *testing.T) {
	b := audiotest.S16(1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
	applyGainRamp(b, unityGain, 0, 4)
	if got, want := audiotest.Samples(b), []int16{750, 750, 500, 500, 250, 250, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
