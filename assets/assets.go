// Package assets holds Earshot's image files (drawn by build/icongen) for
// the app icon and packaging.
package assets

import _ "embed"

// IconPNG is the app icon, 512×512.
//
//go:embed icon.png
var IconPNG []byte
