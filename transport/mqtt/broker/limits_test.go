package broker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"edge-agent/transport/testenv"
)

func TestPacketSizeLimit(t *testing.T) {
	s := &Server{MaxPacketSize: 4096}
	addr, _ := start(t, s)
	sub := subscribe(t, connect(t, addr, "sub"), "big/#")

	rc := dialRaw(t, addr, 0)
	rc.connect("big", "", "", true)
	if err := rc.Publish("big/one", make([]byte, 8192), 0, false, 0); err != nil {
		t.Fatal(err)
	}
	if !rc.Closed(10 * time.Second) {
		t.Fatal("a packet over the maximum did not end the connection")
	}
	testenv.WaitFor(t, "rejected_packet_size", func() bool { return s.Counters()["rejected_packet_size"] == 1 })
	pub := connect(t, addr, "small")
	wait(t, "small publish", pub.Publish("big/two", 1, false, bytes.Repeat([]byte("x"), 3000)))
	if m := receive(t, sub, "the small message"); m.Topic() != "big/two" {
		t.Fatalf("got %q", m.Topic())
	}

	// An MQTT 5 client is told the maximum in its CONNACK.
	v5 := dialRaw(t, addr, 0)
	v5.v5 = true
	v5.connect("v5", "", "", false)
	if ack := v5.Read(); ack.Properties.MaximumPacketSize != 4096 {
		t.Errorf("CONNACK maximum packet size %d, want 4096", ack.Properties.MaximumPacketSize)
	}
}

// retainedTestCost is the cost of a retained message on a two-level topic
// of three bytes ("r/1").
func retainedTestCost(payload int) int64 {
	return retainedCost(packets.Packet{TopicName: "r/1", Payload: make([]byte, payload)})
}

// receiveLive returns the next message published while ch's subscriber
// was there. A message published just as the subscription was made may
// also come flagged as retained, from the scan the broker makes for a new
// subscription after it has entered it in the topic tree: that copy is
// skipped.
func receiveLive(t *testing.T, ch <-chan paho.Message, what string) paho.Message {
	t.Helper()
	for {
		if m := receive(t, ch, what); !m.Retained() {
			return m
		}
	}
}

func TestRetainedBounds(t *testing.T) {
	s := &Server{MaxRetained: 3, MaxRetainedBytes: 3*retainedTestCost(1000) + 100}
	addr, _ := start(t, s)
	watch := subscribe(t, connect(t, addr, "watch"), "r/#")
	pub := connect(t, addr, "pub")
	payload := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	retained := func() uint64 { return s.Counters()["retained"] }
	for i := 1; i <= 3; i++ {
		wait(t, "retain", pub.Publish(fmt.Sprintf("r/%d", i), 1, true, payload(1000, 'a')))
		receiveLive(t, watch, "live copy")
	}
	if retained() != 3 {
		t.Fatalf("retained = %d", retained())
	}

	// A fourth topic is over the count: acknowledged (3.1.1 has no
	// negative PUBACK), counted, neither kept nor passed on.
	wait(t, "fourth", pub.Publish("r/4", 1, true, payload(10, 'b')))
	if c := s.Counters(); c["rejected_retained_count"] != 1 || c["retained"] != 3 {
		t.Fatalf("counters %v", c)
	}
	// Replacing a kept topic with no more bytes is fine; with more than
	// the bound allows it is refused.
	wait(t, "replace", pub.Publish("r/1", 1, true, payload(900, 'c')))
	if m := receiveLive(t, watch, "replacement"); m.Topic() != "r/1" || len(m.Payload()) != 900 {
		t.Fatalf("got %q (%d bytes): the refused r/4 was passed on?", m.Topic(), len(m.Payload()))
	}
	wait(t, "too big", pub.Publish("r/2", 1, true, payload(2000, 'd')))
	if got := s.Counters()["rejected_retained_bytes"]; got != 1 {
		t.Fatalf("rejected_retained_bytes = %d, want 1", got)
	}
	// Deleting is always allowed, and makes room.
	wait(t, "delete", pub.Publish("r/3", 1, true, ""))
	receiveLive(t, watch, "deletion")
	wait(t, "now fits", pub.Publish("r/4", 1, true, payload(10, 'e')))
	if m := receiveLive(t, watch, "r/4"); m.Topic() != "r/4" {
		t.Fatalf("got %q", m.Topic())
	}
	testenv.WaitFor(t, "three retained", func() bool { return retained() == 3 })
	late := subscribe(t, connect(t, addr, "late"), "r/#")
	got := map[string]int{}
	for range 3 {
		m := receive(t, late, "retained")
		got[m.Topic()] = len(m.Payload())
	}
	if want := map[string]int{"r/1": 900, "r/2": 1000, "r/4": 10}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("retained %v, want %v", got, want)
	}
	if b := s.Counters()["retained_bytes"]; b != uint64(retainedTestCost(900)+retainedTestCost(1000)+retainedTestCost(10)) {
		t.Errorf("retained_bytes = %d", b)
	}

	// MQTT 5 at QoS 1 hears why.
	v5 := dialRaw(t, addr, 0)
	v5.v5 = true
	v5.connect("v5", "", "", true)
	if err := v5.Publish("r/5", []byte("x"), 1, true, 7); err != nil {
		t.Fatal(err)
	}
	if ack := v5.Read(); ack.FixedHeader.Type != packets.Puback || ack.ReasonCode != packets.ErrQuotaExceeded.Code {
		t.Errorf("PUBACK type %d reason %#x, want quota exceeded", ack.FixedHeader.Type, ack.ReasonCode)
	}
	if got := s.Counters()["rejected_retained_count"]; got != 2 {
		t.Errorf("rejected_retained_count = %d, want 2", got)
	}
}

