package bridge

import (
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// Forwarded messages wait while the broker is away and go out in order
// once it is back; messages on a subscribed topic reach their function in
// the order they were published.
func TestForwardAndSubscriptions(t *testing.T) {
	m := testenv.StartMosquitto(t)
	// The broker out of reach of the bridge, while the test's own
	// clients get through.
	g := testenv.StartProxy(t, m.Addr)
	g.Refuse(true)
	var mu sync.Mutex
	var got []string
	cfg := Config{Brokers: []string{g.URL()}, DeviceID: "pi-4", Interval: time.Hour,
		Subscriptions: map[string]func([]byte){"firmware/tx": func(p []byte) {
			mu.Lock()
			got = append(got, string(p))
			mu.Unlock()
		}}}
	b := run(t, cfg, &fakeSource{})
	w := watch(t, m.URL, "edge/pi-4/firmware/rx", "edge/pi-4/availability")
	for _, s := range []string{"one", "two", "three"} {
		if !b.Forward("firmware/rx", []byte(s)) {
			t.Fatalf("Forward(%q) refused while the queue has room", s)
		}
	}
	g.Refuse(false)
	w.next(t, "edge/pi-4/availability", payloadIs("online"))
	for _, s := range []string{"one", "two", "three"} {
		if msg := w.next(t, "edge/pi-4/firmware/rx", nil); string(msg.Payload()) != s {
			t.Fatalf("got %q, want %q (in order)", msg.Payload(), s)
		}
	}
	var sent []string
	for i := range 20 {
		sent = append(sent, string(rune('a'+i)))
		w.publish(t, "edge/pi-4/firmware/tx", false, sent[i])
	}
	testenv.WaitFor(t, "20 messages for the microcontroller", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 20
	})
	if strings.Join(got, "") != strings.Join(sent, "") {
		t.Errorf("subscription order %q, want %q", got, sent)
	}
	if c := b.Counters(); c["forwarded"] != 3 || c["forward_dropped"] != 0 {
		t.Errorf("counters %v", c)
	}
}

// A full queue refuses at once and counts, rather than blocking.
func TestForwardQueueFull(t *testing.T) {
	b, err := New(Config{Brokers: []string{"tcp://127.0.0.1:1"}, DeviceID: "x"}, &fakeSource{})
	if err != nil {
		t.Fatal(err)
	}
	for range forwardQueue {
		if !b.Forward("firmware/rx", []byte("x")) {
			t.Fatal("refused before the queue was full")
		}
	}
	if b.Forward("firmware/rx", []byte("x")) {
		t.Fatal("took a message into a full queue")
	}
	if n := b.Counters()["forward_dropped"]; n != 1 {
		t.Errorf("forward_dropped = %d", n)
	}
}
