//go:build windows

package proc

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/windows"
)

// A helper started by Earshot.exe (no console) must not open a console
// window; it keeps a process group of its own when Prepare made one.
func TestBackgroundOpensNoConsoleWindow(t *testing.T) {
	cmd := exec.Command("cmd.exe", "/c", "exit")
	Prepare(cmd)
	Background(cmd)
	a := cmd.SysProcAttr
	if a == nil || a.CreationFlags&windows.CREATE_NO_WINDOW == 0 || !a.HideWindow ||
		a.CreationFlags&windows.CREATE_NEW_PROCESS_GROUP == 0 {
		t.Fatalf("SysProcAttr %+v", a)
	}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
}
