package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"edge-agent/transport/testenv"
)

// A client that reconnects under its client id with a clean session the
// moment its previous connection ended (a bridge restarting, a dropped
// Wi-Fi link) gets its new subscriptions' messages: the clean-up of the
// previous session, which goes by client id, never takes them away.
func TestCleanSessionReconnectKeepsNewSubscriptions(t *testing.T) {
	for _, v5 := range []bool{false, true} {
		t.Run(map[bool]string{false: "3.1.1", true: "5"}[v5], func(t *testing.T) { reconnectRounds(t, v5) })
	}
}

func reconnectRounds(t *testing.T, v5 bool) {
	srv := &Server{Anonymous: true}
	addr, _ := testenv.ServeTCP(t, srv.Serve)
	pub := dialRaw(t, addr, 0)
	if code := pub.connect("publisher", "", "", true); code != 0 {
		t.Fatalf("publisher CONNACK %d", code)
	}
	const rounds = 200
	var prev *rawClient
	for i := range rounds {
		c := dialRaw(t, addr, 0)
		c.v5 = v5
		if prev != nil {
			// Gone as a bridge goes at a restart: DISCONNECT, close;
			// the new connection is on its way at once.
			if i%2 == 0 {
				prev.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
			}
			prev.Close()
		}
		if code := c.connect("bridge", "", "", true); code != 0 {
			t.Fatalf("round %d: CONNACK %d", i, code)
		}
		c.subscribe("dev/cmd", 0)
		if pk := c.Read(); pk.FixedHeader.Type != packets.Suback {
			t.Fatalf("round %d: packet type %d, want SUBACK", i, pk.FixedHeader.Type)
		}
		want := fmt.Sprintf("m%d", i)
		if err := pub.Publish("dev/cmd", []byte(want), 0, false, 0); err != nil {
			t.Fatal(err)
		}
		pk, err := c.TryRead(5 * time.Second)
		if err != nil || pk.FixedHeader.Type != packets.Publish || string(pk.Payload) != want {
			t.Fatalf("round %d: the new connection's subscription got %d %q (%v), want %q", i, pk.FixedHeader.Type, pk.Payload, err, want)
		}
		prev = c
	}
}
