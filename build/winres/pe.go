package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"image/png"
	"slices"
	"unicode/utf16"
)

// Resources is what a built .exe holds in its resource section, as far as
// the release needs to know.
type Resources struct {
	Types        map[uint32]int // resource type → how many
	IconSizes    []int          // width in px of each RT_ICON image
	FixedVersion [4]uint16      // VS_FIXEDFILEINFO's file version
	Strings      map[string]string
	Manifest     []byte
}

// Bounds on what is read: Earshot's resources are some 60 KB.
const (
	maxRsrc      = 16 << 20
	maxResources = 1024
)

var errBadRsrc = errors.New("the resource section is malformed")

// ReadExe reads the resources of the Windows program at path.
func ReadExe(path string) (*Resources, error) {
	f, err := pe.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not a Windows program: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".rsrc")
	if sec == nil {
		return &Resources{Types: map[uint32]int{}}, nil
	}
	if sec.Size > maxRsrc {
		return nil, fmt.Errorf("%s: a %d-byte resource section is beyond any Earshot builds", path, sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the resource section: %w", path, err)
	}
	res, err := ParseRsrc(data, sec.VirtualAddress)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// leaf is one resource: its type and its bytes (of one language).
type leaf struct {
	typ  uint32
	data []byte
}

// ParseRsrc reads a .rsrc section's bytes, loaded at virtual address rva.
func ParseRsrc(data []byte, rva uint32) (*Resources, error) {
	var leaves []leaf
	visits := 0 // entries looked at: directories may share (or loop to) subdirectories
	// Three levels: type, then name or id, then language.
	var walk func(off uint32, level int, typ uint32) error
	walk = func(off uint32, level int, typ uint32) error {
		if uint64(off)+16 > uint64(len(data)) {
			return errBadRsrc
		}
		n := int(binary.LittleEndian.Uint16(data[off+12:])) + int(binary.LittleEndian.Uint16(data[off+14:]))
		for i := range n {
			e := uint64(off) + 16 + 8*uint64(i)
			if visits++; visits > 4*maxResources {
				return fmt.Errorf("%w: more than %d entries", errBadRsrc, 4*maxResources)
			}
			if e+8 > uint64(len(data)) {
				return errBadRsrc
			}
			name := binary.LittleEndian.Uint32(data[e:])
			to := binary.LittleEndian.Uint32(data[e+4:])
			if level == 0 {
				typ = name // a named type (high bit) is kept as is: never one of ours
			}
			sub := to&0x80000000 != 0
			to &^= 0x80000000
			if level < 2 {
				if !sub {
					return errBadRsrc
				}
				if err := walk(to, level+1, typ); err != nil {
					return err
				}
				continue
			}
			if sub || uint64(to)+16 > uint64(len(data)) {
				return errBadRsrc
			}
			at := binary.LittleEndian.Uint32(data[to:])
			size := binary.LittleEndian.Uint32(data[to+4:])
			if at < rva || uint64(at-rva)+uint64(size) > uint64(len(data)) {
				return errBadRsrc
			}
			if len(leaves) == maxResources {
				return fmt.Errorf("%w: more than %d resources", errBadRsrc, maxResources)
			}
			leaves = append(leaves, leaf{typ: typ, data: data[at-rva : at-rva+size]})
		}
		return nil
	}
	if err := walk(0, 0, 0); err != nil {
		return nil, err
	}
	res := &Resources{Types: map[uint32]int{}, Strings: map[string]string{}}
	for _, l := range leaves {
		res.Types[l.typ]++
		switch l.typ {
		case rtIcon:
			w, err := iconWidth(l.data)
			if err != nil {
				return nil, err
			}
			res.IconSizes = append(res.IconSizes, w)
		case rtVersion:
			if err := res.readVersion(l.data); err != nil {
				return nil, err
			}
		case rtManifest:
			res.Manifest = l.data
		}
	}
	slices.Sort(res.IconSizes)
	return res, nil
}

// iconWidth is an RT_ICON image's width: a PNG's, or a DIB's header's.
func iconWidth(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		c, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return 0, fmt.Errorf("an icon image is a broken PNG: %w", err)
		}
		return c.Width, nil
	}
	if len(b) < 40 {
		return 0, fmt.Errorf("%w: an icon image of %d bytes", errBadRsrc, len(b))
	}
	return int(int32(binary.LittleEndian.Uint32(b[4:]))), nil
}

