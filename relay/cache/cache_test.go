package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var wavHead = []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00")

func open(t *testing.T, dir string, max int64) *Cache {
	t.Helper()
	c, err := Open(dir, max, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func read(t *testing.T, e *Entry) []byte {
	t.Helper()
	f, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPutLookupAndSniffedType(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	data := append(append([]byte{}, wavHead...), make([]byte, 100)...)
	e, err := c.Put("42", data)
	if err != nil {
		t.Fatal(err)
	}
	if e.ContentType != "audio/wav" || e.Size != int64(len(data)) || e.ETag == "" {
		t.Fatalf("entry = %+v", e)
	}
	got, ok := c.Lookup("42")
	if !ok || !bytes.Equal(read(t, got), data) {
		t.Fatal("lookup after put failed")
	}
	st, err := os.Stat(filepath.Join(dir, "42"+fileExt))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode %v, err %v; want 0600", st.Mode().Perm(), err)
	}
	dst, _ := os.Stat(dir)
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v, want 0700", dst.Mode().Perm())
	}
	if _, ok := c.Lookup("43"); ok {
		t.Fatal("lookup of a missing key succeeded")
	}
}

func TestInvalidKeys(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	for _, k := range []string{"", ".", "..", "../x", "a/b", ".hidden", strings.Repeat("a", 129), "a b", "ä"} {
		if _, err := c.Put(k, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", k)
		}
		if _, err := c.Get(context.Background(), k, nil); err == nil {
			t.Errorf("Get(%q) accepted", k)
		}
	}
}

func TestLRUEviction(t *testing.T) {
	c := open(t, t.TempDir(), 300)
	blob := make([]byte, 100)
	for _, k := range []string{"1", "2", "3"} {
		if _, err := c.Put(k, blob); err != nil {
			t.Fatal(err)
		}
	}
	c.Lookup("1") // 2 is now the least recently used
	if _, err := c.Put("4", blob); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lookup("2"); ok {
		t.Fatal("least recently used entry 2 was not evicted")
	}
	for _, k := range []string{"1", "3", "4"} {
		if _, ok := c.Lookup(k); !ok {
			t.Fatalf("entry %s evicted, want kept", k)
		}
	}
	if c.Size() > 300 || c.Len() != 3 {
		t.Fatalf("size %d len %d", c.Size(), c.Len())
	}
	if _, err := os.Stat(c.path("2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("evicted file still on disk")
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	if _, err := c.Put("7", []byte("seven")); err != nil {
		t.Fatal(err)
	}
	// A partial download left by a crash is cleaned up.
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := open(t, dir, 1<<20)
	e, ok := c2.Lookup("7")
	if !ok || string(read(t, e)) != "seven" {
		t.Fatal("entry lost across restart")
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"123")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("partial download not removed at open")
	}
	// A smaller bound at restart evicts down to it.
	for i := 0; i < 5; i++ {
		if _, err := c2.Put(string(rune('a'+i)), make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	c3 := open(t, dir, 2500)
	if c3.Size() > 2500 {
		t.Fatalf("size after reopen with a smaller bound = %d", c3.Size())
	}
}

func TestGetSingleFlight(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	var fetches atomic.Int32
	release := make(chan struct{})
	fetch := func(ctx context.Context, w io.Writer) error {
		fetches.Add(1)
		<-release
		_, err := w.Write([]byte("audio"))
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := c.Get(context.Background(), "9", fetch)
			if err == nil && e.Size != 5 {
				err = errors.New("wrong size")
			}
			errs <- err
		}()
	}
	// Let every goroutine join the fill before it completes.
	for {
		c.mu.Lock()
		n := 0
		if f := c.inflight["9"]; f != nil {
			n = f.waiters
		}
		c.mu.Unlock()
		if n == 50 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestGetFailureCachesNothing(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, 1<<20)
	boom := errors.New("server said no")
	_, err := c.Get(context.Background(), "5", func(ctx context.Context, w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := c.Lookup("5"); ok {
		t.Fatal("failed fetch was cached")
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 0 {
		t.Fatalf("files left after a failed fetch: %v", des)
	}
}

func TestGetTooLarge(t *testing.T) {
	c := open(t, t.TempDir(), 1000)
	_, err := c.Get(context.Background(), "big", func(ctx context.Context, w io.Writer) error {
		_, err := w.Write(make([]byte, 1001))
		return err
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestGetCancelledWhenAllWaitersLeave(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	_, err := c.Get(ctx, "1", func(fctx context.Context, w io.Writer) error {
		<-fctx.Done()
		close(stopped)
		return fctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	<-stopped // the fetch saw the cancellation
}

func TestGetSurvivesOneWaiterLeaving(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	release := make(chan struct{})
	fetch := func(ctx context.Context, w io.Writer) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err := w.Write([]byte("ok"))
		return err
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "1", fetch)
		res <- err
	}()
	done1 := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx1, "1", fetch)
		done1 <- err
	}()
	for {
		c.mu.Lock()
		n := 0
		if f := c.inflight["1"]; f != nil {
			n = f.waiters
		}
		c.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter err = %v", err)
	}
	close(release)
	if err := <-res; err != nil {
		t.Fatalf("remaining waiter err = %v", err)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	c, err := Open(b.TempDir(), 1<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	c.Put("1", []byte("x"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Lookup("1")
	}
}

func TestCloseCancelsAndWaitsForFills(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	started := make(chan struct{})
	var finished atomic.Bool
	go c.Get(context.Background(), "1", func(ctx context.Context, w io.Writer) error {
		close(started)
		<-ctx.Done()
		finished.Store(true)
		return ctx.Err()
	})
	<-started
	c.Close()
	if !finished.Load() {
		t.Fatal("Close returned before the fill ended")
	}
	if _, err := c.Get(context.Background(), "2", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}

// TestRefillFetchesAfreshAndReplaces: Refill never serves what is cached
// under the key; it fetches and replaces it, and Lookup then has the new
// bytes.
func TestRefillFetchesAfreshAndReplaces(t *testing.T) {
	c := open(t, t.TempDir(), 1<<20)
	if _, err := c.Put("7-unverified", []byte("old bytes")); err != nil {
		t.Fatal(err)
	}
	fetches := 0
	fetch := func(_ context.Context, w io.Writer) error {
		fetches++
		_, err := w.Write([]byte("new bytes"))
		return err
	}
	for range 2 {
		e, err := c.Refill(context.Background(), "7-unverified", fetch)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := e.Open()
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "new bytes" {
			t.Fatalf("Refill served %q", b)
		}
	}
	if fetches != 2 || c.Len() != 1 {
		t.Fatalf("%d fetches, %d entries; want 2 fetches (one per Refill) and one entry", fetches, c.Len())
	}
}
