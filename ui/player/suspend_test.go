package player

import (
	"context"
	"sync"
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

	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e := <-out.state:
				if e == want {
					return
				}
			case <-deadline:
				t.Fatalf("the output was never told to %s (got %v)", want, out.events)
			}
		}
	}
	waitFor("suspend") // nothing to play
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
	waitFor("resume") // a call to play
	// It plays out, then the device goes idle again.
	waitFor("suspend")
	if st := p.State(); st.Call != nil {
		t.Fatalf("suspended while call %d is still playing", st.Call.ID)
	}
}
