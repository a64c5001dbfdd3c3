package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/mqtt/broker"
	"edge-agent/transport/testenv"
)

// fakeSource is the agent as far as the bridge can tell.
type fakeSource struct {
	mu      sync.Mutex
	n       int
	events  []Event
	sensors []Sensor
}

func (f *fakeSource) State() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return map[string]any{"version": "test", "load_1": 0.5, "n": f.n}
}

func (f *fakeSource) Events(after uint64) ([]Event, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if after >= uint64(len(f.events)) {
		return nil, uint64(len(f.events))
	}
	return append([]Event(nil), f.events[after:]...), uint64(len(f.events))
}

func (f *fakeSource) Sensors() []Sensor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sensor(nil), f.sensors...)
}

func (f *fakeSource) addEvent(kind string, data any) {
	f.mu.Lock()
	f.events = append(f.events, Event{Time: time.Now(), Kind: kind, Data: data})
	f.mu.Unlock()
}

// brokers runs f against mosquitto and the embedded broker.
func brokers(t *testing.T, f func(t *testing.T, url string)) {
	t.Run("mosquitto", func(t *testing.T) { f(t, testenv.StartMosquitto(t).URL) })
	t.Run("embedded", func(t *testing.T) {
		addr, _ := testenv.ServeTCP(t, (&broker.Server{}).Serve)
		f(t, "tcp://"+addr)
	})
}

// watcher is a subscriber that records what arrives.
type watcher struct {
	c    paho.Client
	msgs chan paho.Message
	seen []paho.Message // arrived, not yet taken by next
}

func watch(t *testing.T, url string, topics ...string) *watcher {
	t.Helper()
	w := &watcher{msgs: make(chan paho.Message, 256)}
	// Ordered delivery (paho's default), so a test can check the order
	// the bridge published in; the handler only queues.
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("watcher-%d", time.Now().UnixNano()))
	w.c = paho.NewClient(o)
	if tok := w.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	for _, tp := range topics {
		if tok := w.c.Subscribe(tp, 1, func(_ paho.Client, m paho.Message) { w.msgs <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", tp, tok.Error())
		}
	}
	t.Cleanup(func() { w.c.Disconnect(100) })
	return w
}

// next takes the first message, arrived or arriving, on topic that
// satisfies ok; messages on other topics are kept for later calls, since
// the order between topics is not guaranteed.
func (w *watcher) next(t *testing.T, topic string, ok func(paho.Message) bool) paho.Message {
	t.Helper()
	match := func(m paho.Message) bool { return m.Topic() == topic && (ok == nil || ok(m)) }
	for i, m := range w.seen {
		if match(m) {
			w.seen = append(w.seen[:i], w.seen[i+1:]...)
			return m
		}
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-w.msgs:
			if match(m) {
				return m
			}
			w.seen = append(w.seen, m)
		case <-deadline:
			t.Fatalf("no message on %s", topic)
			return nil
		}
	}
}

// ask sends a command and returns its reply. A command is a plain QoS 1
// message with no session behind it; once in a while, under load, one sent
// right after the bridge came online was not answered by the embedded
// broker's route, so an unanswered one is sent again (and logged).
func (w *watcher) ask(t *testing.T, topic string) paho.Message {
	t.Helper()
	for attempt := 1; ; attempt++ {
		w.publish(t, topic, false, "{}")
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m := <-w.msgs:
				if m.Topic() == topic+"/reply" {
					if attempt > 1 {
						t.Logf("%s answered on attempt %d", topic, attempt)
					}
					return m
				}
				w.seen = append(w.seen, m)
				continue
			case <-deadline:
			}
			break
		}
		if attempt == 3 {
			t.Fatalf("no reply to %s after %d attempts", topic, attempt)
		}
	}
}

func (w *watcher) publish(t *testing.T, topic string, retained bool, payload string) {
	t.Helper()
	if tok := w.c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// run starts a bridge until the test ends.
func run(t *testing.T, cfg Config, src Source) *Bridge {
	t.Helper()
	b, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, b.Run)
	return b
}

