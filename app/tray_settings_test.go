//go:build !headless && linux

package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"earshot/app/autostart"
	"earshot/relay/quiet"
)

// The real programs on a desktop: the tray's "Start Earshot when I log in"
// writes the log-in entry and removes it again, and "Pause quiet hours for
// an hour" pauses the quiet hours config.json has in force (the tooltip
// says so before and after).
func TestTrayStartsAtLogInAndPausesQuietHours(t *testing.T) {
	d := newDesktop(t, false)
	xdg := filepath.Join(d.dir, "xdg-config")
	d.env = append(d.env, "XDG_CONFIG_HOME="+xdg)
	always := map[string][]string{}
	for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		always[day] = []string{"00:00-00:00"}
	}
	if err := os.MkdirAll(d.configDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := SaveConfig(d.configDir(), &Config{QuietHours: &quiet.Hours{Enabled: true, Days: always}}); err != nil {
		t.Fatal(err)
	}
	app := d.run(t, d.bin, "--demo", "--listen", "127.0.0.1:0")
	d.registered(t, app)
	waitUntil(t, "the tooltip saying quiet hours", func() bool { return strings.Contains(d.tooltip(app), "Quiet hours: calls silent") })
	d.click(t, app, "Pause quiet hours for an hour")
	waitUntil(t, "the tooltip saying they are paused", func() bool { return strings.Contains(d.tooltip(app), "Quiet hours paused until") })
	waitUntil(t, "the menu offering to resume", func() bool { _, ok := d.menu(t, app)["Resume quiet hours"]; return ok })

	entry := filepath.Join(xdg, "autostart", autostart.AppID+".desktop")
	d.click(t, app, "Start Earshot when I log in")
	waitUntil(t, "the log-in entry written", func() bool { _, err := os.Stat(entry); return err == nil })
	b, err := os.ReadFile(entry)
	if err != nil || !strings.Contains(string(b), d.bin) {
		t.Fatalf("the entry starts something else (%v):\n%s", err, b)
	}
	d.click(t, app, "Start Earshot when I log in")
	waitUntil(t, "the log-in entry removed", func() bool { _, err := os.Stat(entry); return os.IsNotExist(err) })
}
