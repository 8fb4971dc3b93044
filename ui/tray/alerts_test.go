package tray

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"earshot/ui/listening"
)

// The tray shows the latest alert (its item plays it) and quiet hours (a
// moon on the icon, the tooltip, one click to pause them for an hour or to
// resume them).
func TestTrayShowsAlertsQuietHoursAndAutostart(t *testing.T) {
	h := &fakeHost{}
	var played []int64
	var paused []time.Duration
	ran := make(chan struct{}, 8)
	tr := New(h, Actions{
		PlayCall:   func(id int64) { played = append(played, id); ran <- struct{}{} },
		PauseQuiet: func(d time.Duration) { paused = append(paused, d); ran <- struct{}{} },
	})
	core := newFakeCore(connected())
	follow(t, tr, core)
	eventually(t, "the first menu", func() bool { return strings.Contains(h.menu(), "No alerts yet (off)") })
	plainIcon := h.icons[len(h.icons)-1]

	s := connected()
	at := time.Date(2026, 12, 2, 22, 14, 0, 0, time.Local)
	s.LastAlert = &listening.AlertNote{CallID: 42, Rules: []string{"Mayday"}, Title: "Fire Dispatch", Time: at}
	s.Quiet = listening.QuietState{Scheduled: true, Active: true, Until: at.Add(9 * time.Hour), AllowPriority: true}
	core.publish(s)
	want := "Replay alert: Mayday — Fire Dispatch 22:14|Pause quiet hours for an hour|Copy stream URL"
	eventually(t, "the alert and quiet items", func() bool { return strings.Contains(h.menu(), want) })
	if icon := h.icons[len(h.icons)-1]; bytes.Equal(icon, plainIcon) {
		t.Fatal("quiet hours do not show on the icon")
	}
	if tip := h.tips[len(h.tips)-1]; !strings.Contains(tip, "Quiet hours until ") {
		t.Fatalf("tooltip %q does not say quiet hours", tip)
	}
	for _, title := range []string{"Replay alert: Mayday — Fire Dispatch 22:14", "Pause quiet hours for an hour"} {
		h.item(t, title).click()
		<-ran
	}
	if len(played) != 1 || played[0] != 42 || len(paused) != 1 || paused[0] != listening.QuietPause {
		t.Fatalf("played %v, paused %v", played, paused)
	}

	resumed := *s
	resumed.Quiet.Active, resumed.Quiet.PausedUntil = false, time.Now().Add(time.Hour)
	core.publish(&resumed)
	eventually(t, "Resume quiet hours", func() bool { return strings.Contains(h.menu(), "|Resume quiet hours|") })
	h.item(t, "Resume quiet hours").click()
	<-ran
	if len(paused) != 2 || paused[1] != 0 {
		t.Fatalf("Resume asked for %v", paused)
	}
	eventually(t, "the moon gone", func() bool { return bytes.Equal(h.icons[len(h.icons)-1], plainIcon) })
}
