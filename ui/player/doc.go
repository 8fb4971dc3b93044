// Package player plays scanner calls out loud for the desktop app: it decodes
// a call's cached audio with relay/audio (WAV and MP3 in Go; M4A/AAC, Ogg and
// anything else through an ffmpeg subprocess) at one output rate, and feeds
// an audio Output one call at a time, in order, with pause, skip, replay,
// volume, live on/off and talkgroup filters (Filter, from relay/filter).
//
// It owns the play queue and the playback state. It must not import
// Fyne or any other GUI package (the window reads State through OnChange and
// wraps updates in fyne.Do itself), must not talk to the OpenScanner server
// (audio comes from the relay's cache through AudioSource), and keeps no
// package-level mutable state: the one audio device context of the process
// belongs to the OtoOutput value the app creates once.
//
// All PCM inside the package is interleaved signed 16-bit little-endian
// stereo ("s16le"), 4 bytes a frame.
package player
