package relay_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"earshot/relay"
	"earshot/relay/backend"
	"earshot/relay/cache"
	"earshot/relay/server"
)

// loopbackRelay is a relay core on a backend, with its audio cache in a
// temporary directory, behind the loopback HTTP/WebSocket server (stream
// token "bench").
type loopbackRelay struct {
	core *relay.Relay
	addr string // host:port of the loopback server
	stop func() error
}

// startLoopbackRelay runs it, its cache bounded to cacheBytes, until stop
// is called or the test ends; stop returns what the core's Run returned.
func startLoopbackRelay(tb testing.TB, b relay.Backend, cacheBytes int64) *loopbackRelay {
	tb.Helper()
	c, err := cache.Open(tb.TempDir(), cacheBytes, nil)
	if err != nil {
		tb.Fatal(err)
	}
	core, err := relay.New(relay.Options{Backend: b, Cache: c,
		IsUnavailable: func(err error) bool { return errors.Is(err, backend.ErrCallUnavailable) }})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(server.Options{Source: core, Auth: oneToken{}})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = core.Run(ctx) })
	wg.Go(func() { srv.Serve(ctx, ln) })
	var once sync.Once
	stop := func() error {
		once.Do(func() { cancel(); wg.Wait(); c.Close() })
		return runErr
	}
	tb.Cleanup(func() { stop() })
	return &loopbackRelay{core: core, addr: ln.Addr().String(), stop: stop}
}
