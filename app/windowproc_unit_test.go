package app

import (
	"testing"

	"earshot/ui/ipc"
)

// A display that answered and refused gets one more try for the windows
// asked once; one that is not there, or a second refusal, is told.
func TestRefusedDisplayIsAskedOnceMore(t *testing.T) {
	refused := ipc.CannotOpen + "the display :7 " + ipc.DisplayRefused + " (X11: Failed to open display :7)"
	absent := ipc.CannotOpen + "no display (DISPLAY=:987 cannot be reached)"
	once := []showReq{{what: ipc.ShowPlayer, tries: 1}}
	twice := []showReq{{what: ipc.ShowPlayer, tries: 2}}
	if got := refusedOnce(refused, once); len(got) != 1 {
		t.Errorf("a first refusal: %d windows asked again, want 1", len(got))
	}
	if got := refusedOnce(refused, twice); len(got) != 0 {
		t.Errorf("a second refusal: %d windows asked again, want none", len(got))
	}
	if got := refusedOnce(absent, once); len(got) != 0 {
		t.Errorf("no display: %d windows asked again, want none", len(got))
	}
}
