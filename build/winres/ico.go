package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
)

// iconSizes are the sizes Windows picks from: 16–48 px for lists, the
// taskbar and the notification area at 100–200 % scale, 256 for large
// Explorer views.
var iconSizes = []int{16, 20, 24, 32, 40, 48, 64, 256}

// maxIconFile bounds the PNG icon read (Earshot's is 512 px, ~20 KB).
const maxIconFile = 8 << 20

// loadIcon reads the app's PNG icon and checks it is large enough to draw
// every size from.
func loadIcon(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > maxIconFile {
		return nil, fmt.Errorf("the icon %s is larger than %d bytes", path, maxIconFile)
	}
	c, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the icon %s is not a PNG: %w", path, err)
	}
	if c.Width < 256 || c.Height < 256 {
		return nil, fmt.Errorf("the icon %s is %d×%d px; Windows needs 256×256 or larger", path, c.Width, c.Height)
	}
	return data, nil
}
