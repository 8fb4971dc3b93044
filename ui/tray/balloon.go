package tray

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf16"

	"earshot/ui/notify"
)

// Balloons shows notifications where the platform has no D-Bus
// notification service: on Windows, as the notification area's balloons,
// which Windows 10 and 11 show as toasts under the program's name (its
// version information's FileDescription, "Earshot"); on macOS, in the
// notification centre through osascript. They carry no buttons: a
// notice's actions are left out.
//
// Show and Notify never block (the listening core calls them as calls
// arrive); Run shows what they queued until its context ends.
type Balloons struct {
	send  func(title, body string, urgent bool) error
	log   *slog.Logger
	queue chan notify.Notice
	retry time.Duration // wait before asking again for a tray not there yet
}

// errNoTrayIcon: the tray icon a balloon hangs from is not there (yet).
var errNoTrayIcon = errors.New("no Earshot icon in the notification area")

// balloonsQueued bounds the notices waiting, as ui/notify's does.
const balloonsQueued = 8

// NewBalloons shows balloons from this process's tray icon (Windows) or in
// the notification centre (macOS); elsewhere every one fails, and is
// logged and dropped.
func NewBalloons(log *slog.Logger) *Balloons { return newBalloons(showBalloon, log) }

func newBalloons(send func(title, body string, urgent bool) error, log *slog.Logger) *Balloons {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Balloons{send: send, log: log, queue: make(chan notify.Notice, balloonsQueued), retry: 500 * time.Millisecond}
}

// Show queues n (dropped, and logged, when the queue is full).
func (b *Balloons) Show(n notify.Notice) {
	select {
	case b.queue <- n:
	default:
		b.log.Warn("a notification was dropped: too many waiting", "title", n.Title)
	}
}

// Notify queues a plain notice.
func (b *Balloons) Notify(title, body string) { b.Show(notify.Notice{Title: title, Body: body}) }

// Run shows the queued notices until ctx ends. A notice that comes before
// the tray icon is up (at start) is tried again for a few seconds.
func (b *Balloons) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-b.queue:
			for try := 0; ; try++ {
				err := b.send(n.Title, n.Body, n.Urgent)
				if err == nil {
					break
				}
				if !errors.Is(err, errNoTrayIcon) || try == 10 {
					b.log.Info("a notification could not be shown", "title", n.Title, "err", err)
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(b.retry):
				}
			}
		}
	}
}

// notifyIconData is NOTIFYICONDATAW (shellapi.h) as Shell_NotifyIconW
// reads it on 64-bit Windows, 976 bytes; handles are uintptr so that its
// layout is checked by tests on every platform. (fyne.io/systray's own
// copy has the Timeout/Version union as two fields, which moves the
// balloon's title and flags: it is not reused.)
type notifyIconData struct {
	Size                       uint32
	Wnd                        uintptr
	ID, Flags, CallbackMessage uint32
	Icon                       uintptr
	Tip                        [128]uint16
	State, StateMask           uint32
	Info                       [256]uint16
	TimeoutOrVersion           uint32
	InfoTitle                  [64]uint16
	InfoFlags                  uint32
	GUIDItem                   [4]uint32 // a GUID: 16 bytes, 4-aligned
	BalloonIcon                uintptr
}

const (
	// systrayIconID is the uID fyne.io/systray gives its icon.
	systrayIconID = 100
	nifInfo       = 0x10
	niifInfo      = 0x1
	niifWarning   = 0x2
	// niifRespectQuietTime: Windows holds the balloon back in the user's
	// quiet time (the first hour after a first sign-in, focus assist).
	niifRespectQuietTime = 0x80
)

// balloonData is the NOTIFYICONDATAW that shows title and body as a
// balloon from the icon of window wnd: the texts cut to what it holds
// (255 and 63 UTF-16 units and a NUL), an urgent one with the warning
// icon and shown even in quiet time.
func balloonData(wnd uintptr, title, body string, urgent bool) *notifyIconData {
	d := &notifyIconData{Wnd: wnd, ID: systrayIconID, Flags: nifInfo, InfoFlags: niifInfo | niifRespectQuietTime}
	if urgent {
		d.InfoFlags = niifWarning
	}
	d.Size = uint32(notifyIconDataSize)
	copy(d.InfoTitle[:], utf16.Encode([]rune(clipUTF16(title, len(d.InfoTitle)-1))))
	copy(d.Info[:], utf16.Encode([]rune(clipUTF16(body, len(d.Info)-1))))
	return d
}

// clipUTF16 drops NULs from s and cuts it to at most units UTF-16 units,
// at a character, with "…" where it was cut.
func clipUTF16(s string, units int) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if len(utf16.Encode([]rune(s))) <= units {
		return s
	}
	n := 1 // the "…"
	for i, r := range s {
		if n+utf16.RuneLen(r) > units {
			return s[:i] + "…"
		}
		n += utf16.RuneLen(r)
	}
	return s
}
