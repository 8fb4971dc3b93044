// Package ico writes Windows icon files (.ico), which Windows wants where
// other systems take a PNG: the notification-area icon (fyne.io/systray
// loads it with LoadImage, which reads icons, not PNGs) and the icons
// linked into the .exe files (build/winres). It owns only the encoding.
//
// Images below 256 px are stored as 32-bit bitmaps with alpha, which every
// Windows icon reader takes; 256 px and larger as PNG, the form Windows
// has read since Vista for large icons (a bitmap that size is 256 KB).
package ico

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"

	"golang.org/x/image/draw"
)

// pngFrom is the smallest side stored as PNG.
const pngFrom = 256

// Encode writes imgs, each square and at most 256 px, as one .ico.
func Encode(imgs ...image.Image) ([]byte, error) {
	if len(imgs) == 0 || len(imgs) > 64 {
		return nil, fmt.Errorf("an icon holds 1 to 64 images, not %d", len(imgs))
	}
	entries := make([][]byte, len(imgs))
	for i, img := range imgs {
		b := img.Bounds()
		if b.Dx() != b.Dy() || b.Dx() < 1 || b.Dx() > 256 {
			return nil, fmt.Errorf("an icon image must be square and 1–256 px, not %d×%d", b.Dx(), b.Dy())
		}
		if b.Dx() >= pngFrom {
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				return nil, err
			}
			entries[i] = buf.Bytes()
		} else {
			entries[i] = bitmap(img)
		}
	}
	var out bytes.Buffer
	// ICONDIR: reserved, type 1 (icon), count.
	le := binary.LittleEndian
	_ = binary.Write(&out, le, [3]uint16{0, 1, uint16(len(imgs))})
	offset := 6 + 16*len(imgs)
	for i, img := range imgs {
		// ICONDIRENTRY: width and height (0 means 256), colours,
		// reserved, planes, bits per pixel, bytes, offset.
		side := byte(img.Bounds().Dx()) // 256 wraps to 0, as it must
		out.Write([]byte{side, side, 0, 0})
		_ = binary.Write(&out, le, [2]uint16{1, 32})
		_ = binary.Write(&out, le, [2]uint32{uint32(len(entries[i])), uint32(offset)})
		offset += len(entries[i])
	}
	for _, e := range entries {
		out.Write(e)
	}
	return out.Bytes(), nil
}

// bitmap is img as an icon's bitmap: a BITMAPINFOHEADER of twice the
// height (colour and mask), 32-bit BGRA rows bottom up, then a 1-bit AND
// mask of zeros (the alpha channel says what shows).
func bitmap(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	maskRow := (w + 31) / 32 * 4
	var out bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&out, le, struct {
		Size                 uint32
		Width, Height        int32
		Planes, BitCount     uint16
		Compression, Bytes   uint32
		XPerM, YPerM         int32
		Colours, ImportantCs uint32
	}{40, int32(w), int32(2 * h), 1, 32, 0, uint32(4*w*h + maskRow*h), 0, 0, 0, 0})
	px := make([]byte, 4)
	for y := h - 1; y >= 0; y-- {
		for x := range w {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			// RGBA is premultiplied; the bitmap's colours are not.
			if a > 0 {
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			px[0], px[1], px[2], px[3] = byte(bl>>8), byte(g>>8), byte(r>>8), byte(a>>8)
			out.Write(px)
		}
	}
	out.Write(make([]byte, maskRow*h))
	return out.Bytes()
}

// FromPNG is a PNG image as an .ico holding it at each of sizes (scaled,
// Catmull-Rom), or as it is when no sizes are given (then at most 256 px).
func FromPNG(data []byte, sizes ...int) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the icon is not a PNG: %w", err)
	}
	if len(sizes) == 0 {
		return Encode(src)
	}
	imgs := make([]image.Image, len(sizes))
	for i, size := range sizes {
		if size < 1 || size > 256 {
			return nil, fmt.Errorf("an icon image of %d px: 1–256 px only", size)
		}
		if b := src.Bounds(); b.Dx() == size && b.Dy() == size {
			imgs[i] = src
			continue
		}
		dst := image.NewNRGBA(image.Rect(0, 0, size, size))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		imgs[i] = dst
	}
	return Encode(imgs...)
}
