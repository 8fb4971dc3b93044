package backendtest

import (
	"encoding/binary"
	"math"
)

// SynthWAV returns real audio: a 16-bit mono PCM WAV of a tone at freqHz
// with a short fade in and out (so it sounds like a transmission, not a
// click), seconds long at sampleRate.
func SynthWAV(seconds, freqHz float64, sampleRate int) []byte {
	n := int(seconds * float64(sampleRate))
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(b[28:], uint32(sampleRate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	fade := max(1, sampleRate/50) // 20 ms
	for i := 0; i < n; i++ {
		gain := 1.0
		if i < fade {
			gain = float64(i) / float64(fade)
		} else if n-i < fade {
			gain = float64(n-i) / float64(fade)
		}
		// A tone with a slow warble, like a voice channel's squelch tail.
		v := math.Sin(2*math.Pi*freqHz*float64(i)/float64(sampleRate) + 3*math.Sin(2*math.Pi*5*float64(i)/float64(sampleRate)))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(v*9000*gain)))
	}
	return b
}
