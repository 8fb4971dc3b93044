// Package audio turns a call's audio file into PCM: WAV and MP3 are decoded
// in Go, M4A/AAC, Ogg and anything else through an ffmpeg subprocess, and
// everything is resampled to the one rate the caller asks for. The desktop
// player (ui/player) plays what it decodes, and the relay's continuous
// stream re-encodes it.
//
// It owns decoding and resampling only: no audio output, no network, no
// GUI imports, and no package-level mutable state. An ffmpeg process lives
// no longer than the Stream it feeds (or the context it was started with),
// and never sees a secret on its command line (it reads the call's bytes on
// stdin).
//
// All PCM in the package is interleaved signed 16-bit little-endian stereo
// ("s16le"), 4 bytes a frame.
package audio