func payloadIs(s string) func(paho.Message) bool {
	return func(m paho.Message) bool { return string(m.Payload()) == s }
}

func TestPublishesAvailabilityStateAndDiscovery(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		src := &fakeSource{sensors: []Sensor{{Key: "load_1", Name: "Load", Template: "{{ value_json.load_1 }}", StateClass: "measurement"}}}
		early := watch(t, url, "homeassistant/device/pi-1/config")
		run(t, Config{Brokers: []string{url}, DeviceID: "pi-1"}, src)
		// A late subscriber gets the retained messages: availability,
		// state and then discovery have gone out (and through the
		// broker, in order) before it subscribes.
		early.next(t, "homeassistant/device/pi-1/config", nil)
		w := watch(t, url, "edge/pi-1/availability", "edge/pi-1/state", "homeassistant/device/pi-1/config")
		if m := w.next(t, "edge/pi-1/availability", payloadIs("online")); !m.Retained() {
			t.Error("availability is not retained")
		}
		st := w.next(t, "edge/pi-1/state", nil)
		var doc map[string]any
		if err := json.Unmarshal(st.Payload(), &doc); err != nil || doc["version"] != "test" || !st.Retained() {
			t.Errorf("state %s (retained %v): %v", st.Payload(), st.Retained(), err)
		}
		cfg := w.next(t, "homeassistant/device/pi-1/config", nil)
		var ha struct {
			Dev  map[string]any            `json:"dev"`
			Cmps map[string]map[string]any `json:"cmps"`
			haShared
		}
		if err := json.Unmarshal(cfg.Payload(), &ha); err != nil || !cfg.Retained() {
			t.Fatalf("device config %s (retained %v): %v", cfg.Payload(), cfg.Retained(), err)
		}
		ids, _ := ha.Dev["identifiers"].([]any)
		load := ha.Cmps["load_1"]
		if load["unique_id"] != "pi-1_load_1" || ha.StateTopic != "edge/pi-1/state" || ha.AvailabilityTopic != "edge/pi-1/availability" ||
			len(ids) != 1 || ids[0] != "edge-agent-pi-1" || load["value_template"] != "{{ value_json.load_1 }}" || load["p"] != "sensor" {
			t.Errorf("discovery payload %s", cfg.Payload())
		}
		// Home Assistant coming online gets discovery again.
		w.publish(t, "homeassistant/status", false, "online")
		w.next(t, "homeassistant/device/pi-1/config", nil)
	})
}

func TestCommandsAndEvents(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		src := &fakeSource{}
		cfg := Config{Brokers: []string{url}, DeviceID: "pi-2", Commands: map[string]Command{
			"services": func([]byte) (any, error) { return []string{"echo", "ntp"}, nil },
			"fail":     func([]byte) (any, error) { return nil, fmt.Errorf("it broke") },
		}}
		run(t, cfg, src)
		w := watch(t, url, "edge/pi-2/availability", "edge/pi-2/cmd/+/reply", "edge/pi-2/events/#", "edge/pi-2/state")
		w.next(t, "edge/pi-2/availability", payloadIs("online"))
		for _, tc := range []struct {
			cmd, want string
		}{
			{"ping", `"ok":true,"result":"pong"`},
			{"services", `"result":["echo","ntp"]`},
			{"fail", `"ok":false,"error":"it broke"`},
			{"reboot", `"ok":false,"error":"unknown command; known: fail, ping, refresh, services"`},
		} {
			m := w.ask(t, "edge/pi-2/cmd/"+tc.cmd)
			if !strings.Contains(string(m.Payload()), tc.want) {
				t.Errorf("%s: reply %s, want %s", tc.cmd, m.Payload(), tc.want)
			}
		}
		w.ask(t, "edge/pi-2/cmd/refresh")
		// The state from the connection, then the refreshed one.
		w.next(t, "edge/pi-2/state", nil)
		w.next(t, "edge/pi-2/state", nil)

		src.addEvent("file_received", map[string]any{"name": "fw.bin", "size": 3})
		m := w.next(t, "edge/pi-2/events/file_received", nil)
		if m.Retained() || !strings.Contains(string(m.Payload()), `"name":"fw.bin"`) {
			t.Errorf("event %s retained %v", m.Payload(), m.Retained())
		}
	})
}

