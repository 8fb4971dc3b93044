//go:build unix

// Command demoserver serves the built-in demo's made-up radio traffic (a
// public-access OpenScanner 1.3.3 server, relay/demo) on a loopback port,
// as a separate process, for build/screenshot.sh: Earshot signs in to it
// as to a real server, and the script can take it down to picture an
// outage. It prints the server's URL on its first line; SIGUSR1 stops the
// server (connections close, the port refuses), SIGUSR2 starts it again on
// the same port, SIGINT or SIGTERM ends it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"earshot/relay/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// A call every 3 to 6 s, every second one with a transcript: a window
	// pictured mid-call shows one.
	srv, err := demo.StartWith(ctx, log, demo.Options{MinGap: 3 * time.Second, MaxGap: 6 * time.Second, TranscriptEvery: 2,
		TranscriptDelay: 300 * time.Millisecond, History: 30})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoserver:", err)
		os.Exit(1)
	}
	defer srv.Close()
	fmt.Println(srv.URL())
	toggle := make(chan os.Signal, 2)
	signal.Notify(toggle, syscall.SIGUSR1, syscall.SIGUSR2)
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-toggle:
			if s == syscall.SIGUSR1 {
				srv.Stop()
				log.Info("the server is down")
			} else if err := srv.Start(); err != nil {
				log.Error("could not start again", "err", err)
			} else {
				log.Info("the server is up again", "url", srv.URL())
			}
		}
	}
}
