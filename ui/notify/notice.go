// Package notify shows desktop notifications through the freedesktop
// notification service (org.freedesktop.Notifications on the session bus),
// without any GUI toolkit: the resident process uses it. A notification can
// offer actions (a "Replay" button, and clicking the notification itself),
// and can take the place on screen of an earlier one about the same thing.
//
// It owns only the D-Bus side: the call, the action signals and what it
// must escape for the service. What to say is its callers'.
//
// On Windows and macOS the package holds only Notice and Action (what the
// listening core hands over): notifications there are ui/tray's Balloons,
// and nothing there may reach for a session bus (godbus would start
// dbus-launch, or ask launchd, and fail).
package notify

// Notice is one notification.
type Notice struct {
	Title, Body string
	// Key, when set, names what the notice is about (an alerted call): a
	// later notice with the same key takes this one's place on screen
	// rather than stacking under it.
	Key string
	// Urgent notices stay until dismissed (a priority alert).
	Urgent bool
	// Actions are offered as buttons; the first is also what clicking
	// the notification does. A service that offers no actions shows the
	// notice without them.
	Actions []Action
}

// Action is one button of a notice.
type Action struct {
	Label string
	// Do runs on the notifier's goroutine when the button is pressed; it
	// must not block for long.
	Do func()
}
