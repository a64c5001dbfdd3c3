package bridge

import (
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// retainedLogTopics bounds the topics whose retained message is logged:
// a broker holding retained messages on many command topics gets a log
// line for the first ones and the count for all.
const retainedLogTopics = 32

// retainedLog remembers the topics already logged, so a retained message
// replayed at every reconnection is logged once, not per delivery.
type retainedLog struct {
	mu     sync.Mutex
	topics map[string]bool
}

// live wraps a handler of commands or messages for the microcontroller
// so that it only sees messages published while the bridge listened. A
// retained message is state, never a command: the broker delivers it again
// on every new subscription (every reconnection), and running it would
// switch a relay again after every Wi-Fi blip or restart.
func (b *Bridge) live(h paho.MessageHandler) paho.MessageHandler {
	return func(c paho.Client, m paho.Message) {
		if m.Retained() {
			b.dropRetained(m.Topic())
			return
		}
		h(c, m)
	}
}

func (b *Bridge) dropRetained(topic string) {
	b.stats.retainedDropped.Add(1)
	l := &b.retainedLog
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.topics[topic] || len(l.topics) > retainedLogTopics {
		return
	}
	if l.topics == nil {
		l.topics = map[string]bool{}
	}
	l.topics[topic] = true
	if len(l.topics) > retainedLogTopics {
		b.log.Warn("more topics with retained commands; no longer logged, counted as retained_dropped")
		return
	}
	b.log.Warn("ignoring a retained message on a command topic: commands must not be retained; clear it with an empty retained message",
		"topic", topic, "hint", "mosquitto_pub -r -n -t '"+topic+"'")
}
