package bridge

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// record collects what a command or a subscription was given.
type record struct {
	mu  sync.Mutex
	got []string
}

func (r *record) add(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(p))
}

func (r *record) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, ",")
}

// A retained command (mosquitto_pub -r, a Home Assistant button set to
// retain) is delivered again on every new subscription. It must never
// run or reach the microcontroller: not at the first connection, not
// after the link is cut and the bridge reconnects. Live messages do, and
// a retained one published while the bridge listens arrives live, once.
func TestRetainedCommandsAreNotRun(t *testing.T) {
	m := testenv.StartMosquitto(t)
	p := testenv.StartProxy(t, m.Addr)
	var relay, tx record
	var logs testenv.LockedBuffer
	cfg := Config{Brokers: []string{p.URL()}, DeviceID: "pi-r", Interval: time.Hour, DiscoveryPrefix: "off",
		Commands: map[string]Command{"relay": func(payload []byte) (any, error) {
			relay.add(payload)
			return "switched", nil
		}},
		Subscriptions: map[string]func([]byte){"firmware/tx": tx.add},
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
	}
	w := watch(t, m.URL, "edge/pi-r/cmd/+/reply", "edge/pi-r/availability")
	w.publish(t, "edge/pi-r/cmd/ping", true, "old")
	w.publish(t, "edge/pi-r/cmd/relay", true, "old")
	w.publish(t, "edge/pi-r/firmware/tx", true, "old")

	b := run(t, cfg, &fakeSource{})
	testenv.WaitFor(t, "three retained messages dropped", func() bool { return b.Counters()["retained_dropped"] == 3 })
	w.next(t, "edge/pi-r/availability", payloadIs("online"))

	// A Wi-Fi blip: the broker sends the retained messages again on
	// the new subscriptions.
	p.Cut()
	testenv.WaitFor(t, "a second connection", func() bool { return b.Counters()["connects"] == 2 })
	testenv.WaitFor(t, "the retained messages dropped again", func() bool { return b.Counters()["retained_dropped"] == 6 })

	// Live messages run, in order.
	w.publish(t, "edge/pi-r/firmware/tx", false, "live")
	w.ask(t, "edge/pi-r/cmd/ping")
	if m := w.ask(t, "edge/pi-r/cmd/relay"); !strings.Contains(string(m.Payload()), `"result":"switched"`) {
		t.Errorf("relay reply %s", m.Payload())
	}
	// Pressed once while the bridge listens: the broker delivers it
	// live (RETAIN 0 on an established subscription) and keeps it.
	w.publish(t, "edge/pi-r/cmd/relay", true, "button")
	w.next(t, "edge/pi-r/cmd/relay/reply", nil)
	testenv.WaitFor(t, "the live messages", func() bool { return relay.String() == "{},button" && tx.String() == "live" })

	// Restarting the path again replays "button": not run a second time.
	p.Cut()
	testenv.WaitFor(t, "a third connection", func() bool { return b.Counters()["connects"] == 3 })
	testenv.WaitFor(t, "the retained messages dropped a third time", func() bool { return b.Counters()["retained_dropped"] == 9 })
	w.ask(t, "edge/pi-r/cmd/ping")

	if relay.String() != "{},button" || tx.String() != "live" {
		t.Errorf("relay ran with %q, the microcontroller got %q; want {},button and live", relay.String(), tx.String())
	}
	if c := b.Counters(); c["commands"] != 4 {
		t.Errorf("commands = %d, want 4 (ping, relay, relay, ping): %v", c["commands"], c)
	}
	// Replies are not counted: one in flight when the link is cut is
	// sent again after the reconnection (QoS 1 is at least once), while
	// the command ran once.
	// One log line per topic, not per delivery.
	for _, topic := range []string{"edge/pi-r/cmd/ping", "edge/pi-r/cmd/relay", "edge/pi-r/firmware/tx"} {
		if n := strings.Count(logs.String(), "topic="+topic+" "); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", topic, n, logs.String())
		}
	}
}

// Retained messages on many command topics are counted, and logged for
// the first few topics only.
func TestRetainedLogIsBounded(t *testing.T) {
	var logs testenv.LockedBuffer
	b, err := New(Config{Brokers: []string{"tcp://127.0.0.1:1"}, DeviceID: "x", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &fakeSource{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		b.dropRetained("edge/x/cmd/c" + strings.Repeat("x", i%100))
		b.dropRetained("edge/x/cmd/c" + strings.Repeat("x", i%100))
	}
	if n := b.Counters()["retained_dropped"]; n != 2000 {
		t.Errorf("retained_dropped = %d, want 2000", n)
	}
	if n := strings.Count(logs.String(), "\n"); n != retainedLogTopics+1 {
		t.Errorf("%d log lines, want %d:\n%s", n, retainedLogTopics+1, logs.String())
	}
}

// A state topic (an update offer) is the other way round: its retained
// message is what it is for, handed on at each subscription, and so is a
// live one; an empty retained message (the offer cleared) too.
func TestStateSubscriptionsTakeRetained(t *testing.T) {
	m := testenv.StartMosquitto(t)
	p := testenv.StartProxy(t, m.Addr)
	var offer record
	cfg := Config{Brokers: []string{p.URL()}, DeviceID: "pi-o", Interval: time.Hour, DiscoveryPrefix: "off",
		StateSubscriptions: map[string]func([]byte){"update/offer": offer.add}}
	w := watch(t, m.URL, "edge/pi-o/availability")
	w.publish(t, "edge/pi-o/update/offer", true, "v1")
	b := run(t, cfg, &fakeSource{})
	testenv.WaitFor(t, "the retained offer", func() bool { return offer.String() == "v1" })
	w.publish(t, "edge/pi-o/update/offer", true, "v2")
	testenv.WaitFor(t, "the live offer", func() bool { return offer.String() == "v1,v2" })
	p.Cut()
	testenv.WaitFor(t, "a second connection", func() bool { return b.Counters()["connects"] == 2 })
	testenv.WaitFor(t, "the retained offer again", func() bool { return offer.String() == "v1,v2,v2" })
	w.publish(t, "edge/pi-o/update/offer", true, "")
	testenv.WaitFor(t, "the offer cleared", func() bool { return offer.String() == "v1,v2,v2," })
	if c := b.Counters()["retained_dropped"]; c != 0 {
		t.Errorf("retained_dropped = %d, want 0", c)
	}
}
