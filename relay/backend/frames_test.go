package backend

import (
	"os"
	"path/filepath"
	"testing"
)

// captureDir holds the recordings of real OpenScanner servers. There is
// one copy, the fake server's (../shared/openscanner-captures copied in),
// read by this package's tests too.
var captureDir = filepath.Join("backendtest", "testdata", "captures")

func readCapture(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{captureDir}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFrameCaptures(t *testing.T) {
	for _, dir := range []string{"1.3.3/ws-listener", "1.3.3/ws-legacy", "1.2.0/ws-listener", "1.1.2/ws-listener"} {
		want := []FrameKind{FrameWelcome, FrameConfig, FrameConfig, FrameConfig, FrameCall, FrameListenerCount}
		for i, kind := range want {
			name := filepath.Join(dir, []string{"01.json", "02.json", "03.json", "04.json", "05.json", "06.json"}[i])
			f, err := ParseFrame(readCapture(t, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Kind != kind {
				t.Errorf("%s: kind %v, want %v", name, f.Kind, kind)
			}
			switch f.Kind {
			case FrameConfig:
				if i == 3 && (len(f.Config.Systems) != 1 || f.Config.Systems[0].Talkgroups[0].Label != "Fire Dispatch" || f.Config.Systems[0].Talkgroups[0].ID != 101) {
					t.Errorf("%s: config %+v", name, f.Config)
				}
			case FrameCall:
				c := f.Call
				if c.ID != 1 || c.SystemID != 1 || c.TalkgroupID != 101 || c.Frequency != 851012500 || c.DateTime == 0 {
					t.Errorf("%s: call %+v", name, c)
				}
				inline := dir == "1.1.2/ws-listener"
				if got := len(c.InlineAudio) > 0; got != inline {
					t.Errorf("%s: inline audio %v, want %v", name, got, inline)
				}
				if inline && string(c.InlineAudio[:3]) != "ID3" {
					t.Errorf("%s: inline audio does not start with ID3", name)
				}
			case FrameListenerCount:
				if f.Count < 1 {
					t.Errorf("%s: count %d", name, f.Count)
				}
			}
		}
	}
}

func TestParseFrameOthers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind FrameKind
		bad  bool
	}{
		{`{"type":"call.transcript","callId":7,"text":"engine 5 respond"}`, FrameTranscript, false},
		{`["TRN",{"callId":7,"text":"x"}]`, FrameTranscript, false},
		{`{"type":"session.expired"}`, FrameSessionExpired, false},
		{`["XPR"]`, FrameSessionExpired, false},
		{`{"type":"connection.rejected","reason":"max_clients"}`, FrameRejected, false},
		{`["MAX"]`, FrameRejected, false},
		{`{"type":"something.new","x":1}`, FrameUnknown, false},
		{`["ZZZ",1]`, FrameUnknown, false},
		{`{"type":"call.new","call":{"id":0}}`, FrameCall, true},
		{`{"type":"call.new","call":{"id":"12","dateTime":"2026-11-22T10:00:00Z","systemId":"3"}}`, FrameCall, false},
		{`["CAL",{"id":5,"audio":{"type":"Buffer","data":[73,68,51]}}]`, FrameCall, false},
		{`["CAL",{"id":5,"audio":"%%%"}]`, FrameCall, true},
		{`{"type":"call.transcript","text":"no id"}`, FrameTranscript, true},
		{`{"no":"type"}`, FrameUnknown, true},
		{`[]`, FrameUnknown, true},
		{`[1,2]`, FrameUnknown, true},
		{`"just a string"`, FrameUnknown, true},
		{``, FrameUnknown, true},
		{`{"type":"call.new","call":`, FrameUnknown, true},
	} {
		f, err := ParseFrame([]byte(tc.in))
		if (err != nil) != tc.bad {
			t.Errorf("%s: err %v, want bad=%v", tc.in, err, tc.bad)
		}
		if err == nil && f.Kind != tc.kind {
			t.Errorf("%s: kind %v, want %v", tc.in, f.Kind, tc.kind)
		}
	}
	f, _ := ParseFrame([]byte(`{"type":"call.new","call":{"id":"12","dateTime":"2026-11-22T10:00:00Z","systemId":"3"}}`))
	if f.Call.ID != 12 || f.Call.SystemID != 3 || f.Call.DateTime != 1795341600 {
		t.Errorf("loose call = %+v", f.Call)
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, dir := range []string{"1.3.3/ws-listener", "1.3.3/ws-legacy", "1.2.0/ws-listener", "1.1.2/ws-listener"} {
		for _, n := range []string{"01.json", "02.json", "04.json", "05.json", "06.json"} {
			f.Add(readCapture(f, dir, n))
		}
	}
	f.Add([]byte(`{"type":"call.transcript","callId":7,"text":"x"}`))
	f.Add([]byte(`["CAL",{"id":5,"audio":{"type":"Buffer","data":[1,2]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			return
		}
		switch fr.Kind {
		case FrameCall:
			if fr.Call == nil || fr.Call.ID <= 0 {
				t.Fatalf("call frame without a valid call: %+v", fr)
			}
		case FrameTranscript:
			if fr.Transcript == nil || fr.Transcript.CallID <= 0 {
				t.Fatal("transcript frame without a call id")
			}
		case FrameConfig:
			if fr.Config == nil {
				t.Fatal("config frame without a config")
			}
		}
	})
}
