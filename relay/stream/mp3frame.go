package stream

// MP3 frame headers, just enough to cut an encoder's output into whole
// frames: a listener must start on a frame boundary, and titles are tied
// to frames.

// mp3Bitrates are Layer III bitrates in kbit/s by index, for MPEG-1 and
// for MPEG-2/2.5.
var mp3Bitrates = [2][16]int{
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
}

var mp3Rates = [4][3]int{
	{11025, 12000, 8000},  // MPEG-2.5
	{},                    // reserved
	{22050, 24000, 16000}, // MPEG-2
	{44100, 48000, 32000}, // MPEG-1
}

// mp3FrameHeaderLen is the size of an MPEG audio frame header.
const mp3FrameHeaderLen = 4

// mp3Frame reads the Layer III frame header at the start of h and returns
// the frame's length in bytes and the samples (per channel) it holds; ok is
// false when h does not start with a valid Layer III header.
func mp3Frame(h []byte) (size, samples int, ok bool) {
	if len(h) < mp3FrameHeaderLen || h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return 0, 0, false
	}
	version := (h[1] >> 3) & 3
	layer := (h[1] >> 1) & 3
	if version == 1 || layer != 1 { // reserved version; only Layer III
		return 0, 0, false
	}
	brIndex, rateIndex := h[2]>>4, (h[2]>>2)&3
	padding := int(h[2]>>1) & 1
	if rateIndex == 3 {
		return 0, 0, false
	}
	rate := mp3Rates[version][rateIndex]
	row, samples := 1, 576
	if version == 3 {
		row, samples = 0, 1152
	}
	br := mp3Bitrates[row][brIndex]
	if br == 0 { // free format or bad
		return 0, 0, false
	}
	size = samples/8*br*1000/rate + padding
	return size, samples, true
}

// frameSplitter cuts a byte stream into whole MP3 frames. Bytes that are
// not a frame (an encoder's stray tag, damage) are skipped up to the next
// frame header.
type frameSplitter struct {
	buf     []byte
	skipped int64 // bytes dropped as not a frame
}

// maxSplitterBuf bounds what the splitter holds while it waits for a
// frame's end (a Layer III frame is at most 2,881 bytes).
const maxSplitterBuf = 64 << 10

// push adds p and calls frame for every whole frame now available, in
// order. The slice given to frame is valid only during the call.
func (s *frameSplitter) push(p []byte, frame func(f []byte, samples int)) {
	s.buf = append(s.buf, p...)
	i := 0
	for len(s.buf)-i >= mp3FrameHeaderLen {
		size, samples, ok := mp3Frame(s.buf[i:])
		if !ok {
			i++
			s.skipped++
			continue
		}
		if len(s.buf)-i < size {
			break
		}
		frame(s.buf[i:i+size], samples)
		i += size
	}
	s.buf = append(s.buf[:0], s.buf[i:]...)
	if len(s.buf) > maxSplitterBuf {
		s.skipped += int64(len(s.buf))
		s.buf = s.buf[:0]
	}
}
