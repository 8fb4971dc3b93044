//go:build windows

package tray

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	shell32              = windows.NewLazySystemDLL("shell32.dll")
	procFindWindowExW    = user32.NewProc("FindWindowExW")
	procShellNotifyIconW = shell32.NewProc("Shell_NotifyIconW")
)

const notifyIconDataSize = unsafe.Sizeof(notifyIconData{})

// showBalloon shows a balloon from this process's fyne.io/systray icon: its
// hidden window of class SystrayClass (one of this process's, as other
// programs built on fyne.io/systray have one too).
func showBalloon(title, body string, urgent bool) error {
	wnd, err := systrayWindow()
	if err != nil {
		return err
	}
	const nimModify = 0x1
	d := balloonData(uintptr(wnd), title, body, urgent)
	if ok, _, err := procShellNotifyIconW.Call(nimModify, uintptr(unsafe.Pointer(d))); ok == 0 {
		return fmt.Errorf("Shell_NotifyIcon: %w", err)
	}
	return nil
}

func systrayWindow() (windows.Handle, error) {
	class, err := windows.UTF16PtrFromString("SystrayClass")
	if err != nil {
		return 0, err
	}
	self := uint32(os.Getpid())
	var after uintptr
	for range 64 {
		w, _, _ := procFindWindowExW.Call(0, after, uintptr(unsafe.Pointer(class)), 0)
		if w == 0 {
			break
		}
		var pid uint32
		if _, err := windows.GetWindowThreadProcessId(windows.HWND(w), &pid); err == nil && pid == self {
			return windows.Handle(w), nil
		}
		after = w
	}
	return 0, errNoTrayIcon
}
