package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"earshot/relay/proc"
)

// Encoder restarts: a process that dies is started again at once; one that
// keeps dying (maxRestarts within restartWindow) stops the station.
const (
	maxRestarts   = 5
	restartWindow = time.Minute
	// stopGrace is how long an exiting encoder's pipes may linger.
	stopGrace = 2 * time.Second
	// maxEncoderStderr is how much of ffmpeg's complaints is kept.
	maxEncoderStderr = 2048
)

// encoderArgs are ffmpeg's arguments: mono s16le PCM on stdin, MP3 frames
// on stdout as soon as each is encoded, nothing else. No ID3 tag or Xing
// header (a stream has no length), and no bit reservoir, so every frame
// decodes on its own and a listener can join at any frame.
func encoderArgs() []string {
	return []string{
		"-nostdin", "-hide_banner", "-loglevel", "error",
		"-probesize", "32", "-analyzeduration", "0", "-fflags", "nobuffer",
		"-f", "s16le", "-ar", strconv.Itoa(SampleRate), "-ac", "1", "-i", "pipe:0",
		"-c:a", "libmp3lame", "-b:a", strconv.Itoa(Bitrate) + "k", "-reservoir", "0",
		"-f", "mp3", "-id3v2_version", "0", "-write_xing", "0", "-flush_packets", "1",
		"pipe:1",
	}
}

// encoder is one running ffmpeg process.
type encoder struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *headBuffer
	base   int64         // the input sample position its output starts at
	done   chan struct{} // its output has ended and it has been waited for
	err    error         // why it ended; read after done
	unhook func() bool   // cancels the kill on the station's end
}

// startEncoder starts ffmpeg; its output goes to st.output.
func (st *station) startEncoder(base int64) (*encoder, error) {
	cmd := exec.Command(st.ffmpeg, encoderArgs()...)
	proc.Background(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e := &encoder{cmd: cmd, stdin: stdin, stderr: &headBuffer{max: maxEncoderStderr}, base: base, done: make(chan struct{})}
	cmd.Stderr = e.stderr
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting ffmpeg: %w", ErrNoEncoder, err)
	}
	// The station's end kills it at once, which also frees a write to
	// its input that is stuck.
	e.unhook = context.AfterFunc(st.ctx, func() { _ = cmd.Process.Kill() })
	go func() { // waited for through e.done, which stop waits on
		defer close(e.done)
		st.output(e, stdout)
		e.err = cmd.Wait()
	}()
	st.mu.Lock()
	st.enc = e
	st.mu.Unlock()
	return e, nil
}

// stop ends the encoder (nobody waits for what it still holds: either the
// station is stopping or the process already died) and waits for it.
func (e *encoder) stop() {
	e.unhook()
	_ = e.stdin.Close()
	_ = e.cmd.Process.Kill() // harmless (os.ErrProcessDone) if it exited
	<-e.done
}

// why describes how the encoder ended, for the log.
func (e *encoder) why() string {
	if s := e.stderr.String(); s != "" {
		return s
	}
	if e.err != nil {
		return e.err.Error()
	}
	return "it exited"
}

// output cuts the encoder's MP3 into frames, tags each with the title of
// the call it carries and broadcasts them, one chunk per read and title.
func (st *station) output(e *encoder, stdout io.Reader) {
	var split frameSplitter
	buf := make([]byte, 16<<10)
	var frames int64
	for {
		n, err := stdout.Read(buf)
		var data []byte
		var title string
		split.push(buf[:n], func(f []byte, samples int) {
			end := e.base + (frames+1)*int64(samples) - encoderDelay
			frames++
			t := st.titleAt(end)
			if t != title && len(data) > 0 {
				st.broadcast(Chunk{Data: data, Title: title})
				data = nil
			}
			data, title = append(data, f...), t
		})
		if len(data) > 0 {
			st.broadcast(Chunk{Data: data, Title: title})
		}
		if err != nil {
			if split.skipped > 0 {
				st.log.Warn("the MP3 encoder wrote bytes that are not MP3 frames", "bytes", split.skipped)
			}
			return
		}
	}
}

