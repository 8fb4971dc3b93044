package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// serveOn runs s.Serve on a loopback listener with small socket buffers
// until the test ends, and returns the address.
func serveOn(t *testing.T, s *Server) string {
	t.Helper()
	ln := smallBufListener{listenLoopback(t)}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	return ln.Addr().String()
}

// readUntilClosed reads conn until the server closes it and reports
// whether it did (false: the hang guard ran out first).
func readUntilClosed(t *testing.T, conn net.Conn) bool {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not a target
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestServe_StalledAudioReaderIsCutOff(t *testing.T) {
	s, src, _, _ := newTestServerOpts(t, Options{Timeouts: Timeouts{Write: 200 * time.Millisecond}})
	addr := serveOn(t, s)
	const size = 4 << 20
	src.addCall(t, 1, wavFile(size))
	resp := rawGet(t, addr, "/v1/calls/1/audio?token="+goodToken, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("audio = %d", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	// The reader stalls: the relay's write blocks, its deadline passes,
	// and the download ends instead of holding the connection forever.
	waitUntil(t, "the stalled download to be cut off", func() bool { return s.liveCount() == 0 })
	n, _ := io.Copy(io.Discard, resp.Body)
	if n+4096 >= size {
		t.Fatalf("all %d bytes arrived; want the download cut off", size)
	}
}

// Each chunk gets its own deadline: a download that runs far longer than
// the write timeout is not cut while its reader keeps reading.
func TestServe_SteadyAudioReaderOutlastsTheWriteTimeout(t *testing.T) {
	const wait = 500 * time.Millisecond
	s, src, _, _ := newTestServerOpts(t, Options{Timeouts: Timeouts{Write: wait}})
	addr := serveOn(t, s)
	const size = 4 << 20
	src.addCall(t, 1, wavFile(size))
	start := time.Now()
	resp := rawGet(t, addr, "/v1/calls/1/audio?token="+goodToken, nil)
	buf := make([]byte, 32<<10)
	var n int
	for {
		k, err := io.ReadFull(resp.Body, buf)
		n += k
		if err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // a slow player: 128 reads of 32 KiB
	}
	if took := time.Since(start); took < wait {
		t.Fatalf("the download took %v, less than the write timeout: the test proves nothing", took)
	}
	if n != size {
		t.Fatalf("a steady reader got %d of %d bytes: the download was cut off", n, size)
	}
}

func TestServe_SlowlorisClientThatNeverFinishesHeadersIsClosed(t *testing.T) {
	s, _, _, _ := newTestServerOpts(t, Options{Timeouts: Timeouts{ReadHeader: 100 * time.Millisecond, Read: time.Hour, Idle: time.Hour}})
	addr := serveOn(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	if !readUntilClosed(t, conn) {
		t.Fatal("a client that never finished its headers still holds its connection")
	}
}

func TestServe_IdleKeepAliveConnectionIsClosed(t *testing.T) {
	s, _, _, _ := newTestServerOpts(t, Options{Timeouts: Timeouts{Idle: 100 * time.Millisecond, Read: time.Hour, ReadHeader: time.Hour}})
	addr := serveOn(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := conn.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("health: %q %v", buf[:n], err)
	}
	if !readUntilClosed(t, conn) {
		t.Fatal("an idle kept-alive connection was never closed")
	}
}

func TestServe_HeadersOverSixteenKiBAreRefused(t *testing.T) {
	s, _, _, _ := newTestServerOpts(t, Options{})
	addr := serveOn(t, s)
	for _, tc := range []struct {
		size int
		want int
	}{
		{12 << 10, http.StatusOK},
		{maxHeaderBlock - 1<<10, http.StatusOK},
		// Go allows 4 KiB of slack over MaxHeaderBytes: a 17 KiB header
		// (the README's cap is 16) was accepted while MaxHeaderBytes was 16.
		{maxHeaderBlock + 1<<10, http.StatusRequestHeaderFieldsTooLarge},
		{32 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/health", nil)
		req.Header.Set("X-Big", strings.Repeat("a", tc.size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%d KiB header = %d, want %d", tc.size>>10, resp.StatusCode, tc.want)
		}
	}
}

func TestLive_InboundMessageOverFourKiBClosesTheConnection(t *testing.T) {
	for name, dialer := range map[string]*websocket.Dialer{
		"in one frame": {WriteBufferSize: 64 << 10},
		"fragmented":   {WriteBufferSize: 1 << 10}, // frames of 1 KiB, each under the limit
	} {
		t.Run(name, func(t *testing.T) {
			_, src, ts := newTestServer(t)
			c, err := dialWith(t, ts.URL, goodToken, nil, dialer)
			if err != nil {
				t.Fatal(err)
			}
			readEvent(t, c)
			// 4 KiB is allowed (and ignored): the connection goes on.
			if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", maxInboundMessage))); err != nil {
				t.Fatal(err)
			}
			src.addCall(t, 1, nil)
			if m := readEvent(t, c); m["type"] != "call.new" {
				t.Fatalf("after a 4 KiB message: %v, want the next call", m)
			}
			// One byte more and the relay hangs up.
			if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", maxInboundMessage+1))); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					continue
				}
				var ce *websocket.CloseError
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("a message over 4 KiB did not close the connection")
				}
				if errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
					t.Fatalf("closed with %d, want %d (message too big)", ce.Code, websocket.CloseMessageTooBig)
				}
				return
			}
		})
	}
}

// When the HTTP server stops with an error, Serve still stops the
// enforcer: no goroutine outlives it.
func TestServe_ErrorStopsTheEnforcer(t *testing.T) {
	s, err := New(Options{Source: newFakeSource(t), Auth: newFakeAuth()})
	if err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	ln.Close()
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve on a closed listener returned no error")
	}
	select {
	case <-s.stopped:
	default:
		t.Fatal("the enforcer still runs after Serve returned an error")
	}
}
