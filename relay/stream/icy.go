package stream

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"earshot/relay/event"
)

// MetaInt is how many audio bytes go between two ICY metadata blocks
// (icy-metaint): half a second of the stream, so a player's title follows
// the calls closely, and even a short call gets its title (a call and the
// gap after it are longer than that).
const MetaInt = 4096

// maxTitleBytes keeps a StreamTitle block within the 255×16 bytes the
// length byte can describe.
const maxTitleBytes = 1000

// Title is what a call's ICY StreamTitle says: "System — Talkgroup (unit)",
// with the unit's alias or radio id when the server gave one.
func Title(c event.Call) string {
	system := c.SystemLabel
	if system == "" {
		system = "System " + strconv.FormatInt(c.SystemID, 10)
	}
	tg := firstNonEmpty(c.TalkgroupLabel, c.TalkgroupName)
	if tg == "" {
		tg = "Talkgroup " + strconv.FormatInt(c.TalkgroupID, 10)
	}
	title := system + " — " + tg
	if unit := firstNonEmpty(c.TalkerAlias, idOrEmpty(c.Source)); unit != "" {
		title += " (" + unit + ")"
	}
	return title
}

func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// icyTitleBlock is the metadata block that sets title: a length byte (in
// 16-byte units) and StreamTitle='…'; padded with zeros. Quotes in the
// title become ’ (players end the value at the first "';") and control
// characters become spaces.
func icyTitleBlock(title string) []byte {
	title = strings.Map(func(r rune) rune {
		switch {
		case r == '\'':
			return '’'
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, strings.ToValidUTF8(title, "?"))
	if len(title) > maxTitleBytes {
		cut := maxTitleBytes
		for cut > 0 && !utf8RuneStart(title[cut]) {
			cut--
		}
		title = title[:cut]
	}
	text := "StreamTitle='" + title + "';"
	n := (len(text) + 15) / 16
	b := make([]byte, 1+16*n)
	b[0] = byte(n)
	copy(b[1:], text)
	return b
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ICYWriter writes a listener's stream with Icecast/SHOUTcast metadata: a
// block after every MetaInt bytes of audio, holding the title of the call
// being played when it changed, else a single zero byte. A zero metaInt
// writes the audio alone.
type ICYWriter struct {
	w       io.Writer
	metaInt int
	left    int    // audio bytes until the next block
	sent    string // the title the last block announced
}

// NewICYWriter returns an ICYWriter on w with a block every metaInt bytes
// (0: no metadata).
func NewICYWriter(w io.Writer, metaInt int) *ICYWriter {
	return &ICYWriter{w: w, metaInt: metaInt, left: metaInt}
}

// WriteChunk writes one chunk of the stream. A block that falls inside the
// chunk announces the chunk's title, so a title changes at the first block
// after its call's first frame.
func (m *ICYWriter) WriteChunk(c Chunk) error {
	data := c.Data
	if m.metaInt <= 0 {
		_, err := m.w.Write(data)
		return err
	}
	for len(data) > 0 {
		n := min(m.left, len(data))
		if _, err := m.w.Write(data[:n]); err != nil {
			return err
		}
		data, m.left = data[n:], m.left-n
		if m.left > 0 {
			continue
		}
		m.left = m.metaInt
		block := []byte{0}
		if c.Title != m.sent {
			block, m.sent = icyTitleBlock(c.Title), c.Title
		}
		if _, err := m.w.Write(block); err != nil {
			return err
		}
	}
	return nil
}

// ICYReader reads a stream written with ICY metadata every metaInt bytes:
// Read returns the audio alone, and Title the last StreamTitle seen. It is
// what a player does, for tests and load tools.
type ICYReader struct {
	r       io.Reader
	metaInt int
	left    int
	audio   int64 // audio bytes read so far
	title   string
	changes []TitleChange
}

// TitleChange is a StreamTitle that arrived after Offset bytes of audio.
type TitleChange struct {
	Offset int64
	Title  string
}

// NewICYReader reads r, a stream with a metadata block every metaInt
// bytes (icy-metaint; 0 for none).
func NewICYReader(r io.Reader, metaInt int) *ICYReader {
	return &ICYReader{r: r, metaInt: metaInt, left: metaInt}
}

// Read reads audio bytes, consuming the metadata blocks between them.
func (m *ICYReader) Read(p []byte) (int, error) {
	if m.metaInt > 0 && m.left == 0 {
		if err := m.readBlock(); err != nil {
			return 0, err
		}
		m.left = m.metaInt
	}
	if m.metaInt > 0 && len(p) > m.left {
		p = p[:m.left]
	}
	n, err := m.r.Read(p)
	m.left -= n
	m.audio += int64(n)
	return n, err
}

// Title is the last StreamTitle read ("" before the first).
func (m *ICYReader) Title() string { return m.title }

// Changes returns the title changes read so far, and forgets them.
func (m *ICYReader) Changes() []TitleChange {
	c := m.changes
	m.changes = nil
	return c
}

// readBlock reads one metadata block and takes its StreamTitle.
func (m *ICYReader) readBlock() error {
	var n [1]byte
	if _, err := io.ReadFull(m.r, n[:]); err != nil {
		return err
	}
	if n[0] == 0 {
		return nil
	}
	b := make([]byte, 16*int(n[0]))
	if _, err := io.ReadFull(m.r, b); err != nil {
		return fmt.Errorf("a metadata block ends early: %w", err)
	}
	text := string(bytes.TrimRight(b, "\x00"))
	const key = "StreamTitle='"
	i := strings.Index(text, key)
	if i < 0 {
		return nil
	}
	rest := text[i+len(key):]
	end := strings.Index(rest, "';")
	if end < 0 {
		return fmt.Errorf("a metadata block's StreamTitle is not closed: %q", text)
	}
	m.title = rest[:end]
	m.changes = append(m.changes, TitleChange{Offset: m.audio, Title: m.title})
	return nil
}
