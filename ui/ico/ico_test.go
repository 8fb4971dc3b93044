package ico

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sample is a size×size image with opaque, half-transparent and clear
// pixels of different colours, so a flipped row, swapped channels or lost
// alpha all show.
func sample(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			var a uint8 = 255
			switch {
			case x < size/4:
				a = 0
			case y < size/4:
				a = 128
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / size), G: uint8(y * 255 / size), B: 200, A: a})
		}
	}
	return img
}

// Another reader (ImageMagick) reads each image of the .ico back as it was
// drawn: bitmaps below 256 px, PNG at 256.
func TestImageMagickReadsWhatEncodeWrote(t *testing.T) {
	if _, err := exec.LookPath("convert"); err != nil {
		t.Fatal("ImageMagick's convert is missing: run build/deps.sh")
	}
	sizes := []int{16, 32, 64, 256}
	var imgs []image.Image
	for _, s := range sizes {
		imgs = append(imgs, sample(s))
	}
	data, err := Encode(imgs...)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(data[2:]) != 1 || int(le.Uint16(data[4:])) != len(sizes) {
		t.Fatalf("header % x", data[:6])
	}
	for i, s := range sizes {
		e := data[6+16*i:]
		off := le.Uint32(e[12:])
		isPNG := bytes.HasPrefix(data[off:], []byte("\x89PNG"))
		if isPNG != (s >= 256) {
			t.Errorf("%d px stored as PNG: %v", s, isPNG)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "x.ico")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, s := range sizes {
		out := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		if msg, err := exec.Command("convert", fmt.Sprintf("ico:%s[%d]", file, i), "PNG32:"+out).CombinedOutput(); err != nil {
			t.Fatalf("convert: %v\n%s", err, msg)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.Bounds().Dx() != s || got.Bounds().Dy() != s {
			t.Fatalf("image %d is %v, want %d px", i, got.Bounds(), s)
		}
		want := imgs[i]
		for y := range s {
			for x := range s {
				g := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA)
				w := want.At(x, y).(color.NRGBA)
				if g.A != w.A || (w.A != 0 && (absDiff(g.R, w.R) > 2 || absDiff(g.G, w.G) > 2 || absDiff(g.B, w.B) > 2)) {
					t.Fatalf("%d px at %d,%d: %v, drawn %v", s, x, y, g, w)
				}
			}
		}
	}
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestEncodeRefusesWhatAnIconCannotHold(t *testing.T) {
	for _, img := range []image.Image{image.NewNRGBA(image.Rect(0, 0, 16, 8)), image.NewNRGBA(image.Rect(0, 0, 512, 512))} {
		if _, err := Encode(img); err == nil {
			t.Errorf("%v encoded", img.Bounds())
		}
	}
	if _, err := Encode(); err == nil {
		t.Error("an icon of no images")
	}
	if _, err := FromPNG([]byte("not a png")); err == nil {
		t.Error("FromPNG took a non-PNG")
	}
	var big bytes.Buffer
	if err := png.Encode(&big, sample(512)); err != nil {
		t.Fatal(err)
	}
	if _, err := FromPNG(big.Bytes()); err == nil {
		t.Error("FromPNG took a 512 px image as it is")
	}
	if _, err := FromPNG(big.Bytes(), 16, 512); err == nil {
		t.Error("FromPNG made a 512 px icon image")
	}
	data, err := FromPNG(big.Bytes(), 16, 32, 256)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint16(data[4:]); n != 3 || data[6] != 16 || data[6+16] != 32 || data[6+32] != 0 {
		t.Errorf("FromPNG(16, 32, 256) wrote %d images: % x", n, data[:6+48])
	}
}
