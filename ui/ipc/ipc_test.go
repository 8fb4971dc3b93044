package ipc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"earshot/relay/event"
	"earshot/ui/listening"
	"earshot/ui/player"
)

func TestMessagesRoundTripOverTheChannel(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf, &buf)
	snap := &listening.Snapshot{Rev: 7, Backend: event.StateConnected, Volume: 0.5, Paused: true,
		Call: &event.Call{ID: 3, TalkgroupLabel: "Fire"}, Title: "Fire"}
	dir := listening.Directory{}
	if err := dir.UnmarshalJSON([]byte(`[{"systemId":1,"label":"Harness","talkgroups":[{"talkgroupId":101,"label":"Fire"}]}]`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		{Type: TypeSnapshot, Snapshot: snap},
		{Type: TypeDirectory, Directory: &dir, Rev: 2},
		{Type: TypeCommand, Command: CmdNotify, Talkgroup: &player.Talkgroup{SystemID: 1, TalkgroupID: 101}, On: true},
		{Type: TypeReply, ID: 9, Error: &Error{Kind: KindCredentials, Message: "refused"}},
	} {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Receive()
	if err != nil || got.Snapshot.Rev != 7 || !got.Snapshot.Paused || got.Snapshot.Call.ID != 3 {
		t.Fatalf("snapshot: %+v, %v", got.Snapshot, err)
	}
	got, err = c.Receive()
	if err != nil || got.Directory.TalkgroupLabel(player.Talkgroup{SystemID: 1, TalkgroupID: 101}) != "Fire" {
		t.Fatalf("directory: %+v, %v", got.Directory, err)
	}
	got, err = c.Receive()
	if err != nil || got.Talkgroup.TalkgroupID != 101 || !got.On {
		t.Fatalf("command: %+v, %v", got, err)
	}
	got, err = c.Receive()
	if err != nil || !IsKind(got.Error, KindCredentials) {
		t.Fatalf("reply: %+v, %v", got, err)
	}
	if _, err := c.Receive(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: %v", err)
	}
}

func TestBadMessagesAreRefused(t *testing.T) {
	for _, line := range []string{
		`not json`,
		`{"type":"launch-missiles"}`,
		`{"type":"command","command":"rm -rf"}`,
		`{"type":"command","command":"volume","volume":7}`,
		`{"type":"command","command":"play"}`,
		`{"type":"command","command":"avoid","seconds":-1}`,
		`{"type":"show","show":"somewhere"}`,
		`{"type":"snapshot"}`,
		`{"type":"show","show":"stream-url"}`,
		`{"type":"command","command":"copy"}`,
		`{"type":"command","command":"copy","text":"` + strings.Repeat("x", maxText+1) + `"}`,
		`{"type":"command","command":"signIn","server":"` + strings.Repeat("x", maxField+1) + `"}`,
	} {
		if _, err := Decode([]byte(line)); err == nil {
			t.Errorf("accepted %.80s", line)
		}
	}
	// A line longer than the cap ends the channel instead of growing memory.
	long := strings.Repeat("x", MaxMessage+10) + "\n"
	c := NewConn(strings.NewReader(long), io.Discard)
	if _, err := c.Receive(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("an over-long line: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"command","command":"volume","volume":0.5,"save":true}`))
	f.Add([]byte(`{"type":"snapshot","snapshot":{"rev":1,"volume":1}}`))
	f.Add([]byte(`{"type":"directory","directory":[{"systemId":1,"talkgroups":[{"talkgroupId":2}]}]}`))
	f.Add([]byte(`{"type":"reply","id":1,"error":{"kind":"credentials","message":"no"}}`))
	f.Add([]byte(`{"type":"command","id":2,"command":"copy","text":"ws://127.0.0.1:7373/v1/live?token=t"}`))
	f.Add([]byte(`{"type":"show","show":"stream-url","text":"ws://127.0.0.1:7373/v1/live?token=t"}`))
	f.Add([]byte(`{"type":"command","id":3,"command":"settings","change":{"kind":"alert","ruleName":"Old","rule":{"name":"Mayday","words":["mayday"],"regex":"engine \\d+","priority":true}}}`))
	f.Add([]byte(`{"type":"command","command":"settings","change":{"kind":"quietHours","quietHours":{"enabled":true,"days":{"mon":["22:00-07:00"]},"allowAlerts":true}}}`))
	f.Add([]byte(`{"type":"command","command":"settings","change":{"kind":"volume","talkgroup":{"systemId":1,"talkgroupId":2},"db":-6}}`))
	f.Add([]byte(`{"type":"command","command":"pauseQuiet","seconds":3600}`))
	f.Add([]byte(`{"type":"settings","rev":2,"settings":{"server":"demo","alerts":[{"name":"A","talkgroups":[1]}],"quietHours":{"enabled":false},"onInterrupt":"drop","levelling":true,"archive":{"enabled":true,"maxDays":3}}}`))
	f.Add([]byte(`{"type":"command","id":3,"command":"search","search":{"from":"2026-12-01T18:00:00Z","systems":[1],"talkgroups":[101],"text":"engine","limit":50,"before":"1700000000-9"}}`))
	f.Add([]byte(`{"type":"command","id":4,"command":"saveAudio","call":9,"path":"/home/alice/2026-12-01_18-03-07_Harness-County_Fire-Dispatch.mp3"}`))
	f.Add([]byte(`{"type":"command","id":5,"command":"export","search":{"from":"2026-12-01T18:00:00Z","to":"2026-12-01T19:00:00Z"},"path":"/tmp/calls.zip"}`))
	f.Add([]byte(`{"type":"progress","id":5,"progress":{"done":1,"total":2,"bytes":10}}`))
	f.Add([]byte(`{"type":"reply","id":3,"calls":[{"id":9,"dateTime":1700000000}],"next":"1700000000-9"}`))
	f.Add([]byte(`{"type":"command","command":"cancel","request":5}`))
	f.Add([]byte(`{"type":"command","command":"cannotShow","text":"Earshot cannot open a window: no display (DISPLAY is not set)"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// What Decode accepts can be sent again and means the same.
		var buf bytes.Buffer
		c := NewConn(&buf, &buf)
		if err := c.Send(m); err != nil {
			t.Fatalf("an accepted message cannot be sent: %v", err)
		}
		if _, err := c.Receive(); err != nil {
			t.Fatalf("an accepted message does not come back: %v", err)
		}
	})
}
