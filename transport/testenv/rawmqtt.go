package testenv

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// RawMQTT speaks MQTT a packet at a time, for what a client library
// (paho: 3.1.1 only, reading all the time, pacing its own writes) cannot
// do: MQTT 5, floods, and not reading at all. Writes return their error,
// as a broker closing the connection is often what a test looks for;
// a packet that cannot be encoded fails the test.
type RawMQTT struct {
	// Version is the protocol level packets are encoded and decoded
	// with: 4 (MQTT 3.1.1, the default) or 5. Set it before Connect.
	Version byte

	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// DialMQTT connects to addr, closing the connection when the test ends.
// With rcvbuf > 0 the socket's receive buffer is that small, so a client
// that does not read holds up the broker's writes soon.
func DialMQTT(t testing.TB, addr string, rcvbuf int) *RawMQTT {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: socketBuffers(rcvbuf, 0)}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &RawMQTT{Version: 4, t: t, c: c, r: bufio.NewReader(c)}
}

// Close closes the connection.
func (rc *RawMQTT) Close() error { return rc.c.Close() }

// Send writes pk (CONNECT, SUBSCRIBE, PUBLISH or DISCONNECT), within 10 s.
func (rc *RawMQTT) Send(pk packets.Packet) error {
	rc.t.Helper()
	pk.ProtocolVersion = rc.Version
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		rc.t.Fatalf("no encoder for packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		rc.t.Fatal(err)
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = rc.c.Write(buf.Bytes())
	return err
}

// Connect sends CONNECT with a clean session and keep-alive 0, so the
// broker never times the client out for silence; user "" sends no
// credentials. Connack reads the answer.
func (rc *RawMQTT) Connect(id, user, pass string) error {
	rc.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: id,
	}}
	if user != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(pass)
	}
	return rc.Send(pk)
}

// Connack reads the next packet, which must be a CONNACK, and returns its
// reason code.
func (rc *RawMQTT) Connack() byte {
	rc.t.Helper()
	ack := rc.Read()
	if ack.FixedHeader.Type != packets.Connack {
		rc.t.Fatalf("got packet type %d, want CONNACK", ack.FixedHeader.Type)
	}
	return ack.ReasonCode
}

// Subscribe sends SUBSCRIBE (packet identifier 1) for one filter.
func (rc *RawMQTT) Subscribe(filter string, qos byte) error {
	rc.t.Helper()
	return rc.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}})
}

// Publish sends PUBLISH; id is the packet identifier, for QoS 1 and 2.
func (rc *RawMQTT) Publish(topic string, payload []byte, qos byte, retain bool, id uint16) error {
	rc.t.Helper()
	return rc.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName: topic, Payload: payload, PacketID: id})
}

// Read returns the next packet, failing the test after 10 s.
func (rc *RawMQTT) Read() packets.Packet {
	rc.t.Helper()
	pk, err := rc.TryRead(10 * time.Second)
	if err != nil {
		rc.t.Fatal(err)
	}
	return pk
}

// TryRead returns the next packet, or the error that came first: a
// timeout after within, the end of the connection, a bad packet.
// CONNACK, SUBACK, PUBACK, PUBLISH and DISCONNECT are decoded; of others,
// only the fixed header.
func (rc *RawMQTT) TryRead(within time.Duration) (packets.Packet, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(within))
	var pk packets.Packet
	b, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(rc.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = rc.Version
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	return pk, err
}

// Closed reports whether the broker closes the connection within the
// given time, reading (and dropping) what it sends first.
func (rc *RawMQTT) Closed(within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := rc.TryRead(time.Until(deadline)); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
	return false
}
