package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// stateDoc is what the driver reads of the agent's retained state.
type stateDoc struct {
	Time       time.Time `json:"time"`
	Goroutines *int      `json:"agent_goroutines"`
	Services   map[string]struct {
		Addr     string            `json:"addr"`
		Counters map[string]uint64 `json:"counters"`
	} `json:"services"`
}

func (d *stateDoc) counter(service, name string) uint64 {
	if d == nil {
		return 0
	}
	return d.Services[service].Counters[name]
}

// observer is the driver's MQTT client on mosquitto: it reads the
// agent's state, availability, events, command replies and firmware
// lines, and sends the honest commands and firmware messages. It
// reconnects (and subscribes again) by itself across broker restarts.
type observer struct {
	c    paho.Client
	base string // edge/<device id>/

	mu        sync.Mutex
	state     *stateDoc
	peakG     int
	onlineAt  time.Time // when "online" last arrived
	fwUpAt    time.Time // when a firmware serial_link up event last arrived
	connected bool

	replies chan time.Time // the "time" of each cmd/ping reply
	fwRx    func(string)   // each firmware/rx payload
}

// newObserver makes a client; listen subscribes it to the device's topics.
func newObserver(url, clientID, base string, listen bool, fwRx func(string)) *observer {
	o := &observer{base: base, replies: make(chan time.Time, 64), fwRx: fwRx}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(500 * time.Millisecond).
		SetConnectTimeout(2 * time.Second).SetWriteTimeout(2 * time.Second).SetKeepAlive(5 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			// The broker forgets subscriptions when it restarts.
			if listen {
				c.Subscribe(base+"#", 1, o.handle)
			}
			o.mu.Lock()
			o.connected = true
			o.mu.Unlock()
		}).
		SetConnectionLostHandler(func(paho.Client, error) {
			o.mu.Lock()
			o.connected = false
			o.mu.Unlock()
		})
	o.c = paho.NewClient(opts)
	return o
}

func (o *observer) connect(timeout time.Duration) error {
	tok := o.c.Connect()
	if !tok.WaitTimeout(timeout) {
		return errors.New("mqtt: no connection to mosquitto within " + timeout.String())
	}
	return tok.Error()
}

func (o *observer) close() { o.c.Disconnect(250) }

// handle runs on the client's router: it only records and never waits.
func (o *observer) handle(_ paho.Client, m paho.Message) {
	topic := strings.TrimPrefix(m.Topic(), o.base)
	switch topic {
	case "state":
		var d stateDoc
		if json.Unmarshal(m.Payload(), &d) != nil {
			return
		}
		o.mu.Lock()
		o.state = &d
		if d.Goroutines != nil && *d.Goroutines > o.peakG {
			o.peakG = *d.Goroutines
		}
		o.mu.Unlock()
	case "availability":
		if string(m.Payload()) == "online" {
			o.mu.Lock()
			o.onlineAt = time.Now()
			o.mu.Unlock()
		}
	case "cmd/ping/reply":
		var r struct {
			OK   bool   `json:"ok"`
			Time string `json:"time"`
		}
		if json.Unmarshal(m.Payload(), &r) == nil && r.OK {
			if t, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
				select {
				case o.replies <- t:
				default:
				}
			}
		}
	case "firmware/rx":
		if o.fwRx != nil {
			o.fwRx(string(m.Payload()))
		}
	case "events/serial_link":
		var e struct {
			Data struct {
				Role string `json:"role"`
				Up   bool   `json:"up"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Payload(), &e) == nil && e.Data.Role == "firmware" && e.Data.Up {
			o.mu.Lock()
			o.fwUpAt = time.Now()
			o.mu.Unlock()
		}
	}
}

// publish sends one message at QoS 1 and waits for mosquitto to take it.
func (o *observer) publish(topic string, retained bool, payload []byte, timeout time.Duration) error {
	tok := o.c.Publish(o.base+topic, 1, retained, payload)
	if !tok.WaitTimeout(timeout) {
		return errors.New("publish not acknowledged")
	}
	return tok.Error()
}

// latest returns the last state received, nil before any.
func (o *observer) latest() *stateDoc {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state
}

func (o *observer) peakGoroutines() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.peakG
}

// freshState asks the agent for its state (cmd/refresh) and returns the
// first one stamped after the request.
func (o *observer) freshState(timeout time.Duration) (*stateDoc, error) {
	t0 := time.Now()
	deadline := t0.Add(timeout)
	for time.Now().Before(deadline) {
		asked := time.Now()
		if err := o.publish("cmd/refresh", false, nil, 2*time.Second); err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); {
			if d := o.latest(); d != nil && !d.Time.Before(asked.Add(-time.Millisecond)) {
				return d, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil, fmt.Errorf("no state from the agent within %v of asking (cmd/refresh)", timeout)
}

// onlineSince reports whether "online" arrived after t.
func (o *observer) onlineSince(t time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.connected && o.onlineAt.After(t)
}

func (o *observer) firmwareUpSince(t time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fwUpAt.After(t)
}

// ping sends cmd/ping and waits for a reply the agent stamped after the
// request was sent: a late reply to an earlier ping is not taken for it.
func (o *observer) ping(timeout time.Duration) error {
	for {
		select {
		case <-o.replies:
			continue
		default:
		}
		break
	}
	sent := time.Now()
	if err := o.publish("cmd/ping", false, []byte("chaos"), timeout); err != nil {
		return err
	}
	deadline := time.NewTimer(time.Until(sent.Add(timeout)))
	defer deadline.Stop()
	for {
		select {
		case t := <-o.replies:
			if !t.Before(sent.Add(-time.Millisecond)) {
				return nil
			}
		case <-deadline.C:
			return errors.New("no reply")
		}
	}
}
