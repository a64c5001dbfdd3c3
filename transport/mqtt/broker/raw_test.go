package broker

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawClient speaks MQTT a packet at a time, for what paho (3.1.1 only,
// and reading all the time) cannot do: MQTT 5, and not reading at all.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	r  *bufio.Reader
	v5 bool
}

// dialRaw connects with a small receive buffer when rcvbuf > 0, so a
// client that does not read holds up the broker's writes soon.
func dialRaw(t *testing.T, addr string, rcvbuf int) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawClient) send(pk packets.Packet) error {
	rc.t.Helper()
	if rc.v5 {
		pk.ProtocolVersion = 5
	} else {
		pk.ProtocolVersion = 4
	}
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
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

// connect sends CONNECT with keep-alive 0 (no deadline from the broker)
// and returns the CONNACK's reason code, or reads nothing when read is
// false.
func (rc *rawClient) connect(id, user, pass string, read bool) byte {
	rc.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: id,
	}}
	if user != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(pass)
	}
	if err := rc.send(pk); err != nil {
		rc.t.Fatal(err)
	}
	if !read {
		return 0
	}
	ack := rc.read()
	if ack.FixedHeader.Type != packets.Connack {
		rc.t.Fatalf("got packet type %d, want CONNACK", ack.FixedHeader.Type)
	}
	return ack.ReasonCode
}

func (rc *rawClient) subscribe(filter string, qos byte) {
	rc.t.Helper()
	err := rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}})
	if err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawClient) publish(topic string, payload []byte, qos byte, retain bool, id uint16) error {
	return rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName: topic, Payload: payload, PacketID: id})
}

// read returns the next packet, failing the test after 10 s.
func (rc *rawClient) read() packets.Packet {
	rc.t.Helper()
	pk, err := rc.tryRead(10 * time.Second)
	if err != nil {
		rc.t.Fatal(err)
	}
	return pk
}

func (rc *rawClient) tryRead(within time.Duration) (packets.Packet, error) {
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
	pk.ProtocolVersion = 4
	if rc.v5 {
		pk.ProtocolVersion = 5
	}
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

// closed reports whether the broker has closed the connection, reading
// (and dropping) what it sent first.
func (rc *rawClient) closed(within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		_, err := rc.tryRead(time.Until(deadline))
		if err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
	return false
}
