package testenv

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// reconnecting is a client as the agent runs one: it retries the first
// connection, reconnects, and subscribes again on every connection.
type reconnecting struct {
	paho.Client
	connects atomic.Int32
	got      chan string
}

func newReconnecting(t *testing.T, url string) *reconnecting {
	r := &reconnecting{got: make(chan string, 16)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID("testenv").
		SetConnectRetry(true).SetConnectRetryInterval(20 * time.Millisecond).
		SetAutoReconnect(true).SetMaxReconnectInterval(50 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			// The token is not waited for: roundTrip sees the
			// subscription in place when messages come back.
			c.Subscribe("t/#", 1, func(_ paho.Client, m paho.Message) {
				select {
				case r.got <- string(m.Payload()):
				default:
				}
			})
			r.connects.Add(1)
		})
	r.Client = paho.NewClient(o)
	t.Cleanup(func() { r.Disconnect(100) })
	return r
}

// roundTrip publishes until the client's own subscription delivers:
// after a (re)connection the subscription is in place a moment later.
func (r *reconnecting) roundTrip(t *testing.T, payload string) {
	t.Helper()
	WaitFor(t, "a message back through mosquitto", func() bool {
		tok := r.Publish("t/x", 1, false, payload)
		if !tok.WaitTimeout(time.Second) || tok.Error() != nil {
			return false
		}
		select {
		case got := <-r.got:
			return got == payload
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestMosquittoRestart(t *testing.T) {
	m := StartMosquitto(t)
	if m.URL != "tcp://"+m.Addr {
		t.Fatalf("URL %q for address %q", m.URL, m.Addr)
	}
	r := newReconnecting(t, m.URL)
	if tok := r.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	r.roundTrip(t, "one")

	m.Restart()
	WaitFor(t, "a reconnection", func() bool { return r.connects.Load() == 2 })
	r.roundTrip(t, "two")
}

func TestMosquittoStartsLate(t *testing.T) {
	m := NewMosquitto(t)
	if c, err := net.Dial("tcp", m.Addr); err == nil {
		c.Close()
		t.Fatal("something listens before Start")
	}
	r := newReconnecting(t, m.URL)
	tok := r.Connect() // keeps trying in the background
	m.Start()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	r.roundTrip(t, "late")

	m.Stop()
	if c, err := net.Dial("tcp", m.Addr); err == nil {
		c.Close()
		t.Fatal("still listening after Stop")
	}
	m.Stop() // a no-op
	m.Start()
	r.roundTrip(t, "again")
}
