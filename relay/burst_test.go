package relay_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"earshot/relay"
	"earshot/relay/backend"
	"earshot/relay/backend/backendtest"
	"earshot/relay/event"
)

// burstRig is the whole relay on loopback — fake OpenScanner server,
// backend session, relay core, the loopback HTTP/WebSocket server — with
// /v1/live consumers.
type burstRig struct {
	fake *backendtest.Server
	core *relay.Relay
	addr string
}

func startBurstRig(t *testing.T) *burstRig {
	t.Helper()
	fake := backendtest.NewServer(backendtest.Options{})
	t.Cleanup(fake.Close)
	fake.AddSystem(1, "Harness County")
	fake.AddTalkgroup(1, 101, "Fire Dispatch", "", "", "", "")
	sess, err := backend.New(backend.Options{ServerURL: fake.URL(), Username: "listener", Password: "listener-pass",
		BackfillEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	lr := startLoopbackRelay(t, sess, 256<<20)
	core := lr.core
	for hang := time.Now().Add(20 * time.Second); core.Status().Backend.State != event.StateConnected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(hang) {
			t.Fatal("the relay never connected")
		}
	}
	for hang := time.Now().Add(20 * time.Second); fake.Counters().HistoryRequests == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(hang) {
			t.Fatal("no history read after the welcome")
		}
	}
	return &burstRig{fake: fake, core: core, addr: lr.addr}
}

// consumer reads /v1/live at a normal pace (each event decoded as it
// comes) and records the calls it gets, and whether it was cut off.
type consumer struct {
	mu       sync.Mutex
	ids      []int64
	backfill int // calls marked as from history
	resyncs  int
	err      error
	done     chan struct{}
}

func (r *burstRig) consume(t *testing.T) *consumer {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+r.addr+"/v1/live?token=bench", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{done: make(chan struct{})}
	t.Cleanup(func() { conn.Close(); <-c.done })
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			var e event.Event
			if err := json.Unmarshal(data, &e); err != nil {
				continue
			}
			c.mu.Lock()
			switch e.Type {
			case event.TypeCall:
				c.ids = append(c.ids, e.Call.ID)
				if e.Call.Backfill {
					c.backfill++
				}
			case event.TypeResync:
				c.resyncs++
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// check waits until c has calls first..last and fails unless it has
// exactly those, in order, and is still connected.
func (c *consumer) check(t *testing.T, name string, first, last int64) {
	t.Helper()
	hang := time.Now().Add(60 * time.Second)
	for {
		c.mu.Lock()
		n, err := len(c.ids), c.err
		c.mu.Unlock()
		if err != nil {
			t.Fatalf("%s was disconnected after %d calls: %v", name, n, err)
		}
		if int64(n) >= last-first+1 {
			break
		}
		if time.Now().After(hang) {
			c.mu.Lock()
			for i := 1; i < len(c.ids); i++ {
				if c.ids[i] != c.ids[i-1]+1 {
					t.Logf("%s: after %d came %d (at %d)", name, c.ids[i-1], c.ids[i], i)
				}
			}
			c.mu.Unlock()
			t.Fatalf("%s has %d of the %d calls", name, n, last-first+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a repeat would come now
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(c.ids)) != last-first+1 {
		for i := 1; i < len(c.ids); i++ {
			if c.ids[i] != c.ids[i-1]+1 {
				t.Logf("%s: after %d came %d (at %d)", name, c.ids[i-1], c.ids[i], i)
			}
		}
		t.Fatalf("%s got %d calls, want %d (repeats)", name, len(c.ids), last-first+1)
	}
	for i, id := range c.ids {
		if id != first+int64(i) {
			t.Fatalf("%s: call %d of %d has id %d, want %d (order, gaps or repeats)", name, i+1, len(c.ids), id, first+int64(i))
		}
	}
	if c.err != nil {
		t.Fatalf("%s was disconnected: %v", name, c.err)
	}
}

func addCalls(fake *backendtest.Server, n int, at time.Time) {
	audio := backendtest.SynthWAV(0.05, 440, 8000)
	for range n {
		fake.AddCall(backendtest.CallSpec{SystemID: 1, TalkgroupID: 101, Audio: audio, DateTime: at})
	}
}

const burstConsumers = 6

// TestBackfillOf600CallsKeepsEveryConsumer: after an outage the relay
// fills 600 missed calls from history at once. Before, that tight loop
// filled every consumer's 256-event queue and each one reading normally
// was closed with 1008 "consumer too slow" after 257 events. Now a
// consumer that falls behind gets a resync and the calls it missed from
// the held ones: every consumer gets all 600, in order, once, and stays.
func TestBackfillOf600CallsKeepsEveryConsumer(t *testing.T) {
	r := startBurstRig(t)
	var cs []*consumer
	for range burstConsumers {
		cs = append(cs, r.consume(t))
	}
	r.fake.Stop()
	addCalls(r.fake, 600, time.Now())
	if err := r.fake.Start(); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		c.check(t, fmt.Sprintf("consumer %d", i+1), 1, 600)
	}
	resyncs := 0
	for i, c := range cs {
		resyncs += c.resyncs
		if c.backfill != 600 {
			t.Errorf("consumer %d: %d of the 600 calls marked backfill, want all (they came from history)", i+1, c.backfill)
		}
	}
	t.Logf("%d consumers, 600 calls from history, %d resyncs", len(cs), resyncs)

	// /v1/calls marks them too; a call that comes live is not marked.
	addCalls(r.fake, 1, time.Now())
	cs[0].check(t, "consumer 1", 1, 601)
	resp, err := http.Get("http://" + r.addr + "/v1/calls?limit=2&token=bench")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Calls []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Calls) != 2 {
		t.Fatalf("/v1/calls: %v, %d calls", err, len(got.Calls))
	}
	if got.Calls[0]["backfill"] != nil || got.Calls[1]["backfill"] != true {
		t.Fatalf("/v1/calls: the live call 601 says backfill %v, history's 600 says %v; want absent and true",
			got.Calls[0]["backfill"], got.Calls[1]["backfill"])
	}
}

// TestBurstOf1000LiveCallsKeepsEveryConsumer: the server broadcasts 1000
// calls as fast as it can (its own queue drops some; history fills them).
// Before, such bursts closed consumers reading normally in 4 of 6 runs.
func TestBurstOf1000LiveCallsKeepsEveryConsumer(t *testing.T) {
	r := startBurstRig(t)
	var cs []*consumer
	for range burstConsumers {
		cs = append(cs, r.consume(t))
	}
	addCalls(r.fake, 1000, time.Now())
	defer func() {
		if t.Failed() {
			held := r.core.Calls(relay.Query{Limit: 5000})
			t.Logf("the relay holds %d calls, newest %d", len(held), held[0].ID)
		}
	}()
	for i, c := range cs {
		c.check(t, fmt.Sprintf("consumer %d", i+1), 1, 1000)
	}
}
