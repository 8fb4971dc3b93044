//go:build !headless && !windows && !darwin

package app

import (
	"context"
	"sync"

	"github.com/godbus/dbus/v5"

	"earshot/ui/ipc"
	"earshot/ui/listening"
	"earshot/ui/mpris"
	"earshot/ui/notify"
)

// startNotifications shows notifications through the freedesktop service
// on the session bus (none without a bus). The returned func lets go of the
// bus.
func (r *resident) startNotifications(ctx context.Context, wg *sync.WaitGroup) (stop func()) {
	bus, err := dbus.ConnectSessionBus()
	if err != nil {
		r.log.Info("notifications unavailable (no session bus)", "err", err)
		return func() {}
	}
	note := notify.New(bus, "Earshot", r.log.With("part", "notify"))
	wg.Go(func() { note.Run(ctx) })
	r.note = note
	return func() { bus.Close() }
}

// startMediaKeys puts Earshot on the session bus as an MPRIS player, so
// media keys and the desktop's media widgets reach the listening core. The
// returned func takes it off.
func (r *resident) startMediaKeys(ctx context.Context, wg *sync.WaitGroup) (stop func()) {
	m, err := mpris.Start(ctx, mprisControls{r}, r.log.With("part", "mpris"))
	if err != nil {
		r.log.Info("media keys unavailable (no MPRIS on the session bus)", "err", err)
		return func() {}
	}
	wg.Go(func() { followMPRIS(ctx, r.core, m) })
	return m.Close
}

// mprisControls drives the listening core from media keys; what MPRIS
// shows comes from the core's snapshot, like every other view.
type mprisControls struct{ r *resident }

func (m mprisControls) Raise()     { m.r.showWindow(ipc.ShowPlayer) }
func (m mprisControls) PlayPause() { m.r.core.TogglePause() }
func (m mprisControls) Play()      { m.r.core.Resume() }
func (m mprisControls) Pause()     { m.r.core.Pause() }
func (m mprisControls) Next()      { m.r.core.Skip() }
func (m mprisControls) Previous()  { m.r.core.Replay() }
func (m mprisControls) Now() mpris.NowPlaying {
	if m.r.core == nil {
		return mpris.NowPlaying{}
	}
	return nowPlaying(m.r.core.Snapshot())
}

// nowPlaying is what MPRIS shows of a snapshot: the title from the
// current catalogue (never a label of another server).
func nowPlaying(s *listening.Snapshot) mpris.NowPlaying {
	n := mpris.NowPlaying{Playing: s.Call != nil && !s.Paused, Paused: s.Paused, Length: s.Duration}
	if s.Call != nil {
		n.CallID = s.Call.ID
		n.Title = s.Title
		n.Artist = s.Call.SystemLabel
	}
	return n
}

// followMPRIS tells MPRIS about every change.
func followMPRIS(ctx context.Context, core *listening.Core, bus *mpris.Bus) {
	listening.Follow(ctx, core, bus.Changed)
}
