package player

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"earshot/relay/audio/audiotest"
)

// suspendingOutput is a fake output that records Suspend and Resume.
type suspendingOutput struct {
	*fakeOutput
	mu     sync.Mutex
	events []string
	state  chan string
}

func (o *suspendingOutput) record(e string) error {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
	select {
	case o.state <- e:
	default:
	}
	return nil
}

func (o *suspendingOutput) Suspend() error { return o.record("suspend") }
func (o *suspendingOutput) Resume() error  { return o.record("resume") }

// waitFor waits until the output is told to suspend or resume (want),
// skipping other events.
func (o *suspendingOutput) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(audiotest.HangGuard)
	for {
		select {
		case e := <-o.state:
			if e == want {
				return
			}
		case <-deadline:
			o.mu.Lock()
			events := slices.Clone(o.events)
			o.mu.Unlock()
			t.Fatalf("the output was never told to %s (got %v)", want, events)
		}
	}
}

func TestPlayer_SuspendsTheIdleDeviceAndResumesForACall(t *testing.T) {
	out := &suspendingOutput{fakeOutput: newFakeOutput(), state: make(chan string, 16)}
	audio := newFakeAudio(t)
	p, err := New(Options{Audio: audio, Output: out, Tick: 5 * time.Millisecond, SuspendAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	out.waitFor(t, "suspend") // nothing to play
	<-out.started
	out.mu.Lock()
	src := out.src
	out.mu.Unlock()
	// The device: one reader, as oto has, that stops at the player's EOF.
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := src.Read(buf); err != nil {
				return
			}
		}
	}()
	p.Enqueue(audio.put(t, 1, audiotest.ConstWAV(50, 48000)))
	out.waitFor(t, "resume") // a call to play
	// It plays out, then the device goes idle again.
	out.waitFor(t, "suspend")
	if st := p.State(); st.Call != nil {
		t.Fatalf("suspended while call %d is still playing", st.Call.ID)
	}
}

// An idle Earshot must not wake four times a second for nothing: with the
// device suspended and nothing to play the periodic check waits for the
// next hold or avoid to lift (at most idleTickMax); otherwise it ticks.
func TestPlayer_IdleWithTheDeviceSuspendedWaitsForTheNextExpiry(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	p, err := New(Options{Audio: newFakeAudio(t), Output: newFakeOutput(), Tick: 250 * time.Millisecond,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.nextTick(false); d != 250*time.Millisecond {
		t.Fatalf("device up: next check in %v, want the tick", d)
	}
	if d := p.nextTick(true); d != idleTickMax {
		t.Fatalf("suspended, nothing held or avoided: next check in %v, want %v", d, idleTickMax)
	}
	p.AvoidTalkgroup(1, 101, now.Add(20*time.Second))
	p.HoldTalkgroup(1, 102, now.Add(45*time.Second))
	if d := p.nextTick(true); d != 20*time.Second {
		t.Fatalf("suspended, an avoid lifting in 20 s: next check in %v", d)
	}
	p.AvoidTalkgroup(1, 103, now.Add(-time.Second)) // already over: checked at the next tick
	if d := p.nextTick(true); d != 250*time.Millisecond {
		t.Fatalf("suspended, an avoid already over: next check in %v, want the tick", d)
	}
	p.AvoidTalkgroup(1, 104, time.Time{}) // until lifted: no timer for it
	p.Unavoid(1, 103)
	p.Unavoid(1, 101)
	if d := p.nextTick(true); d != 45*time.Second {
		t.Fatalf("suspended, a hold lifting in 45 s: next check in %v", d)
	}
}

// TestPlayer_ResumesForACallThatPlayedOutBeforeTheIdleCheck: the sound
// device's reader (oto's mixer) keeps pulling into its own buffer while the
// device is suspended, so a short call can be read to its end before Run
// looks at the player again. The device must still be resumed for it, or
// the call sits unheard in the output's buffer. Run is held inside its
// OnChange callback (called just before the idle check) until the call is
// over, which is the interleaving a loaded machine produced now and then.
func TestPlayer_ResumesForACallThatPlayedOutBeforeTheIdleCheck(t *testing.T) {
	out := &suspendingOutput{fakeOutput: newFakeOutput(), state: make(chan string, 16)}
	audio := newFakeAudio(t)
	p, err := New(Options{Audio: audio, Output: out, Tick: 5 * time.Millisecond, SuspendAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Armed, Run's next OnChange says so on held and waits for release.
	var armed atomic.Bool
	held, release := make(chan struct{}), make(chan struct{})
	p.OnChange(func(State) {
		if armed.CompareAndSwap(true, false) {
			held <- struct{}{}
			<-release
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	out.waitFor(t, "suspend") // nothing to play
	<-out.started
	out.mu.Lock()
	src := out.src
	out.mu.Unlock()
	call := audio.put(t, 1, audiotest.ConstWAV(50, 48000))
	const frames = 48000 / 20 // the call's 50 ms
	read := make(chan struct{})
	go func() { // the device: reads while suspended, as oto's mixer does
		buf := make([]byte, 256*FrameSize)
		got := 0
		for {
			n, err := src.Read(buf)
			if got < frames && got+n/FrameSize >= frames {
				close(read)
			}
			got += n / FrameSize
			if err != nil {
				return
			}
		}
	}()

	armed.Store(true)
	p.Enqueue(call)
	audiotest.Await(t, held, "Run to see the queued call") // Run waits before its idle check
	func() {
		defer close(release) // then looks: nothing queued, nothing playing
		audiotest.Await(t, read, "the device to read the whole call")
		deadline := time.Now().Add(audiotest.HangGuard)
		for st := p.State(); st.Call != nil || st.Queue > 0; st = p.State() {
			if time.Now().After(deadline) {
				t.Fatalf("the call never ended: %+v", st)
			}
			time.Sleep(time.Millisecond)
		}
	}()

	out.waitFor(t, "resume") // the call's audio is in the device's buffer
	out.waitFor(t, "suspend")
}
