// Package archive keeps calls — their audio and all their metadata,
// transcripts included — beyond the audio cache, for as long as the user
// asks (an opt-in, bounded by age and size, oldest out, with a choice of
// talkgroups), and finds them again for `earshot export`.
//
// It owns the archive directory. Each call is two files in a directory
// per server and per day (UTC): its audio and a JSON sidecar written after
// it, each through a temporary file, fsync and rename, so no half-written
// call is ever listed; Open rebuilds the figures from the files and
// removes what a crash left half done. A call is named by what it is —
// server, date and time, system, talkgroup and a hash of its audio — not
// by its id alone, so a server whose ids start again (a reinstall, a
// restored backup) neither overwrites nor duplicates what is kept.
//
// Find reads an archive without changing it, with or without a relay
// running. The package must not import GUI packages or talk to the server:
// a Recorder takes calls and audio from the relay core.
package archive
