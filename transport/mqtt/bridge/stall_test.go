package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// stopBound is what Run may take to return after its context ends with
// the network stuck: the goodbye, the disconnect and one Publish.
const stopBound = goodbyeTimeout + disconnectQuiesce*time.Millisecond + writeTimeout

// A broker that stops reading must not hold the bridge: Run returns
// within stopBound of its context ending, however much it had to send.
func TestRunStopsWithAStalledBroker(t *testing.T) {
	m := testenv.StartMosquitto(t)
	p := testenv.StartProxy(t, m.Addr)
	w := watch(t, m.URL, "edge/pi-s/availability")
	b, err := New(Config{Brokers: []string{p.URL()}, DeviceID: "pi-s", Interval: time.Second, DiscoveryPrefix: "off"}, &fakeSource{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	w.next(t, "edge/pi-s/availability", payloadIs("online"))

	p.Stall()
	line := []byte(strings.Repeat("x", 16<<10))
	offered := 0
	// On loopback a socket holds bytes unsent only once the stalled
	// proxy's receive buffer is full: any is proof of the stall. Waiting
	// for more, or for the buffers to stop growing, could outlast the 3 s
	// write timeout (a send buffer that autotuning left small fills at
	// once), after which the bridge reconnects and its new socket holds
	// nothing.
	// Seen a few times under the full parallel race run, never alone: no
	// byte stuck for as long as it was watched. The bound is asserted
	// either way (the proxy reads nothing), with the counters logged.
	q, stuck := p.TryQueued(1, func() {
		for range 64 {
			if offered < 20000 {
				b.Forward("firmware/rx", line)
				offered++
			}
		}
	}, 10*time.Second)
	if stuck {
		t.Logf("socket stuck at %d bytes", q)
	} else {
		t.Logf("no byte stuck in the socket after 10 s of offers (%d offered); counters %v", offered, b.Counters())
	}
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		took := time.Since(start)
		t.Logf("Run returned %v after its context ended (bound %v); counters %v", took.Round(time.Millisecond), stopBound, b.Counters())
		if err != nil {
			t.Fatal(err)
		}
		if took > stopBound+time.Second {
			t.Errorf("Run took %v to return, want within %v", took, stopBound)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("Run did not return within 40s of its context ending")
	}
}
