package firmwarebridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// Messages that Send took while the port was going away are written to
// that port or counted as dropped; none is written to the device plugged
// in next (it may have restarted and would take them out of context).
// Senders race the unplug; several rounds, to meet the race.
func TestLinkSendRacingUnplug(t *testing.T) {
	for round := range 8 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			path := portPath(t)
			first := plugReader(t, path)
			l := &Link{Port: PortConfig{Path: path}}
			testenv.Run(t, l.Run)
			testenv.WaitFor(t, "the link up", func() bool { return l.Counters()["link_up"] == 1 })

			var stop atomic.Bool
			var attempts atomic.Uint64
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for n := 0; !stop.Load() && n < 1_000_000; n++ {
						l.Send(fmt.Appendf(nil, "a%d-%d", g, n))
						attempts.Add(1)
					}
				})
			}
			testenv.WaitFor(t, "messages on the first port", func() bool { return l.Counters()["tx_messages"] > 100 })
			first.unplug()
			testenv.WaitFor(t, "the link down", func() bool { return l.Counters()["disconnects"] == 1 })
			stop.Store(true)
			wg.Wait()

			c := l.Counters()
			if got := c["tx_messages"] + c["tx_dropped"]; got != attempts.Load() {
				t.Errorf("tx_messages %d + tx_dropped %d = %d, want every one of the %d sends", c["tx_messages"], c["tx_dropped"], got, attempts.Load())
			}
			// What the first device read was written whole and once;
			// what it had not read when the cable went is lost with it.
			seen := map[string]bool{}
			for _, line := range first.lines() {
				if !strings.HasPrefix(line, "a") || seen[line] {
					t.Fatalf("the first device read %q (twice, or not a message)", line)
				}
				seen[line] = true
			}
			if uint64(len(seen)) > c["tx_messages"] {
				t.Errorf("the first device read %d messages, more than the %d written", len(seen), c["tx_messages"])
			}

			second := testenv.Plug(t, path)
			testenv.WaitFor(t, "the link up again", func() bool { return l.Counters()["opens"] == 2 })
			if !l.Send([]byte("b-marker")) {
				t.Fatal("Send refused with the port open again")
			}
			if got := second.Expect("b-marker\n"); got != "b-marker\n" {
				t.Errorf("the second device got messages sent before it was plugged in: %q", got)
			}
			t.Logf("%d sends: %d written to the first port (%d read there), %d dropped", attempts.Load(), c["tx_messages"], len(seen), c["tx_dropped"])
		})
	}
}

// Send takes messages from the moment the link is reported up.
func TestLinkSendAsSoonAsUp(t *testing.T) {
	for range 5 {
		path := portPath(t)
		cab := testenv.Plug(t, path)
		sent := make(chan bool, 1)
		var l *Link
		l = &Link{Port: PortConfig{Path: path}, OnChange: func(c LinkChange) {
			if c.Up {
				sent <- l.Send([]byte("first"))
			}
		}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		select {
		case ok := <-sent:
			if !ok {
				t.Error("Send refused in the link-up report")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no link-up report")
		}
		cab.Expect("first\n")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
