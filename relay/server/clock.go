package server

import "time"

// Clock is the server's time: web-player sessions, rate limits, and the
// moments tokens stop working. Tests pass a fake one to move time without
// waiting; the relay uses the real one (nil in Options).
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at once
	// if it already has) and a func that releases it early.
	At(t time.Time) (<-chan time.Time, func())
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) At(t time.Time) (<-chan time.Time, func()) {
	timer := time.NewTimer(time.Until(t))
	return timer.C, func() { timer.Stop() }
}