// A Last Will that would go over the bounds is published, not retained.
func TestRetainedWillOverBounds(t *testing.T) {
	s := &Server{MaxRetained: 1}
	addr, _ := start(t, s)
	pub := connect(t, addr, "pub")
	wait(t, "fill", pub.Publish("full/1", 1, true, "x"))
	watch := subscribe(t, connect(t, addr, "watch"), "dev/#")
	d := new(killableDialer)
	connect(t, addr, "dev", func(o *paho.ClientOptions) {
		o.SetWill("dev/availability", "offline", 1, true).SetCustomOpenConnectionFn(d.open)
	})
	d.kill()
	if m := receiveLive(t, watch, "the will"); string(m.Payload()) != "offline" {
		t.Fatalf("got %q", m.Payload())
	}
	if c := s.Counters(); c["rejected_retained_will"] != 1 || c["retained"] != 1 {
		t.Errorf("counters %v", c)
	}
}

// Subscribing to a broker full of retained messages gets them all: the
// write queue has room for every one the bounds allow.
func TestRetainedScanFitsTheQueue(t *testing.T) {
	s := &Server{MaxRetained: 300}
	addr, _ := start(t, s)
	pub := connect(t, addr, "pub")
	for i := range 300 {
		tok := pub.Publish(fmt.Sprintf("many/%d", i), 1, true, "discovery config")
		if i == 299 {
			wait(t, "last", tok)
		}
	}
	testenv.WaitFor(t, "300 retained", func() bool { return s.Counters()["retained"] == 300 })
	c := connect(t, addr, "dashboard")
	got := make(chan struct{}, 400)
	wait(t, "subscribe", c.Subscribe("many/#", 1, func(paho.Client, paho.Message) { got <- struct{}{} }))
	for i := range 300 {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 300 retained messages arrived", i)
		}
	}
	if n := s.Counters()["disconnected_slow"]; n != 0 {
		t.Errorf("disconnected_slow = %d", n)
	}
}

