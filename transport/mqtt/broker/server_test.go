package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"edge-agent/transport/testenv"
)

// start serves s on a loopback port until the test ends.
func start(t *testing.T, s *Server) (addr string, stop func()) {
	t.Helper()
	return testenv.ServeTCP(t, s.Serve)
}

// connect returns a connected paho client, disconnected when the test ends.
func connect(t *testing.T, addr, id string, opts ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	for _, f := range opts {
		f(o)
	}
	c := paho.NewClient(o)
	wait(t, "connect "+id, c.Connect())
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wait(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: no answer within 10s", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// subscribe delivers filter's messages to the returned channel; the
// handler never blocks, as paho requires.
func subscribe(t *testing.T, c paho.Client, filter string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 64)
	wait(t, "subscribe "+filter, c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		select {
		case ch <- m:
		default:
		}
	}))
	return ch
}

func receive(t *testing.T, ch <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		return nil
	}
}

func counter(s *Server, name string) func() uint64 {
	return func() uint64 { return s.Counters()[name] }
}

func TestRetainedToLateSubscriber(t *testing.T) {
	s := &Server{}
	addr, _ := start(t, s)
	pub := connect(t, addr, "publisher")
	// The broker acknowledges a message before it passes it on; once a
	// subscriber that was there all along has both, neither can reach a
	// later subscriber as a live message.
	witness := subscribe(t, connect(t, addr, "witness"), "edge/dev1/#")
	wait(t, "publish", pub.Publish("edge/dev1/events/x", 1, false, "not kept"))
	wait(t, "publish", pub.Publish("edge/dev1/state", 1, true, `{"up":1}`))
	receive(t, witness, "the event")
	receive(t, witness, "the state")
	testenv.WaitFor(t, "one retained message", func() bool { return counter(s, "retained")() == 1 })

	sub := connect(t, addr, "late")
	ch := subscribe(t, sub, "edge/dev1/#")
	m := receive(t, ch, "retained message")
	if m.Topic() != "edge/dev1/state" || string(m.Payload()) != `{"up":1}` || !m.Retained() {
		t.Fatalf("got %q %q retained=%v", m.Topic(), m.Payload(), m.Retained())
	}

	// The broker counts a message sent once the write has returned, which
	// may be after the subscriber has it.
	testenv.WaitFor(t, "messages_sent", func() bool { return counter(s, "messages_sent")() >= 3 })
	c := s.Counters()
	if c["clients_connected"] != 3 || c["clients_total"] != 3 || c["subscriptions"] != 2 || c["messages_received"] != 2 || c["messages_sent"] != 3 {
		t.Errorf("counters %v", c)
	}
	select {
	case m := <-ch:
		t.Errorf("late subscriber got %q, a message that was not retained", m.Topic())
	default:
	}
}

// killableDialer gives a test the client's connection, to drop it without
// a DISCONNECT as a crash or a pulled cable would.
type killableDialer struct {
	mu   sync.Mutex
	conn net.Conn
}

func (d *killableDialer) open(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
	c, err := net.Dial("tcp", u.Host)
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.Close()
}

func TestLastWill(t *testing.T) {
	s := &Server{}
	addr, _ := start(t, s)
	watcher := connect(t, addr, "watcher")
	ch := subscribe(t, watcher, "edge/+/availability")

	d := new(killableDialer)
	dev := connect(t, addr, "dev1", func(o *paho.ClientOptions) {
		o.SetWill("edge/dev1/availability", "offline", 1, true).SetCustomOpenConnectionFn(d.open)
	})
	wait(t, "publish online", dev.Publish("edge/dev1/availability", 1, true, "online"))
	if m := receive(t, ch, "online"); string(m.Payload()) != "online" {
		t.Fatalf("got %q, want online", m.Payload())
	}

	d.kill()
	m := receiveNext(t, ch, "the will", "online")
	if m.Topic() != "edge/dev1/availability" || string(m.Payload()) != "offline" {
		t.Fatalf("got %q %q, want the will", m.Topic(), m.Payload())
	}
	testenv.WaitFor(t, "the device counted as gone", func() bool { return counter(s, "clients_connected")() == 1 })

	// The will was retained: a dashboard that starts later sees it too.
	late := subscribe(t, connect(t, addr, "dashboard"), "edge/dev1/availability")
	if m := receive(t, late, "retained will"); string(m.Payload()) != "offline" || !m.Retained() {
		t.Fatalf("late subscriber got %q retained=%v", m.Payload(), m.Retained())
	}

	// A client that says goodbye leaves no will behind.
	clean := connect(t, addr, "dev2", func(o *paho.ClientOptions) {
		o.SetWill("edge/dev2/availability", "offline", 1, false)
	})
	clean.Disconnect(250)
	testenv.WaitFor(t, "dev2 gone", func() bool { return counter(s, "clients_connected")() == 2 })
	wait(t, "marker", watcher.Publish("edge/marker/availability", 1, false, "marker"))
	if m := receiveNext(t, ch, "marker", "online", "offline"); m.Topic() != "edge/marker/availability" {
		t.Fatalf("got %q %q after a clean disconnect, want only the marker", m.Topic(), m.Payload())
	}
}

