package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"earshot/relay/media"
	"earshot/relay/proc"
)

const (
	maxFFmpegStderr = 4096            // bytes of ffmpeg's complaints kept for the error
	ffmpegWaitDelay = 2 * time.Second // after ffmpeg exits or is killed, how long its pipes may linger
)

// ffmpegPath resolves the ffmpeg binary or says it needs installing.
func (d Decoder) ffmpegPath(format media.Format) (string, error) {
	needs := func(err error) error {
		return fmt.Errorf("%w: this call is recorded as %s, which Earshot plays through ffmpeg, and ffmpeg is not installed (install the \"ffmpeg\" package, then play the call again): %w",
			ErrNeedsFFmpeg, formatName(format), err)
	}
	if d.FFmpeg != "" {
		if _, err := os.Stat(d.FFmpeg); err != nil {
			return "", needs(err)
		}
		return d.FFmpeg, nil
	}
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", needs(err)
	}
	return p, nil
}

// monoToStereo is the ffmpeg filter that puts a mono call on both channels
// at full level, as the Go decoders do. With -ac 2 alone ffmpeg upmixes
// mono at -3 dB, so M4A calls would play quieter than WAV and MP3 ones.
// Channels a file lacks count as silent, so stereo passes unchanged.
const monoToStereo = "pan=stereo|FL=FC+FL|FR=FC+FR"

// decodeFFmpeg runs `ffmpeg -nostdin -v error -i <input> -af <monoToStereo>
// -f s16le -ac 2 -ar <rate> pipe:1` and streams its output. The process lives until the stream
// ends, is closed, or ctx is done.
func (d Decoder) decodeFFmpeg(ctx context.Context, r io.ReadSeeker, format media.Format, outRate int) (*Stream, error) {
	path, err := d.ffmpegPath(format)
	if err != nil {
		return nil, err
	}
	input := "pipe:0"
	var stdin io.Reader = r
	if f, ok := r.(*os.File); ok && runtime.GOOS == "linux" {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			// Give ffmpeg the file itself as stdin and let it open
			// /dev/stdin: that reopens the file, so ffmpeg can seek, which
			// M4A files with their index (moov) at the end need. Through a
			// pipe those fail with "partial file" once past the probe size.
			input = "/dev/stdin"
			stdin = f
		}
	}
	cmd := exec.CommandContext(ctx, path, "-nostdin", "-hide_banner", "-v", "error",
		"-i", input, "-vn", "-af", monoToStereo, "-f", "s16le", "-ac", "2", "-ar", strconv.Itoa(outRate), "pipe:1")
	cmd.Stdin = stdin
	proc.Background(cmd)
	stderr := &cappedBuffer{max: maxFFmpegStderr}
	cmd.Stderr = stderr
	cmd.WaitDelay = ffmpegWaitDelay
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			_, nerr := Decoder{FFmpeg: "/nonexistent"}.ffmpegPath(format)
			return nil, fmt.Errorf("%w (%w)", nerr, err)
		}
		return nil, fmt.Errorf("starting ffmpeg: %w", err)
	}
	p := &ffmpegProc{cmd: cmd, stdout: stdout, stderr: stderr, format: format}
	return newStream(p, outRate, format, -1, "ffmpeg", p.close), nil
}

// ffmpegProc reads a running ffmpeg's PCM output.
type ffmpegProc struct {
	cmd      *exec.Cmd
	stdout   io.Reader
	stderr   *cappedBuffer
	format   media.Format
	waitOnce sync.Once
	waitErr  error
}

func (p *ffmpegProc) wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.cmd.Wait() })
	return p.waitErr
}

func (p *ffmpegProc) Read(b []byte) (int, error) {
	n, err := p.stdout.Read(b)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		return n, fmt.Errorf("reading ffmpeg output: %w", err)
	}
	if werr := p.wait(); werr != nil {
		msg := p.stderr.summary()
		if msg == "" {
			msg = werr.Error()
		}
		return n, fmt.Errorf("%w: ffmpeg could not decode this %s audio: %s", ErrBadAudio, formatName(p.format), msg)
	}
	return n, io.EOF
}

func (p *ffmpegProc) close() error {
	_ = p.cmd.Process.Kill() // fails harmlessly (os.ErrProcessDone) if it already exited
	_ = p.wait()             // killed or finished: its exit status no longer matters
	return nil
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// summary is ffmpeg's first complaint, on one line.
func (c *cappedBuffer) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimSpace(c.buf.String())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.ToValidUTF8(s, "?")
}
