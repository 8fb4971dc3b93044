package backendtest

import (
	"bytes"
	"encoding/binary"
	"math"
)

// audioSeconds measures audio's length in seconds, as the real server's
// upload does with ffprobe (which it then rounds to whole seconds): WAV
// from its header, MP3 from its Xing/Info frame count or by walking its
// frames. Anything else is 0, what the real server stores when ffprobe
// cannot tell.
func audioSeconds(audio []byte) float64 {
	if len(audio) >= 12 && string(audio[:4]) == "RIFF" && string(audio[8:12]) == "WAVE" {
		return wavSeconds(audio)
	}
	return mp3Seconds(audio)
}

// measuredDuration is the duration the real server records for an upload
// of audio: whole seconds.
func measuredDuration(audio []byte) float64 { return math.Round(audioSeconds(audio)) }

func wavSeconds(b []byte) float64 {
	var byteRate uint32
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8:]
		switch {
		case id == "fmt " && size >= 16 && len(body) >= 16:
			byteRate = binary.LittleEndian.Uint32(body[8:12])
		case id == "data" && byteRate > 0:
			return float64(min(size, len(body))) / float64(byteRate)
		}
		if size < 0 || size > len(body) {
			break
		}
		p += 8 + size + size&1
	}
	return 0
}

// mpegFrame is what one MPEG audio frame header says.
type mpegFrame struct {
	samples    int // per frame
	sampleRate int
	length     int // bytes, header included; 0 when the bitrate is free
	sideInfo   int // bytes of side information after the header (Layer III)
}

var (
	mpegRates = [4][3]int{ // by version bits, then rate index
		{11025, 12000, 8000},  // MPEG 2.5
		{},                    // reserved
		{22050, 24000, 16000}, // MPEG 2
		{44100, 48000, 32000}, // MPEG 1
	}
	// Bitrates in kbit/s by table (MPEG-1 layers I–III, then MPEG-2/2.5
	// layer I, then MPEG-2/2.5 layers II and III), by index 1–14.
	mpegBitrates = [5][15]int{
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}
)

// parseMPEGFrame reads the 4-byte frame header at h.
func parseMPEGFrame(h []byte) (mpegFrame, bool) {
	if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
		return mpegFrame{}, false
	}
	version, layer := int(h[1]>>3&3), int(h[1]>>1&3) // layer bits: 3 = I, 2 = II, 1 = III
	rateIdx, bitIdx, pad := int(h[2]>>2&3), int(h[2]>>4), int(h[2]>>1&1)
	if version == 1 || layer == 0 || rateIdx == 3 || bitIdx == 15 {
		return mpegFrame{}, false
	}
	mpeg1 := version == 3
	f := mpegFrame{sampleRate: mpegRates[version][rateIdx]}
	var table, slot, perSlot int
	switch layer {
	case 3: // I
		f.samples, table, slot, perSlot = 384, 3, 4, 12
		if mpeg1 {
			table = 0
		}
	case 2: // II
		f.samples, table, slot, perSlot = 1152, 4, 1, 144
		if mpeg1 {
			table = 1
		}
	default: // III
		f.samples, table, slot, perSlot = 1152, 4, 1, 144
		if mpeg1 {
			table = 2
		} else {
			f.samples, perSlot = 576, 72
		}
		mono := h[3]>>6 == 3
		switch {
		case mpeg1 && mono:
			f.sideInfo = 17
		case mpeg1:
			f.sideInfo = 32
		case mono:
			f.sideInfo = 9
		default:
			f.sideInfo = 17
		}
	}
	if bitrate := mpegBitrates[table][bitIdx] * 1000; bitrate > 0 {
		f.length = (perSlot*bitrate/f.sampleRate + pad) * slot
	}
	return f, true
}

func mp3Seconds(b []byte) float64 {
	p := 0
	if len(b) >= 10 && string(b[:3]) == "ID3" {
		size := int(b[6]&0x7f)<<21 | int(b[7]&0x7f)<<14 | int(b[8]&0x7f)<<7 | int(b[9]&0x7f)
		p = 10 + size
		if b[5]&0x10 != 0 {
			p += 10 // footer
		}
	}
	for ; p+4 <= len(b); p++ {
		if first, ok := parseMPEGFrame(b[p:]); ok {
			if frames := xingFrames(b[p:], first); frames > 0 {
				return float64(frames) * float64(first.samples) / float64(first.sampleRate)
			}
			break
		}
	}
	// No Xing/Info header: count the frames.
	var seconds float64
	for p+4 <= len(b) {
		f, ok := parseMPEGFrame(b[p:])
		if !ok || f.length <= 0 {
			break
		}
		seconds += float64(f.samples) / float64(f.sampleRate)
		p += f.length
	}
	return seconds
}

// xingFrames is the frame count a Xing or Info header in frame claims (0
// when it has none).
func xingFrames(frame []byte, f mpegFrame) int {
	at := 4 + f.sideInfo
	if f.sideInfo == 0 || len(frame) < at+12 {
		return 0
	}
	tag := frame[at : at+4]
	if !bytes.Equal(tag, []byte("Xing")) && !bytes.Equal(tag, []byte("Info")) {
		return 0
	}
	if binary.BigEndian.Uint32(frame[at+4:at+8])&1 == 0 {
		return 0
	}
	return int(binary.BigEndian.Uint32(frame[at+8 : at+12]))
}
