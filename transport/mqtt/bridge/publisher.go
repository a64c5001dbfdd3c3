package bridge

import (
	"context"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Bounds on what the network may hold up. paho's Publish waits for its
// writer to take the message, and the writer waits for the socket, so a
// broker (or a path to it) that stops reading stalls every Publish. Only
// the publisher goroutine calls Publish; the run loop hands it messages
// without waiting and stays free to stop.
const (
	// publishQueue bounds what the run loop has handed to the publisher
	// and the network has not taken yet; beyond it messages are dropped
	// and counted (publish_dropped).
	publishQueue = 256
	// writeTimeout bounds one Publish, and one write of a message to the
	// socket: a broker that takes nothing for this long is dropped and
	// reconnected. It also bounds how long the publisher can hold up the
	// end of Run.
	writeTimeout = 3 * time.Second
	// goodbyeTimeout bounds the last events and "offline" at shutdown.
	goodbyeTimeout = time.Second
	// disconnectQuiesce is what paho's Disconnect may wait, in ms.
	disconnectQuiesce = 250
)

// outgoing is one message for the publisher.
type outgoing struct {
	topic    string
	retained bool
	payload  []byte
	// sent, when set, receives the token once the message is handed to
	// paho (nil if it was not): the goodbye waits for "offline".
	sent chan paho.Token
}

// enqueue hands m to the publisher without waiting; a full queue drops it.
func (b *Bridge) enqueue(m outgoing) bool {
	select {
	case b.pubq <- m:
		return true
	default:
		b.stats.publishDropped.Add(1)
		return false
	}
}

// enqueueBy hands m to the publisher, waiting for room until deadline.
func (b *Bridge) enqueueBy(m outgoing, deadline <-chan time.Time) bool {
	select {
	case b.pubq <- m:
		return true
	case <-deadline:
		b.stats.publishDropped.Add(1)
		return false
	}
}

// publishLoop is the only caller of Publish: the queued messages, and the
// forwarded ones while connected, until ctx ends.
func (b *Bridge) publishLoop(ctx context.Context, c paho.Client) {
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	for {
		// Forwarded messages wait in their queue while the broker is away.
		var out chan message
		if c.IsConnectionOpen() {
			out = b.out
		}
		select {
		case <-ctx.Done():
			return
		case m := <-b.pubq:
			tok := b.send(c, m.topic, m.retained, m.payload)
			if m.sent != nil {
				m.sent <- tok
			}
		case m := <-out:
			if b.send(c, m.topic, false, m.payload) != nil {
				b.stats.forwarded.Add(1)
			} else {
				b.stats.forwardDropped.Add(1)
			}
		case <-b.pubWake:
		case <-recheck.C:
		}
	}
}

// send publishes at QoS 1 without waiting for the broker's answer; it
// returns the token, or nil if the message was not taken. Nothing is
// stored while disconnected: paho would keep it in memory without a bound.
func (b *Bridge) send(c paho.Client, topic string, retained bool, payload []byte) paho.Token {
	if !c.IsConnectionOpen() {
		b.stats.skipped.Add(1)
		return nil
	}
	tok := c.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		if tok.Error() != nil {
			// Not taken within writeTimeout, or the connection broke.
			b.stats.publishErrors.Add(1)
			return nil
		}
	default:
	}
	b.stats.publishes.Add(1)
	return tok
}

// goodbye publishes the events of the last moments (a service that failed
// and brought the agent down) and "offline", waiting for the broker to
// take "offline" at most goodbyeTimeout in all.
func (b *Bridge) goodbye(c paho.Client, seq uint64) {
	if !c.IsConnectionOpen() {
		return
	}
	deadline := time.NewTimer(goodbyeTimeout)
	defer deadline.Stop()
	events, _ := b.src.Events(seq)
	for _, e := range events {
		if p, ok := b.encode(b.topics.event(e.Kind), e); ok && !b.enqueueBy(outgoing{topic: b.topics.event(e.Kind), payload: p}, deadline.C) {
			return
		}
	}
	sent := make(chan paho.Token, 1)
	if !b.enqueueBy(outgoing{topic: b.topics.availability(), retained: true, payload: []byte("offline"), sent: sent}, deadline.C) {
		return
	}
	select {
	case tok := <-sent:
		if tok == nil {
			return
		}
		select {
		case <-tok.Done():
		case <-deadline.C:
		}
	case <-deadline.C:
	}
}
