package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"

	"golang.org/x/image/draw"
)

// iconSizes are the sizes Windows picks from: 16–48 px for lists, the
// taskbar and the notification area at 100–200 % scale, 256 for large
// Explorer views.
var iconSizes = []int{16, 20, 24, 32, 40, 48, 64, 256}

// maxIconFile bounds the PNG icon read (Earshot's is 512 px, ~20 KB).
const maxIconFile = 8 << 20

// loadIcon reads the app's PNG icon.
func loadIcon(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > maxIconFile {
		return nil, fmt.Errorf("the icon %s is larger than %d bytes", path, maxIconFile)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the icon %s is not a PNG: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() < 256 || b.Dy() < 256 {
		return nil, fmt.Errorf("the icon %s is %d×%d px; Windows needs 256×256 or larger", path, b.Dx(), b.Dy())
	}
	return img, nil
}

// ICO encodes src as a Windows .ico holding one PNG image per size (the
// form Windows has read since Vista).
func ICO(src image.Image, sizes []int) ([]byte, error) {
	var images [][]byte
	for _, size := range sizes {
		dst := image.NewNRGBA(image.Rect(0, 0, size, size))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		var b bytes.Buffer
		if err := png.Encode(&b, dst); err != nil {
			return nil, err
		}
		images = append(images, b.Bytes())
	}
	var out bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), count.
	_ = binary.Write(&out, binary.LittleEndian, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for i, size := range sizes {
		// ICONDIRENTRY: width and height (0 means 256), colours,
		// reserved, planes, bits per pixel, bytes, offset.
		side := byte(size)
		if size >= 256 {
			side = 0
		}
		out.Write([]byte{side, side, 0, 0})
		_ = binary.Write(&out, binary.LittleEndian, [2]uint16{1, 32})
		_ = binary.Write(&out, binary.LittleEndian, [2]uint32{uint32(len(images[i])), uint32(offset)})
		offset += len(images[i])
	}
	for _, img := range images {
		out.Write(img)
	}
	return out.Bytes(), nil
}