// A broker that is down when the agent starts, and one that restarts.
func TestBrokerDownAtStartAndRestarting(t *testing.T) {
	m := testenv.NewMosquitto(t)
	src := &fakeSource{}
	b := run(t, Config{Brokers: []string{m.URL}, DeviceID: "pi-3", Interval: time.Hour}, src)
	m.Start()
	w := watch(t, m.URL, "edge/pi-3/availability", "edge/pi-3/state")
	w.next(t, "edge/pi-3/availability", payloadIs("online"))
	w.next(t, "edge/pi-3/state", nil)

	m.Restart() // loses every retained message: the bridge must publish again
	start := time.Now()
	w2 := watch(t, m.URL, "edge/pi-3/state")
	w2.next(t, "edge/pi-3/state", nil)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("state republished %v after the restart, want within 10s", d)
	}
	testenv.WaitFor(t, "two connections", func() bool { return b.Counters()["connects"] >= 2 })
}

func TestLastWillOnAbruptLoss(t *testing.T) {
	m := testenv.StartMosquitto(t)
	// A bridge whose connection dies without DISCONNECT: a proxy in
	// between is cut, and lets no one through again.
	proxy := testenv.StartProxy(t, m.Addr)
	w := watch(t, m.URL, "edge/pi-4/availability")
	run(t, Config{Brokers: []string{proxy.URL()}, DeviceID: "pi-4"}, &fakeSource{})
	w.next(t, "edge/pi-4/availability", payloadIs("online"))
	proxy.Refuse(true)
	proxy.Cut()
	w.next(t, "edge/pi-4/availability", payloadIs("offline"))
}

func TestSanitizeID(t *testing.T) {
	for in, want := range map[string]string{
		"raspberrypi": "raspberrypi", "pi.local": "pi_local", "my pi #2": "my_pi_2", "": "device", "../..": "device", "Kitchen-Pi_3": "Kitchen-Pi_3",
	} {
		if got := SanitizeID(in); got != want {
			t.Errorf("SanitizeID(%q) = %q, want %q", in, got, want)
		}
	}
}

// A sensor the device no longer has (a service turned off) is removed
// from Home Assistant, also after a restart: the device config names it
// with its platform only, which discovery.py takes as a removal.
func TestRemovedSensorsAreCleared(t *testing.T) {
	m := testenv.StartMosquitto(t)
	two := []Sensor{{Key: "a", Name: "A", Template: "{{ 1 }}"}, {Key: "b", Name: "B", Template: "{{ 2 }}"}}
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		b, _ := New(Config{Brokers: []string{m.URL}, DeviceID: "pi-5"}, &fakeSource{sensors: two})
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		w := watch(t, m.URL, "homeassistant/device/pi-5/config")
		w.next(t, "homeassistant/device/pi-5/config", nil)
		cancel()
		<-done
	}()
	w := watch(t, m.URL, "homeassistant/device/pi-5/config")
	w.next(t, "homeassistant/device/pi-5/config", func(m paho.Message) bool { return componentIs(t, m, "b", `"p":"sensor","name":"B"`) })
	run(t, Config{Brokers: []string{m.URL}, DeviceID: "pi-5"}, &fakeSource{sensors: two[:1]})
	w.next(t, "homeassistant/device/pi-5/config", func(m paho.Message) bool { return componentIs(t, m, "b", `{"p":"sensor"}`) })
}

// With several brokers, a dead first one is skipped.
func TestFailoverToTheNextBroker(t *testing.T) {
	m := testenv.StartMosquitto(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "tcp://" + dead.Addr().String()
	dead.Close() // nothing listens there now
	w := watch(t, m.URL, "edge/pi-6/availability")
	run(t, Config{Brokers: []string{deadURL, m.URL}, DeviceID: "pi-6"}, &fakeSource{})
	w.next(t, "edge/pi-6/availability", payloadIs("online"))
}
