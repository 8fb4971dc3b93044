//go:build !windows && !darwin

// Package mpris puts Earshot on the Linux session bus as an MPRIS media
// player (org.mpris.MediaPlayer2 and .Player), so media keys and desktop
// media widgets can play/pause, skip and replay, and show what is playing
// (talkgroup as title, system as artist).
//
// It owns only the D-Bus side; the player behind it is an interface.
package mpris

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// Bus names and paths from the MPRIS specification.
const (
	BusName     = "org.mpris.MediaPlayer2.earshot"
	ObjectPath  = "/org/mpris/MediaPlayer2"
	rootIface   = "org.mpris.MediaPlayer2"
	playerIface = "org.mpris.MediaPlayer2.Player"
)

// NowPlaying is what the player reports.
type NowPlaying struct {
	Playing, Paused bool
	CallID          int64
	Title, Artist   string
	Length          time.Duration
}

// Controls is the player MPRIS drives.
type Controls interface {
	PlayPause()
	Play()
	Pause()
	Next()
	Previous()
	Now() NowPlaying
}

// Raiser is a Controls that can also bring its window forward (MPRIS
// Raise, e.g. a click on the desktop's media widget).
type Raiser interface {
	Raise()
}

// Bus is Earshot's MPRIS presence. Close removes it.
type Bus struct {
	conn  *dbus.Conn
	ctl   Controls
	props *prop.Properties
	log   *slog.Logger
	own   bool // the connection is ours to close

	mu   sync.Mutex
	last NowPlaying
}

// Start connects to the session bus and exports the player.
func Start(ctx context.Context, ctl Controls, logger *slog.Logger) (*Bus, error) {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	b, err := StartOn(conn, ctl, logger)
	if err != nil {
		conn.Close()
		return nil, err
	}
	b.own = true
	return b, nil
}

// StartOn exports the player on conn (tests use a private bus).
func StartOn(conn *dbus.Conn, ctl Controls, logger *slog.Logger) (*Bus, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{conn: conn, ctl: ctl, log: logger}
	if err := conn.Export(root{b}, ObjectPath, rootIface); err != nil {
		return nil, err
	}
	// Seek is named SeekBy in Go (go vet reserves Seek for io.Seeker).
	if err := conn.ExportWithMap(methods{b}, map[string]string{"SeekBy": "Seek"}, ObjectPath, playerIface); err != nil {
		return nil, err
	}
	now := ctl.Now()
	b.last = now
	_, canRaise := ctl.(Raiser)
	props, err := prop.Export(conn, ObjectPath, prop.Map{
		rootIface: {
			"CanQuit":             {Value: false},
			"CanRaise":            {Value: canRaise},
			"HasTrackList":        {Value: false},
			"Identity":            {Value: "Earshot"},
			"DesktopEntry":        {Value: "earshot"},
			"SupportedUriSchemes": {Value: []string{}},
			"SupportedMimeTypes":  {Value: []string{}},
		},
		playerIface: {
			"PlaybackStatus": {Value: status(now), Emit: prop.EmitTrue},
			"LoopStatus":     {Value: "None"},
			"Rate":           {Value: 1.0},
			"Shuffle":        {Value: false},
			"Metadata":       {Value: metadata(now), Emit: prop.EmitTrue},
			"Volume":         {Value: 1.0},
			"Position":       {Value: int64(0), Emit: prop.EmitFalse},
			"MinimumRate":    {Value: 1.0},
			"MaximumRate":    {Value: 1.0},
			"CanGoNext":      {Value: true},
			"CanGoPrevious":  {Value: true},
			"CanPlay":        {Value: true},
			"CanPause":       {Value: true},
			"CanSeek":        {Value: false},
			"CanControl":     {Value: true},
		},
	})
	if err != nil {
		return nil, err
	}
	b.props = props
	node := &introspect.Node{Name: ObjectPath, Interfaces: []introspect.Interface{
		introspect.IntrospectData, prop.IntrospectData,
		{Name: rootIface, Methods: introspect.Methods(root{b}), Properties: props.Introspection(rootIface)},
		{Name: playerIface, Methods: introspect.Methods(methods{b}), Properties: props.Introspection(playerIface)},
	}}
	if err := conn.Export(introspect.NewIntrospectable(node), ObjectPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		return nil, err
	}
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return nil, fmt.Errorf("%s is taken (another Earshot?)", BusName)
	}
	return b, nil
}

func status(n NowPlaying) string {
	switch {
	case n.Paused:
		return "Paused"
	case n.Playing:
		return "Playing"
	}
	return "Stopped"
}

func metadata(n NowPlaying) map[string]dbus.Variant {
	id := dbus.ObjectPath("/org/mpris/MediaPlayer2/TrackList/NoTrack")
	if n.CallID > 0 {
		id = dbus.ObjectPath(fmt.Sprintf("/app/earshot/call/%d", n.CallID))
	}
	m := map[string]dbus.Variant{"mpris:trackid": dbus.MakeVariant(id)}
	if n.Title != "" {
		m["xesam:title"] = dbus.MakeVariant(n.Title)
	}
	if n.Artist != "" {
		m["xesam:artist"] = dbus.MakeVariant([]string{n.Artist})
	}
	if n.Length > 0 {
		m["mpris:length"] = dbus.MakeVariant(n.Length.Microseconds())
	}
	return m
}

// Changed tells desktop widgets the state changed (sends PropertiesChanged
// only when something they show did).
func (b *Bus) Changed() {
	now := b.ctl.Now()
	b.mu.Lock()
	same := now == b.last
	b.last = now
	b.mu.Unlock()
	if same {
		return
	}
	b.props.SetMust(playerIface, "PlaybackStatus", status(now))
	b.props.SetMust(playerIface, "Metadata", metadata(now))
}

// Close releases the bus name (and the connection, when Start made it).
func (b *Bus) Close() {
	_, _ = b.conn.ReleaseName(BusName)
	if b.own {
		b.conn.Close()
	}
}

type root struct{ b *Bus }

func (r root) Raise() *dbus.Error {
	if x, ok := r.b.ctl.(Raiser); ok {
		x.Raise()
	}
	return nil
}
func (root) Quit() *dbus.Error { return nil }

type methods struct{ b *Bus }

func (m methods) Next() *dbus.Error        { m.b.ctl.Next(); m.b.Changed(); return nil }
func (m methods) Previous() *dbus.Error    { m.b.ctl.Previous(); m.b.Changed(); return nil }
func (m methods) Pause() *dbus.Error       { m.b.ctl.Pause(); m.b.Changed(); return nil }
func (m methods) PlayPause() *dbus.Error   { m.b.ctl.PlayPause(); m.b.Changed(); return nil }
func (m methods) Stop() *dbus.Error        { m.b.ctl.Pause(); m.b.Changed(); return nil }
func (m methods) Play() *dbus.Error        { m.b.ctl.Play(); m.b.Changed(); return nil }
func (m methods) SeekBy(int64) *dbus.Error { return nil }
func (m methods) SetPosition(dbus.ObjectPath, int64) *dbus.Error {
	return nil
}
func (m methods) OpenUri(string) *dbus.Error { return nil }
