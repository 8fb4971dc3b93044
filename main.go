// Earshot keeps an OpenScanner scanner-radio feed in the desktop tray and
// relays it to local programs. This file only hands the command line to the
// app package; FyneApp.toml beside it describes the app for `fyne package`.
package main

import (
	"os"

	"earshot/app"
)

func main() { os.Exit(app.Main(os.Args[1:])) }
