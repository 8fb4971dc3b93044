package stream

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"earshot/relay/event"
)

func TestTitle_NamesSystemTalkgroupAndUnit(t *testing.T) {
	for _, tt := range []struct {
		c    event.Call
		want string
	}{
		{event.Call{SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch", Source: 4021}, "Harness County — Fire Dispatch (4021)"},
		{event.Call{SystemLabel: "Harness County", TalkgroupLabel: "Fire Dispatch", Source: 4021, TalkerAlias: "ENGINE 12"}, "Harness County — Fire Dispatch (ENGINE 12)"},
		{event.Call{SystemLabel: "Harness County", TalkgroupName: "Fire Dispatch Main"}, "Harness County — Fire Dispatch Main"},
		{event.Call{SystemID: 3, TalkgroupID: 7}, "System 3 — Talkgroup 7"},
	} {
		if got := Title(tt.c); got != tt.want {
			t.Errorf("Title = %q, want %q", got, tt.want)
		}
	}
}

// writeICY writes chunks through an ICYWriter and returns the bytes.
func writeICY(t testing.TB, metaInt int, chunks []Chunk) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewICYWriter(&b, metaInt)
	for _, c := range chunks {
		if err := w.WriteChunk(c); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestICYWriter_PutsABlockEveryMetaIntBytes(t *testing.T) {
	audio := func(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
	chunks := []Chunk{
		{Data: audio(150, 1)},
		{Data: audio(120, 2), Title: "A — B"},
		{Data: audio(30, 3), Title: "A — B"},
		{Data: audio(250, 4), Title: "It's C"},
	}
	out := writeICY(t, 100, chunks)
	// By hand: blocks after audio bytes 100, 200, 300, 400, 500.
	var want []byte
	pos := 0
	var all []byte
	for _, c := range chunks {
		all = append(all, c.Data...)
	}
	block := func(title string) []byte { return icyTitleBlock(title) }
	for _, b := range [][]byte{{0}, block("A — B"), {0}, block("It's C"), {0}} {
		want = append(want, all[pos:pos+100]...)
		want = append(want, b...)
		pos += 100
	}
	want = append(want, all[pos:]...)
	if !bytes.Equal(out, want) {
		t.Fatalf("ICY stream differs from the hand-made one:\n got %q\nwant %q", out, want)
	}
	r := NewICYReader(bytes.NewReader(out), 100)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, all) {
		t.Fatalf("reading it back gives %d bytes of audio (%v), want %d", len(got), err, len(all))
	}
	changes := r.Changes()
	if len(changes) != 2 || changes[0] != (TitleChange{200, "A — B"}) || changes[1] != (TitleChange{400, "It’s C"}) {
		t.Fatalf("title changes %+v", changes)
	}
}

func TestICYWriter_WithoutMetadataWritesAudioAlone(t *testing.T) {
	out := writeICY(t, 0, []Chunk{{Data: []byte("abc"), Title: "x"}, {Data: []byte("def")}})
	if string(out) != "abcdef" {
		t.Fatalf("got %q", out)
	}
}

func TestICYTitleBlock_IsSafeForNaiveParsers(t *testing.T) {
	b := icyTitleBlock("O'Brien';\x00\nStreet")
	text := string(bytes.TrimRight(b[1:], "\x00"))
	if text != "StreamTitle='O’Brien’;  Street';" {
		t.Fatalf("block text %q", text)
	}
	if (len(b)-1)%16 != 0 || int(b[0])*16 != len(b)-1 {
		t.Fatalf("block of %d bytes with length byte %d", len(b), b[0])
	}
	long := icyTitleBlock(strings.Repeat("é", 3000))
	if int(long[0]) > 255 || !utf8.Valid(bytes.TrimRight(long[1:], "\x00")) {
		t.Fatalf("a long title makes a block of %d units, or invalid UTF-8", long[0])
	}
}

func FuzzICYRoundTrip(f *testing.F) {
	f.Add(uint16(16), []byte("some audio bytes here"), "Harness — Fire (12)", uint8(5))
	f.Add(uint16(1), []byte{0xFF, 0xFB, 0x90}, "'\x00';", uint8(1))
	f.Fuzz(func(t *testing.T, metaInt uint16, audio []byte, title string, split uint8) {
		if metaInt == 0 || len(audio) == 0 {
			return
		}
		cut := int(split) % len(audio)
		chunks := []Chunk{{Data: audio[:cut]}, {Data: audio[cut:], Title: title}}
		out := writeICY(t, int(metaInt), chunks)
		r := NewICYReader(bytes.NewReader(out), int(metaInt))
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !bytes.Equal(got, audio) {
			t.Fatal("the audio changed")
		}
		for _, c := range r.Changes() {
			if c.Offset%int64(metaInt) != 0 || c.Offset <= int64(cut) {
				t.Fatalf("title at offset %d (metaint %d, title's audio from %d)", c.Offset, metaInt, cut)
			}
		}
	})
}

// FuzzICYReader reads arbitrary bytes as an ICY stream: it may fail, but
// must not panic or loop.
func FuzzICYReader(f *testing.F) {
	f.Add(uint8(4), []byte("abcd\x02StreamTitle='x';\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00efgh"))
	f.Fuzz(func(t *testing.T, metaInt uint8, data []byte) {
		r := NewICYReader(bytes.NewReader(data), int(metaInt))
		got, _ := io.ReadAll(r)
		if len(got) > len(data) {
			t.Fatal("more audio than input")
		}
	})
}

func TestFrameSplitter_CutsWholeFrames(t *testing.T) {
	// Two MPEG-1 Layer III frames at 64 kbit/s, 44.1 kHz: 208 bytes, and
	// 209 with the padding bit.
	frame := func(pad bool) []byte {
		f := make([]byte, 208)
		f[0], f[1], f[2] = 0xFF, 0xFB, 0x50
		if pad {
			f[2] |= 0x02
			f = append(f, 0)
		}
		return f
	}
	stream := append(append([]byte("junk"), frame(false)...), frame(true)...)
	for _, step := range []int{1, 3, 100, len(stream)} {
		var s frameSplitter
		var sizes []int
		for i := 0; i < len(stream); i += step {
			s.push(stream[i:min(i+step, len(stream))], func(f []byte, samples int) {
				if samples != 1152 {
					t.Fatalf("samples %d", samples)
				}
				sizes = append(sizes, len(f))
			})
		}
		if len(sizes) != 2 || sizes[0] != 208 || sizes[1] != 209 || s.skipped != 4 {
			t.Fatalf("step %d: frames %v, skipped %d", step, sizes, s.skipped)
		}
	}
}

func FuzzFrameSplitter(f *testing.F) {
	f.Add([]byte{0xFF, 0xFB, 0x50, 0x00, 1, 2, 3})
	f.Add([]byte{0xFF, 0xF3, 0x14, 0xC4})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s frameSplitter
		total := 0
		s.push(data, func(f []byte, samples int) {
			size, n, ok := mp3Frame(f)
			if !ok || size != len(f) || n != samples {
				t.Fatalf("a frame that is not one: %x", f[:min(4, len(f))])
			}
			total += len(f)
		})
		if total+int(s.skipped)+len(s.buf) != len(data) {
			t.Fatalf("bytes lost: %d in frames, %d skipped, %d held, of %d", total, s.skipped, len(s.buf), len(data))
		}
	})
}