// A subscriber that stops reading is disconnected once what the broker
// holds for it reaches the bound, which is never passed by more than one
// message; a subscriber that keeps up gets everything.
func TestSlowSubscriberIsDisconnected(t *testing.T) {
	const bound = 512 << 10
	s := &Server{MaxQueuedBytes: bound}
	addr, _ := start(t, s)
	reader := subscribe(t, connect(t, addr, "reader"), "flood/#")
	stuck := dialRaw(t, addr, 4096)
	stuck.connect("stuck", "", "", false)
	stuck.subscribe("#", 0)
	testenv.WaitFor(t, "two subscriptions", func() bool { return s.Counters()["subscriptions"] == 2 })

	// More than the kernel's socket buffers take before the broker's
	// writes to the stuck client block, and the bound on top. Each
	// message waits for the reader, so only the stuck client falls behind.
	payload := make([]byte, 32<<10)
	pub := connect(t, addr, "pub")
	peak := uint64(0)
	for i := range 200 {
		topic := fmt.Sprintf("flood/%d", i)
		wait(t, "publish", pub.Publish(topic, 0, false, payload))
		if m := receive(t, reader, topic); m.Topic() != topic {
			t.Fatalf("reader got %q, want %q", m.Topic(), topic)
		}
		peak = max(peak, s.Counters()["queued_bytes"])
	}
	testenv.WaitFor(t, "the stuck subscriber cut off", func() bool { return s.Counters()["disconnected_slow"] == 1 })
	if !stuck.Closed(10 * time.Second) {
		t.Error("the stuck subscriber's connection is still open")
	}
	if limit := uint64(bound + msgCost(&packets.Packet{TopicName: "flood/199", Payload: payload})); peak > limit {
		t.Errorf("queued_bytes reached %d, over %d", peak, limit)
	}
	testenv.WaitFor(t, "the queue empty again", func() bool { return s.Counters()["queued_bytes"] == 0 })
	t.Logf("queued_bytes peaked at %d (bound %d)", peak, bound)
}

// A write a client does not take within the write timeout ends it, even
// below the queue's bound and with keep-alive 0.
func TestWriteTimeout(t *testing.T) {
	s := &Server{writeTimeout: 300 * time.Millisecond}
	addr, _ := start(t, s)
	stuck := dialRaw(t, addr, 4096)
	stuck.connect("stuck", "", "", false)
	stuck.subscribe("#", 0)
	testenv.WaitFor(t, "the subscription", func() bool { return s.Counters()["subscriptions"] == 1 })
	pub := connect(t, addr, "pub")
	// More than the kernel's socket buffers hold, less than the queue's bound.
	for i := range 16 {
		wait(t, "publish", pub.Publish(fmt.Sprintf("t/%d", i), 0, false, make([]byte, 200<<10)))
	}
	testenv.WaitFor(t, "the stuck client cut off", func() bool { return s.Counters()["disconnected_slow"] == 1 })
	testenv.WaitFor(t, "the stuck client gone", func() bool { return s.Counters()["clients_connected"] == 1 })
}

// Subscriptions cost memory in the topic tree; a client can take only
// its share.
func TestSubscriptionBound(t *testing.T) {
	s := &Server{}
	addr, _ := start(t, s)
	c := connect(t, addr, "greedy")
	deep := strings.Repeat("x/", 30)
	filters := map[string]byte{}
	for i := range 40 {
		filters[fmt.Sprintf("%s%d", deep, i)] = 0
	}
	wait(t, "subscribe", c.SubscribeMultiple(filters, nil))
	per := topicCost(deep+"10") + subscriptionCost
	want := maxSubscriptionBytes / per
	if got := s.Counters()["subscriptions"]; int64(got) != want {
		t.Errorf("subscriptions = %d, want %d (%d bytes each, %d allowed)", got, want, per, maxSubscriptionBytes)
	}
	if got := s.Counters()["rejected_subscription"]; int64(got) != 40-want {
		t.Errorf("rejected_subscription = %d, want %d", got, 40-want)
	}
}

// Sessions of clients that are away are capped: the one away longest is
// dropped for a new one.
func TestSessionsCap(t *testing.T) {
	s := &Server{MaxClients: 2}
	addr, _ := start(t, s)
	for i := range 4 {
		c := connect(t, addr, fmt.Sprintf("persistent-%d", i), func(o *paho.ClientOptions) { o.SetCleanSession(false) })
		wait(t, "subscribe", c.Subscribe(fmt.Sprintf("p/%d", i), 1, nil))
		c.Disconnect(100)
		testenv.WaitFor(t, "disconnected", func() bool { return s.Counters()["clients_connected"] == 0 })
	}
	connect(t, addr, "newcomer")
	if got := s.Counters()["sessions_dropped"]; got != 1 {
		t.Errorf("sessions_dropped = %d, want 1", got)
	}
	b := s.broker.Load()
	if _, ok := b.Clients.Get("persistent-0"); ok {
		t.Error("the oldest session is still there")
	}
	if got := s.Counters()["subscriptions"]; got != 3 {
		t.Errorf("subscriptions = %d, want 3: the dropped session's are gone", got)
	}
}
