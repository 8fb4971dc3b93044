package backendtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// FaultOptions say how a FaultProxy mistreats connections. Each accepted
// connection draws one fate: reset, blackholed, slowed, or left alone.
type FaultOptions struct {
	// Seed makes the draws repeatable.
	Seed uint64
	// Reset, Blackhole and Slow are the chances (0–1, summing to at most
	// 1) that a connection is reset (RST, both ways), goes silent (no
	// byte forwarded either way, for BlackholeFor, then reset), or is
	// slowed (every chunk delayed by SlowBy).
	Reset, Blackhole, Slow float64
	// FaultWithin bounds when (after the connection opened) a reset or
	// blackhole strikes; the moment is drawn uniformly.
	FaultWithin time.Duration
	// BlackholeFor is how long a blackholed connection stays silent
	// before it is reset. 0 is FaultWithin.
	BlackholeFor time.Duration
	// SlowBy delays each chunk of a slowed connection.
	SlowBy time.Duration
}

// FaultCounts count what a FaultProxy did.
type FaultCounts struct {
	Connections, Refused, Resets, Blackholes, Slowed int
}

// FaultProxy is a TCP proxy on loopback that forwards to a target address
// and injects network faults: resets, blackholes (a connection that goes
// silent without closing) and slow links. Put it between a client and the
// fake server (dial Addr instead of the server's address). Its methods are
// safe for concurrent use; Close stops it and waits for every goroutine.
type FaultProxy struct {
	ln     net.Listener
	target string
	opts   FaultOptions

	mu     sync.Mutex
	rnd    *rand.Rand
	conns  map[net.Conn]struct{}
	counts FaultCounts
	closed bool
	wg     sync.WaitGroup
	quit   chan struct{}
}

// NewFaultProxy starts a proxy to target on a free loopback port.
func NewFaultProxy(target string, opts FaultOptions) (*FaultProxy, error) {
	if opts.Reset < 0 || opts.Blackhole < 0 || opts.Slow < 0 || opts.Reset+opts.Blackhole+opts.Slow > 1 {
		return nil, errors.New("backendtest: fault chances must be in 0–1 and sum to at most 1")
	}
	if opts.BlackholeFor <= 0 {
		opts.BlackholeFor = opts.FaultWithin
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backendtest: fault proxy: %w", err)
	}
	p := &FaultProxy{ln: ln, target: target, opts: opts, rnd: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address (host:port).
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// URL is http://Addr.
func (p *FaultProxy) URL() string { return "http://" + p.Addr() }

// Counts returns what the proxy has done so far.
func (p *FaultProxy) Counts() FaultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Close stops accepting, resets every open connection and waits for the
// proxy's goroutines.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	for c := range p.conns {
		reset(c)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

type fate int

const (
	fateNone fate = iota
	fateReset
	fateBlackhole
	fateSlow
)

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			return
		}
		p.counts.Connections++
		f, at := fateNone, time.Duration(0)
		switch x := p.rnd.Float64(); {
		case x < p.opts.Reset:
			f = fateReset
		case x < p.opts.Reset+p.opts.Blackhole:
			f = fateBlackhole
		case x < p.opts.Reset+p.opts.Blackhole+p.opts.Slow:
			f = fateSlow
			p.counts.Slowed++
		}
		if p.opts.FaultWithin > 0 {
			at = time.Duration(p.rnd.Int64N(int64(p.opts.FaultWithin)))
		}
		p.conns[client] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(client, f, at)
	}
}

// serve forwards one connection until either side ends or its fate
// strikes.
func (p *FaultProxy) serve(client net.Conn, f fate, at time.Duration) {
	defer p.wg.Done()
	defer p.forget(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		// The server is down (restarting): refused, as it would be.
		p.mu.Lock()
		p.counts.Refused++
		p.mu.Unlock()
		reset(client)
		return
	}
	p.track(server)
	defer p.forget(server)
	var silent sync.Mutex // held while blackholed: the copiers block on it
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				silent.Lock()
				silent.Unlock() //nolint:staticcheck // a gate: waits out a blackhole
				if f == fateSlow {
					time.Sleep(p.opts.SlowBy)
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
		}
	}
	go pipe(server, client)
	go pipe(client, server)
	var strike <-chan time.Time
	if f == fateReset || f == fateBlackhole {
		t := time.NewTimer(at)
		defer t.Stop()
		strike = t.C
	}
	finished := 0
	for finished < 2 {
		select {
		case <-done:
			finished++
		case <-p.quit:
			reset(client)
			reset(server)
			strike = nil
		case <-strike:
			strike = nil
			p.mu.Lock()
			if f == fateReset {
				p.counts.Resets++
			} else {
				p.counts.Blackholes++
			}
			p.mu.Unlock()
			if f == fateBlackhole {
				silent.Lock()
				select {
				case <-time.After(p.opts.BlackholeFor):
				case <-p.quit:
				}
			}
			reset(client)
			reset(server)
			if f == fateBlackhole {
				silent.Unlock()
			}
		}
	}
}

func (p *FaultProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *FaultProxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// reset closes c with a TCP reset rather than an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
