// Package media recognises call audio formats from their first bytes.
//
// OpenScanner stores whatever the uploader sent and often labels it
// application/octet-stream, so Earshot never trusts a declared type: it sniffs
// the data. This package owns that recognition and the file names a call's
// audio is saved under (FileName); it does no I/O and no decoding.
package media

import "bytes"

// Format is an audio container or stream format.
type Format int

// The formats recorders upload. Unknown is anything else.
const (
	Unknown Format = iota
	MP3
	M4A // MPEG-4 audio (AAC in an MP4 container), what most recorders upload
	WAV
	Ogg // Ogg (Opus or Vorbis)
	AAC // raw AAC in ADTS frames
)

// SniffLen is how many leading bytes Sniff looks at; more are ignored.
const SniffLen = 64

// Sniff reports the format of audio data that begins with head.
func Sniff(head []byte) Format {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WAVE")):
		return WAV
	case len(head) >= 4 && bytes.Equal(head[:4], []byte("OggS")):
		return Ogg
	case len(head) >= 12 && bytes.Equal(head[4:8], []byte("ftyp")) && mp4Audio(head[8:12]):
		return M4A
	case len(head) >= 10 && bytes.Equal(head[:3], []byte("ID3")) && head[3] < 0xFF && head[4] < 0xFF:
		// An ID3v2 tag precedes MPEG audio. (AAC files with ID3 exist but
		// are rare from recorders; the decoders sniff again past the tag.)
		return MP3
	case len(head) >= 4 && adtsHeader(head):
		return AAC
	case len(head) >= 4 && mpegAudioHeader(head):
		return MP3
	}
	return Unknown
}

// mp4Audio reports whether an ISO base media major brand is one audio files
// use. Video brands are not call audio.
func mp4Audio(brand []byte) bool {
	switch string(brand) {
	case "M4A ", "M4B ", "mp42", "mp41", "isom", "iso2", "iso5", "iso6", "dash", "3gp4", "3gp5", "3gp6", "3g2a", "MSNV", "F4A ":
		return true
	}
	return false
}

// mpegAudioHeader reports whether h starts with a plausible MPEG audio frame
// header: sync, a defined version and layer, a usable bitrate and sample rate.
func mpegAudioHeader(h []byte) bool {
	if h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return false
	}
	version := (h[1] >> 3) & 0x3
	layer := (h[1] >> 1) & 0x3
	bitrate := h[2] >> 4
	rate := (h[2] >> 2) & 0x3
	return version != 1 && layer != 0 && bitrate != 0xF && bitrate != 0 && rate != 3
}

// adtsHeader reports whether h starts with an AAC ADTS header: a 12-bit sync,
// layer 0 (which MPEG audio never uses) and a valid sampling index.
func adtsHeader(h []byte) bool {
	if h[0] != 0xFF || h[1]&0xF6 != 0xF0 {
		return false
	}
	return (h[2]>>2)&0xF < 13
}

// String names the format for messages.
func (f Format) String() string {
	switch f {
	case MP3:
		return "MP3"
	case M4A:
		return "M4A"
	case WAV:
		return "WAV"
	case Ogg:
		return "Ogg"
	case AAC:
		return "AAC"
	}
	return "unknown"
}

// ContentType is the MIME type to serve the format with.
func (f Format) ContentType() string {
	switch f {
	case MP3:
		return "audio/mpeg"
	case M4A:
		return "audio/mp4"
	case WAV:
		return "audio/wav"
	case Ogg:
		return "audio/ogg"
	case AAC:
		return "audio/aac"
	}
	return "application/octet-stream"
}

// Ext is the usual file extension of the format, with the dot ("" if
// unknown).
func (f Format) Ext() string {
	switch f {
	case MP3:
		return ".mp3"
	case M4A:
		return ".m4a"
	case WAV:
		return ".wav"
	case Ogg:
		return ".ogg"
	case AAC:
		return ".aac"
	}
	return ""
}