// pace feeds the encoder in real time: the decoded calls as they come,
// a gap after each, and silence whenever nothing is due, so the stream
// never stops. It restarts an encoder that dies and returns
// ErrEncoderFailed when one keeps dying, or nil when the station stops.
func (st *station) pace() error {
	enc, err := st.startEncoder(0)
	if err != nil {
		return err
	}
	defer func() { enc.stop() }() // the one running at the end
	var (
		fed      int64 // samples fed to encoders so far
		start    = time.Now()
		cur      *pcmChunk
		ahead    decodedAhead
		off      int   // samples of cur already fed
		gapUntil int64 // no call starts before this input position
		gap      = int64(st.streams.opts.Gap.Seconds() * SampleRate)
		restarts []time.Time
		samples  []int16
		raw      []byte
	)
	tick := time.NewTicker(pacerTick)
	defer tick.Stop()
	for {
		select {
		case <-st.ctx.Done():
			return nil
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds()*SampleRate) - fed
		if due > int64(maxDebt.Seconds()*SampleRate) {
			st.log.Info("the stream was held up; carrying on from now", "behind", time.Duration(due)*time.Second/SampleRate)
			due = int64(pacerTick.Seconds() * SampleRate)
			start = time.Now().Add(-time.Duration(fed+due) * time.Second / SampleRate)
		}
		if due <= 0 {
			continue
		}
		if int64(cap(samples)) < due {
			samples = make([]int16, due)
		}
		samples = samples[:due]
		clear(samples)
		for i := int64(0); i < due; {
			if cur == nil {
				if fed+i < gapUntil {
					i = min(due, gapUntil-fed)
					continue
				}
				c, ok := ahead.next(st.pcm)
				if !ok {
					i = due // nothing ready to play: silence
					continue
				}
				cur, off = &c, 0
				if c.start {
					st.addMark(mark{pos: fed + i, title: c.title})
				}
			}
			n := copy(samples[i:], cur.samples[off:])
			i += int64(n)
			off += n
			if off == len(cur.samples) {
				if cur.end {
					gapUntil = fed + i + gap
				}
				cur = nil
			}
		}
		raw = raw[:0]
		for _, v := range samples {
			raw = binary.LittleEndian.AppendUint16(raw, uint16(v))
		}
		_, werr := enc.stdin.Write(raw)
		select {
		case <-enc.done:
		default:
			if werr == nil {
				fed += due
				continue
			}
		}
		// The encoder died: start another where this one stopped.
		enc.stop()
		st.log.Warn("the MP3 encoder (ffmpeg) stopped; starting it again", "why", enc.why())
		now := time.Now()
		restarts = append(restarts, now)
		for len(restarts) > 0 && now.Sub(restarts[0]) > restartWindow {
			restarts = restarts[1:]
		}
		if len(restarts) > maxRestarts {
			return fmt.Errorf("%w: %s", ErrEncoderFailed, enc.why())
		}
		fed += due
		next, err := st.startEncoder(fed)
		if err != nil {
			return err
		}
		enc = next
	}
}

// startLead is how much of a call must be decoded before it starts
// playing (all of it, if shorter). Decoding runs far faster than real
// time, so this costs a call only its decoding time; a decoder that
// stalls for less than this (ffmpeg starting, a busy machine) then never
// cuts silence into the middle of a call.
const startLead = SampleRate // samples: a second

// decodedAhead is the pacer's look-ahead: the decoded chunks taken from
// the station's pcm channel before their time, so that a call starts only
// with startLead of it (or its end) in hand. It holds at most startLead
// and one chunk.
type decodedAhead struct {
	chunks  []pcmChunk
	samples int // in chunks
	ends    int // chunks with end set
}

// next returns the next chunk to play, if it is ready: a call's first
// chunk once startLead of the call or its end is decoded, any other chunk
// once it is there.
func (a *decodedAhead) next(pcm <-chan pcmChunk) (pcmChunk, bool) {
	if len(a.chunks) == 0 && !a.take(pcm) {
		return pcmChunk{}, false
	}
	if a.chunks[0].start {
		for a.samples < startLead && a.ends == 0 && a.take(pcm) {
		}
		if a.samples < startLead && a.ends == 0 {
			return pcmChunk{}, false
		}
	}
	c := a.chunks[0]
	a.chunks[0] = pcmChunk{}
	a.chunks = a.chunks[1:]
	a.samples -= len(c.samples)
	if c.end {
		a.ends--
	}
	return c, true
}

// take moves one chunk from pcm to the look-ahead, if one is waiting.
func (a *decodedAhead) take(pcm <-chan pcmChunk) bool {
	select {
	case c := <-pcm:
		a.chunks = append(a.chunks, c)
		a.samples += len(c.samples)
		if c.end {
			a.ends++
		}
		return true
	default:
		return false
	}
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.b), "?"))
	return strings.Join(strings.Fields(s), " ")
}
