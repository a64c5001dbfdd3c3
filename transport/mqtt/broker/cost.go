package broker

import (
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The broker's bounds are in bytes of memory, so what a client sends is
// priced by what the library keeps of it, measured on amd64 (v2.7.9):
// a packet structure is 800 bytes, a node of the topic tree 640, an entry
// of a client's subscription table about 200.
const (
	msgOverhead      = 1024 // one message held: the packet and its allocations
	levelCost        = 640  // one level of a topic in the topic tree
	subscriptionCost = 256  // one subscription entry
	userPropCost     = 32   // one MQTT 5 user property, besides its text
)

// msgCost is what one copy of a message costs while the broker holds it:
// every subscriber's copy carries its own payload and properties (the
// library copies them per subscriber) and keeps the topic alive.
func msgCost(pk *packets.Packet) int64 {
	p := &pk.Properties
	n := len(pk.TopicName) + len(pk.Payload) + len(p.ContentType) + len(p.ResponseTopic) + len(p.CorrelationData)
	for _, u := range p.User {
		n += userPropCost + len(u.Key) + len(u.Val)
	}
	return int64(n) + msgOverhead
}

// topicCost is what the topic tree keeps for a topic or filter.
func topicCost(topic string) int64 {
	return int64(len(topic)) + levelCost*int64(strings.Count(topic, "/")+1)
}
