// Package stream makes the relay's continuous MP3 streams (/v1/stream.mp3):
// one endless stream of live calls in arrival order, with silence between
// them so players never stall, for programs that want one audio URL (VLC,
// OBS, a smart speaker, a browser's <audio>).
//
// A Station plays the calls one filter lets through: it decodes each call
// with relay/audio, paces the PCM in real time (silence when nothing plays)
// and encodes it once, with one long-lived ffmpeg/libmp3lame process, for
// every listener of that filter. Listeners get whole MP3 frames, each tagged
// with the title of the call it carries, through a bounded queue: one that
// cannot keep up is dropped on its own and never slows the others. ICYWriter
// adds Icecast/SHOUTcast metadata for clients that ask for it.
//
// It owns stations, their encoder processes and listener queues. It must not
// import any GUI package or talk HTTP; ffmpeg never sees a secret (PCM in on
// stdin, MP3 out on stdout, nothing else on its command line).
package stream
