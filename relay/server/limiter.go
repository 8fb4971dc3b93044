package server

import (
	"sync"
	"time"
)

// Failed-authentication limits per client.
const (
	maxFailures    = 20
	failureWindow  = time.Minute
	blockFor       = time.Minute
	maxLimiterKeys = 4096
)

// failureLimiter counts failed authentications per client. It is shared by
// all requests (the relay's rate-limit table) and guarded by its mutex.
type failureLimiter struct {
	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	windowStart  time.Time
	count        int
	blockedUntil time.Time
}

// fail records a failed attempt by key at now and reports whether the
// client is over the limit (and so should get 429).
func (l *failureLimiter) fail(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = make(map[string]*failures)
	}
	f := l.clients[key]
	if f == nil {
		if len(l.clients) >= maxLimiterKeys {
			l.sweepLocked(now)
		}
		f = &failures{windowStart: now}
		l.clients[key] = f
	}
	if now.Before(f.blockedUntil) {
		return true
	}
	if now.Sub(f.windowStart) >= failureWindow {
		f.windowStart, f.count = now, 0
	}
	f.count++
	if f.count >= maxFailures {
		// This attempt still gets its 401; the ones after it, 429.
		f.blockedUntil = now.Add(blockFor)
		f.windowStart, f.count = now, 0
	}
	return false
}

func (l *failureLimiter) sweepLocked(now time.Time) {
	for k, f := range l.clients {
		if !now.Before(f.blockedUntil) && now.Sub(f.windowStart) >= failureWindow {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxLimiterKeys {
		clear(l.clients) // a flood of distinct clients: start over rather than grow
	}
}
