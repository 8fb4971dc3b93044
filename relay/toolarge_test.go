package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"earshot/relay/cache"
	"earshot/relay/event"
)

// TestRelay_TooLargeAudioIsSaidSoAndFetchedOnce: audio over the limit is
// ErrTooLarge (it was ErrUnavailable, "the server is unreachable"), and
// neither the prefetch nor later requests download it again (it was
// downloaded four times by the prefetch alone).
func TestRelay_TooLargeAudioIsSaidSoAndFetchedOnce(t *testing.T) {
	errBackendTooLarge := errors.New("fake: the call's audio is larger than Earshot takes")
	for _, c := range []struct {
		name  string
		fetch func(ctx context.Context, c event.Call, w io.Writer) (string, error)
	}{
		{"over the backend's cap", func(context.Context, event.Call, io.Writer) (string, error) {
			return "", fmt.Errorf("call 7: %w", errBackendTooLarge)
		}},
		{"over one cache entry", func(_ context.Context, _ event.Call, w io.Writer) (string, error) {
			_, err := w.Write(wavBytes(2 << 20)) // the test cache holds 1 MiB
			return "", err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend()
			b.fetch = c.fetch
			cch, err := cache.Open(t.TempDir(), 1<<20, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cch.Close)
			r, err := New(Options{Backend: b, Cache: cch, IsTooLarge: func(err error) bool { return errors.Is(err, errBackendTooLarge) }})
			if err != nil {
				t.Fatal(err)
			}
			r.prefetchPauses = []time.Duration{0, 0, 0}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			defer func() { cancel(); <-done }()
			<-b.ready
			b.send(callEvent(7))
			deadline := time.Now().Add(10 * time.Second) // a hang guard
			for r.Status().PrefetchFailures < 1 {
				if time.Now().After(deadline) {
					t.Fatal("the prefetch never gave up")
				}
				time.Sleep(5 * time.Millisecond)
			}
			for range 2 {
				_, err := r.Audio(context.Background(), 7)
				if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("Audio = %v, want ErrTooLarge (and not ErrUnavailable)", err)
				}
			}
			if n := b.fetches.Load(); n != 1 {
				t.Fatalf("the too-large audio was downloaded %d times, want once", n)
			}
		})
	}
}
