package relay_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/server"
)

// oneToken accepts a single stream token.
type oneToken struct{}

func (oneToken) Authenticate(tok string) (server.Identity, error) {
	if tok != "bench" {
		return server.Identity{}, errors.New("invalid stream token")
	}
	return server.Identity{TokenID: "bench", Scope: server.ScopeListen}, nil
}
func (oneToken) Touch(string, string)     {}
func (oneToken) Valid(string) bool        { return true }
func (oneToken) Changed() <-chan struct{} { return nil }

// BenchmarkEndToEnd runs the whole relay on loopback — fake OpenScanner
// server → backend session → relay core → HTTP/WebSocket server → a local
// consumer — and reports, per call:
//   - added-ms: the relay's added latency (the consumer's receipt minus a
//     client connected straight to the server, for the same broadcast);
//   - audio-ms: from the consumer seeing call.new to the 50 KB call's audio
//     fully downloaded from the relay.
//
// Medians are reported (targets: ≤ 5 ms and ≤ 20 ms).
func BenchmarkEndToEnd(b *testing.B) {
	fake := backendtest.NewServer(backendtest.Options{PublicAccess: true})
	defer fake.Close()
	fake.AddSystem(1, "Bench County")
	fake.AddTalkgroup(1, 1, "TG 1", "", "", "", "")
	sess, err := backend.New(backend.Options{ServerURL: fake.URL()})
	if err != nil {
		b.Fatal(err)
	}
	lr := startLoopbackRelay(b, sess, 256<<20)
	core := lr.core
	base := "http://" + lr.addr

	for core.Status().Backend.State != "connected" {
		time.Sleep(10 * time.Millisecond)
	}
	consumer, _, err := websocket.DefaultDialer.Dial("ws://"+lr.addr+"/v1/live?token=bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer consumer.Close()
	direct, _, err := websocket.DefaultDialer.Dial("ws"+fake.URL()[4:]+"/api/v1/ws/listener", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()

	type seen struct {
		id int64
		at time.Time
	}
	watch := func(conn *websocket.Conn, out chan<- seen) {
		for {
			_, data, err := conn.ReadMessage()
			at := time.Now()
			if err != nil {
				close(out)
				return
			}
			var e struct {
				Type string
				Call *struct{ ID int64 }
			}
			if json.Unmarshal(data, &e) == nil && e.Type == "call.new" && e.Call != nil {
				out <- seen{e.Call.ID, at}
			}
		}
	}
	viaRelay, viaDirect := make(chan seen, 16), make(chan seen, 16)
	go watch(consumer, viaRelay)
	go watch(direct, viaDirect)
	audio := backendtest.SynthWAV(3.1, 440, 8000) // ≈ 50 KB
	client := &http.Client{}
	var added, audioLat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 1, Audio: audio})
		var d, r seen
		for d.id != id {
			d = <-viaDirect
		}
		for r.id != id {
			r = <-viaRelay
		}
		added = append(added, r.at.Sub(d.at))
		for {
			resp, err := client.Get(base + "/v1/calls/" + strconv.FormatInt(id, 10) + "/audio?token=bench")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && n == int64(len(audio)) {
				break
			}
		}
		audioLat = append(audioLat, time.Since(r.at))
	}
	b.StopTimer()
	med := func(v []time.Duration) float64 {
		slices.Sort(v)
		return float64(v[len(v)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(added), "added-ms")
	b.ReportMetric(med(audioLat), "audio-ms")
}
