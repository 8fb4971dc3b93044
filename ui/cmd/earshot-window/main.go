// Command earshot-window is Earshot's window process: the playback,
// sign-in and token windows (Fyne). The resident `earshot` process starts
// it when a window is opened, talks to it over its standard input and
// output (ui/ipc), and it exits when its last window closes. Its standard
// error carries its log. It is not meant to be started by hand.
package main

import (
	"os"

	"earshot/ui"
)

func main() { os.Exit(ui.RunWindowProcess(os.Stdin, os.Stdout, os.Stderr)) }
