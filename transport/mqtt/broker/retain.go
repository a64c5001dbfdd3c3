package broker

import (
	"errors"
	"strings"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// retainGuard keeps the retained messages within their bounds (a count and
// the memory they take) and works around a data race in the broker
// library (v2.7.9, mochi-mqtt/server issue 200): the scan for retained
// messages that match a new wildcard subscription reads the topic tree
// without the lock that storing a retained message takes. Home Assistant
// subscribing to homeassistant/# while agents publish their retained
// discovery and availability is exactly that. Scans share the guard;
// storing a retained message, from a PUBLISH or a Last Will, takes it
// alone, so the bounds are checked and the message stored in one step.
//
// The library has no hook around either operation, so the guard is taken
// in the last hook before one and released in the first hook after it,
// all on the client's own goroutine:
//
//	scan:  OnPacketSent(SUBACK) … retained scan … OnPacketProcessed(SUBSCRIBE)
//	store: OnPublish(retain) or OnWill(retain) … store … OnRetainMessage
//
// Every path from the first hook of a pair reaches the second, or the
// guard releases the lock itself when it refuses the message; held
// records what each client holds, so a second hook without a first (a
// failed SUBACK write, a delayed will) does nothing. Not covered: a
// delayed MQTT 5 will and the periodic $SYS refresh, which store retained
// messages with no hook before them (the first is counted afterwards, the
// second is left out of the bounds).
type retainGuard struct {
	mochi.HookBase
	maxCount int
	maxBytes int64
	stats    *stats

	mu   sync.RWMutex
	held sync.Map // *mochi.Client → bool: true for the exclusive lock

	// The accounting has its own lock: the expiry of a retained message
	// comes from the housekeeping loop, outside the guard.
	amu    sync.Mutex
	topics map[string]int64 // retained topic → cost
	bytes  int64
}

func (g *retainGuard) ID() string { return "edge-agent-retain-guard" }

func (g *retainGuard) Provides(b byte) bool {
	switch b {
	case mochi.OnPacketSent, mochi.OnPacketProcessed, mochi.OnPublish, mochi.OnWill, mochi.OnRetainMessage, mochi.OnRetainedExpired:
		return true
	}
	return false
}

func (g *retainGuard) OnPacketSent(cl *mochi.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Suback {
		g.mu.RLock()
		g.held.Store(cl, false)
	}
}

func (g *retainGuard) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, _ error) {
	if pk.FixedHeader.Type != packets.Subscribe {
		return
	}
	if excl, ok := g.held.LoadAndDelete(cl); ok && !excl.(bool) {
		g.mu.RUnlock()
	}
}

// OnPublish refuses a retained message over the bounds. With MQTT 5 at
// QoS 1 the client gets a PUBACK saying quota exceeded; MQTT 3.1.1 has no
// negative PUBACK, so there (and at QoS 2) the message is acknowledged
// and dropped; at QoS 0 it is dropped. It is not passed on to
// subscribers either: the publisher asked for both or neither.
func (g *retainGuard) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if !pk.FixedHeader.Retain {
		return pk, nil
	}
	g.lock(cl)
	if err := g.admit(pk); err != nil {
		g.unlock(cl)
		if errors.Is(err, errRetainedCount) {
			g.stats.rejectRetainedCount.Add(1)
		} else {
			g.stats.rejectRetainedBytes.Add(1)
		}
		switch {
		case pk.FixedHeader.Qos == 0:
			return pk, packets.ErrRejectPacket
		case pk.FixedHeader.Qos == 1 && cl.Properties.ProtocolVersion >= 5:
			return pk, packets.ErrQuotaExceeded
		}
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// OnWill lets a Last Will that would not fit be published but not
// retained: the library cannot refuse a will, and the subscribers that
// are there should still hear of the disconnection.
func (g *retainGuard) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	if !will.Retain {
		return will, nil
	}
	pk := packets.Packet{TopicName: will.TopicName, Payload: will.Payload, Properties: packets.Properties{User: will.User}}
	// A delayed will is stored later by the housekeeping loop, with no
	// hook before it: it is checked now and counted when stored.
	delayed := will.WillDelayInterval != 0
	if !delayed {
		g.lock(cl)
	}
	if err := g.admit(pk); err != nil {
		if !delayed {
			g.unlock(cl)
		}
		g.stats.rejectRetainedWill.Add(1)
		will.Retain = false
	}
	return will, nil
}

func (g *retainGuard) OnRetainMessage(cl *mochi.Client, pk packets.Packet, _ int64) {
	g.account(pk)
	if excl, ok := g.held.LoadAndDelete(cl); ok && excl.(bool) {
		g.mu.Unlock()
	}
}

func (g *retainGuard) OnRetainedExpired(topic string) {
	g.amu.Lock()
	defer g.amu.Unlock()
	g.bytes -= g.topics[topic]
	delete(g.topics, topic)
}

func (g *retainGuard) lock(cl *mochi.Client) {
	g.mu.Lock()
	g.held.Store(cl, true)
}

func (g *retainGuard) unlock(cl *mochi.Client) {
	if excl, ok := g.held.LoadAndDelete(cl); ok && excl.(bool) {
		g.mu.Unlock()
	}
}

var (
	errRetainedCount = errors.New("broker: too many retained messages")
	errRetainedBytes = errors.New("broker: retained messages too large")
)

// admit says whether storing pk keeps the retained messages within their
// bounds. Deleting one (an empty payload) always does; replacing one
// counts the difference.
func (g *retainGuard) admit(pk packets.Packet) error {
	if len(pk.Payload) == 0 {
		return nil
	}
	c := retainedCost(pk)
	g.amu.Lock()
	defer g.amu.Unlock()
	old, exists := g.topics[pk.TopicName]
	if !exists && len(g.topics) >= g.maxCount {
		return errRetainedCount
	}
	if g.bytes-old+c > g.maxBytes {
		return errRetainedBytes
	}
	return nil
}

// account records a retained message as stored (or deleted).
func (g *retainGuard) account(pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	g.amu.Lock()
	defer g.amu.Unlock()
	if g.topics == nil {
		g.topics = make(map[string]int64)
	}
	g.bytes -= g.topics[pk.TopicName]
	delete(g.topics, pk.TopicName)
	if len(pk.Payload) > 0 {
		c := retainedCost(pk)
		g.topics[pk.TopicName] = c
		g.bytes += c
	}
}

// usage returns the retained messages held and their cost.
func (g *retainGuard) usage() (count int, bytes int64) {
	g.amu.Lock()
	defer g.amu.Unlock()
	return len(g.topics), g.bytes
}

// retainedCost is the memory a retained message takes: the message, and
// the node the topic tree keeps for each level of its topic.
func retainedCost(pk packets.Packet) int64 {
	return msgCost(&pk) + topicCost(pk.TopicName)
}
