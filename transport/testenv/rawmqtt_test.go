package testenv

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The raw client's packets are what a real broker takes, in both
// protocol versions, and it sees the broker end a connection.
func TestRawMQTT(t *testing.T) {
	m := StartMosquitto(t)
	for _, version := range []byte{4, 5} {
		rc := DialMQTT(t, m.Addr, 0)
		rc.Version = version
		if err := rc.Connect("raw", "", ""); err != nil {
			t.Fatal(err)
		}
		if code := rc.Connack(); code != 0 {
			t.Fatalf("version %d: CONNACK %#x", version, code)
		}
		if err := rc.Subscribe("raw/#", 1); err != nil {
			t.Fatal(err)
		}
		if pk := rc.Read(); pk.FixedHeader.Type != packets.Suback {
			t.Fatalf("version %d: packet type %d, want SUBACK", version, pk.FixedHeader.Type)
		}
		if err := rc.Publish("raw/1", []byte("hello"), 1, false, 7); err != nil {
			t.Fatal(err)
		}
		var acked, got bool
		for !acked || !got {
			switch pk := rc.Read(); pk.FixedHeader.Type {
			case packets.Puback:
				acked = pk.PacketID == 7
			case packets.Publish:
				got = pk.TopicName == "raw/1" && string(pk.Payload) == "hello"
			}
		}
		// A second CONNECT is a protocol error: the broker hangs up.
		if err := rc.Connect("raw", "", ""); err != nil {
			t.Fatal(err)
		}
		if !rc.Closed(10 * time.Second) {
			t.Errorf("version %d: a second CONNECT did not end the connection", version)
		}
	}
}