// vblock is one block of a VS_VERSIONINFO tree.
type vblock struct {
	key      string
	text     bool
	value    []byte
	children []vblock
}

// parseBlock reads the block at b[off:]; it returns the offset after it.
func parseBlock(b []byte, off, depth int) (vblock, int, error) {
	if depth > 4 || off+6 > len(b) {
		return vblock{}, 0, errBadRsrc
	}
	length := int(binary.LittleEndian.Uint16(b[off:]))
	valueLen := int(binary.LittleEndian.Uint16(b[off+2:]))
	blk := vblock{text: binary.LittleEndian.Uint16(b[off+4:]) == 1}
	end := off + length
	if length < 6 || end > len(b) {
		return vblock{}, 0, errBadRsrc
	}
	p := off + 6
	var key []uint16
	for ; ; p += 2 {
		if p+2 > end {
			return vblock{}, 0, errBadRsrc
		}
		c := binary.LittleEndian.Uint16(b[p:])
		if c == 0 {
			p += 2
			break
		}
		key = append(key, c)
	}
	blk.key = string(utf16.Decode(key))
	p = align4(p)
	if blk.text {
		valueLen *= 2 // in WORDs
	}
	if p+valueLen > end {
		return vblock{}, 0, errBadRsrc
	}
	blk.value = b[p : p+valueLen]
	p = align4(p + valueLen)
	for p < end {
		child, next, err := parseBlock(b, p, depth+1)
		if err != nil {
			return vblock{}, 0, err
		}
		blk.children = append(blk.children, child)
		p = align4(next)
	}
	return blk, end, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// readVersion reads a VS_VERSIONINFO: the fixed file version and the
// strings of its (first) string table.
func (r *Resources) readVersion(b []byte) error {
	root, _, err := parseBlock(b, 0, 0)
	if err != nil {
		return fmt.Errorf("the version information: %w", err)
	}
	if root.key != "VS_VERSION_INFO" || len(root.value) < 52 || binary.LittleEndian.Uint32(root.value) != 0xfeef04bd {
		return fmt.Errorf("%w: the version information has no VS_FIXEDFILEINFO", errBadRsrc)
	}
	ms := binary.LittleEndian.Uint32(root.value[8:])
	ls := binary.LittleEndian.Uint32(root.value[12:])
	r.FixedVersion = [4]uint16{uint16(ms >> 16), uint16(ms), uint16(ls >> 16), uint16(ls)}
	for _, c := range root.children {
		if c.key != "StringFileInfo" || len(c.children) == 0 {
			continue
		}
		for _, s := range c.children[0].children {
			if len(s.value)%2 != 0 {
				return fmt.Errorf("%w: the version string %q", errBadRsrc, s.key)
			}
			u := make([]uint16, len(s.value)/2)
			for i := range u {
				u[i] = binary.LittleEndian.Uint16(s.value[2*i:])
			}
			r.Strings[s.key] = string(utf16.Decode(bytes16TrimNUL(u)))
		}
	}
	return nil
}

func bytes16TrimNUL(u []uint16) []uint16 {
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return u
}

// Check says what of app's resources r lacks or gets wrong.
func (r *Resources) Check(app App) error {
	var errs []error
	if r.Types[rtGroupIcon] == 0 || len(r.IconSizes) == 0 {
		errs = append(errs, errors.New("no icon (RT_GROUP_ICON/RT_ICON)"))
	} else if !slices.Contains(r.IconSizes, 256) || !slices.Contains(r.IconSizes, 16) {
		errs = append(errs, fmt.Errorf("icons of %v px: 16 and 256 are needed", r.IconSizes))
	}
	if r.Types[rtVersion] == 0 {
		errs = append(errs, errors.New("no version information (RT_VERSION)"))
	} else {
		if r.FixedVersion != app.FileVersion() {
			errs = append(errs, fmt.Errorf("file version %v, FyneApp.toml says %s", r.FixedVersion, app.FileVersionText()))
		}
		for key, want := range map[string]string{"ProductName": app.Name, "ProductVersion": app.Version,
			"FileVersion": app.FileVersionText(), "InternalName": app.ID} {
			if got := r.Strings[key]; got != want {
				errs = append(errs, fmt.Errorf("%s is %q, FyneApp.toml says %q", key, got, want))
			}
		}
	}
	if len(r.Manifest) == 0 {
		errs = append(errs, errors.New("no manifest (RT_MANIFEST)"))
	}
	return errors.Join(errs...)
}