// receiveNext returns the first message whose payload is not one of
// skip. A message published while a subscription is being made can come
// twice, live and as the retained message the broker looks up after its
// SUBACK; MQTT allows it, and subscribers must cope.
func receiveNext(t *testing.T, ch <-chan paho.Message, what string, skip ...string) paho.Message {
	t.Helper()
	for {
		m := receive(t, ch, what)
		if !slices.Contains(skip, string(m.Payload())) {
			return m
		}
	}
}

func TestServeStopsWithClientsConnected(t *testing.T) {
	s := &Server{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	lost := make(chan struct{}, 2)
	onLost := func(o *paho.ClientOptions) {
		o.SetConnectionLostHandler(func(paho.Client, error) { lost <- struct{}{} })
	}
	a := connect(t, addr, "a", onLost)
	subscribe(t, a, "#")
	connect(t, addr, "b", onLost)
	// A connection that never sends CONNECT must not hold shutdown up.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	testenv.WaitFor(t, "two clients", func() bool { return counter(s, "clients_connected")() == 2 })

	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return within 2s of cancel")
	}
	t.Logf("Serve returned %v after cancel", time.Since(began))
	for range 2 {
		select {
		case <-lost:
		case <-time.After(5 * time.Second):
			t.Fatal("a client did not see its connection end")
		}
	}
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); err == nil {
		t.Error("a connection without CONNECT was left open")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the listener still accepts after Serve returned")
	}
	if got := counter(s, "clients_connected")(); got != 0 {
		t.Errorf("clients_connected = %d after shutdown", got)
	}
	if err := s.Serve(context.Background(), ln); err != ErrServing {
		t.Errorf("second Serve = %v, want ErrServing", err)
	}
}

// A bare MQTT 5 client, as paho.mqtt.golang speaks only 3.1.1: it is
// accepted, and told why when the broker stops.
func TestMQTT5(t *testing.T) {
	s := &Server{}
	addr, stop := start(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf bytes.Buffer
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 5,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			Keepalive:        30,
			ClientIdentifier: "v5",
		},
	}
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// CONNACK: no session present, reason Success, then properties.
	if ack := readPacket(t, c); ack[0] != 0x20 || ack[2] != 0 || ack[3] != 0 {
		t.Fatalf("CONNACK % x", ack)
	}
	testenv.WaitFor(t, "the v5 client counted", func() bool { return counter(s, "clients_connected")() == 1 })

	stop()
	if disc := readPacket(t, c); disc[0] != 0xe0 || disc[2] != packets.ErrServerShuttingDown.Code {
		t.Fatalf("want DISCONNECT with reason Server shutting down, got % x", disc)
	}
}

// readPacket reads one short packet (remaining length under 128).
func readPacket(t *testing.T, c net.Conn) []byte {
	t.Helper()
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatal(err)
	}
	if head[1] >= 128 {
		t.Fatalf("packet % x longer than expected", head)
	}
	body := make([]byte, head[1])
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	return append(head, body...)
}

func TestConnectionLimitAndConnectTimeout(t *testing.T) {
	s := &Server{MaxClients: 1, connectTimeout: 200 * time.Millisecond}
	addr, _ := start(t, s)
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over the cap got data")
	}
	if got := counter(s, "rejected_conn_limit")(); got != 1 {
		t.Errorf("rejected_conn_limit = %d, want 1", got)
	}

	// The silent connection is dropped once its time to CONNECT is up,
	// which frees its place.
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection that never sent CONNECT got data")
	}
	testenv.WaitFor(t, "a place for a real client", func() bool {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("real").SetAutoReconnect(false))
		tok := c.Connect()
		tok.WaitTimeout(5 * time.Second)
		if tok.Error() != nil {
			return false
		}
		c.Disconnect(0)
		return true
	})
}

// Storing retained messages while wildcard subscriptions look them up is
// what retainGuard is for; under -race this fails without it.
func TestRetainedWhileSubscribing(t *testing.T) {
	s := &Server{}
	addr, _ := start(t, s)
	pub := connect(t, addr, "publisher")
	sub := connect(t, addr, "subscriber")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			pub.Publish(fmt.Sprintf("edge/d%d/state", i%20), 0, true, fmt.Sprint(i))
		}
	}()
	defer func() { <-done }()
	for range 50 {
		wait(t, "subscribe", sub.Subscribe("edge/+/state", 0, func(paho.Client, paho.Message) {}))
		wait(t, "unsubscribe", sub.Unsubscribe("edge/+/state"))
	}
	wait(t, "last publish", pub.Publish("edge/last/state", 1, true, "last"))
	testenv.WaitFor(t, "21 retained topics", func() bool { return counter(s, "retained")() == 21 })
}
