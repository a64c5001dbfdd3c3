package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Defaults used where a Config field is empty.
const (
	DefaultPrefix          = "edge"
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultInterval        = 30 * time.Second
)

// Config says where and how to publish.
type Config struct {
	// Brokers are tried in turn: tcp://, ssl://, ws:// or wss:// URLs.
	Brokers  []string
	Username string
	Password string
	// TLS configures ssl:// and wss:// connections; nil uses the system roots.
	TLS *tls.Config
	// Prefix starts every topic of the device; default DefaultPrefix.
	Prefix string
	// DeviceID names the device in topics and Home Assistant; required.
	DeviceID string
	// DiscoveryPrefix is Home Assistant's; default DefaultDiscoveryPrefix,
	// "off" sends no discovery.
	DiscoveryPrefix string
	// Interval is how often the state is published; default DefaultInterval.
	Interval time.Duration
	// Commands are answered besides the built-in ping and refresh.
	Commands map[string]Command
	// Subscriptions hand the messages of topics under the device's base
	// (keys such as "firmware/tx") to their function, in order. The
	// function must not block: it runs on the client's message router.
	// Retained messages on these topics, like those on cmd/, are never
	// handed on (counted as retained_dropped).
	Subscriptions map[string]func(payload []byte)
	// StateSubscriptions hand the messages of topics under the device's
	// base that hold state, such as "update/offer", to their function,
	// retained or not: the broker gives the retained one at each
	// subscription, and the latest is what counts. Same rules otherwise
	// as Subscriptions.
	StateSubscriptions map[string]func(payload []byte)
	// Actions, when set, answers cmd/<action> topics it names: each
	// request on a goroutine of the bridge's (see actions.go).
	Actions Actions
	// Logger gets connection changes and errors, never a line per message.
	Logger *slog.Logger
}

// Command answers cmd/<name> with a JSON-able result.
type Command func(payload []byte) (any, error)

// Event is something to publish once, under events/<Kind>.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Data any       `json:"data"`
}

// Source is what the bridge reads from the agent.
type Source interface {
	// State returns the current state document.
	State() any
	// Events returns the events recorded after the first `after` and the
	// count to ask from next time.
	Events(after uint64) ([]Event, uint64)
	// Sensors lists what Home Assistant should show.
	Sensors() []Sensor
}

// Bridge publishes one device's status. Create with New, run with Run.
type Bridge struct {
	cfg    Config
	src    Source
	log    *slog.Logger
	topics topics

	connected chan struct{} // a new connection wants online, discovery and state
	pubWake   chan struct{} // a new connection: the publisher may take forwarded messages
	haOnline  chan struct{}
	cmds      chan message
	pubq      chan outgoing // the run loop's messages for the publisher
	out       chan message  // Forward's queue, sent while connected

	// Home Assistant discovery (discovery_state.go): what the broker holds,
	// in arrival order; the state Run keeps; connections counted.
	discq     chan discoveryEvent
	disc      discoveryState
	discConns atomic.Uint64

	retainedLog retainedLog
	acts        actionSlots

	stats struct {
		connects, publishes, skipped, commands, dropped atomic.Uint64
		forwarded, forwardDropped                       atomic.Uint64
		publishDropped, publishErrors, retainedDropped  atomic.Uint64
		connected                                       atomic.Bool
	}
}

type message struct {
	topic    string
	payload  []byte
	retained bool // only for action topics: refused with a reply
}

// ErrNoDevice is returned by New without a device id.
var ErrNoDevice = errors.New("bridge: Config.DeviceID is empty")

// New checks cfg and fills its defaults.
func New(cfg Config, src Source) (*Bridge, error) {
	if cfg.DeviceID == "" {
		return nil, ErrNoDevice
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("bridge: no broker URL")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.DiscoveryPrefix == "" {
		cfg.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bridge{
		cfg: cfg, src: src, log: log,
		topics:    topics{base: cfg.Prefix + "/" + cfg.DeviceID, discovery: cfg.DiscoveryPrefix},
		connected: make(chan struct{}, 1),
		pubWake:   make(chan struct{}, 1),
		haOnline:  make(chan struct{}, 1),
		cmds:      make(chan message, 16),
		pubq:      make(chan outgoing, publishQueue),
		out:       make(chan message, forwardQueue),
		discq:     make(chan discoveryEvent, discoveryEvents),
	}, nil
}

// Counters returns the bridge's counters.
func (b *Bridge) Counters() map[string]uint64 {
	var up uint64
	if b.stats.connected.Load() {
		up = 1
	}
	return map[string]uint64{
		"connected":        up,
		"connects":         b.stats.connects.Load(),
		"publishes":        b.stats.publishes.Load(),
		"skipped_offline":  b.stats.skipped.Load(),
		"commands":         b.stats.commands.Load(),
		"commands_dropped": b.stats.dropped.Load(),
		"forwarded":        b.stats.forwarded.Load(),
		"forward_dropped":  b.stats.forwardDropped.Load(),
		"publish_dropped":  b.stats.publishDropped.Load(),
		"publish_errors":   b.stats.publishErrors.Load(),
		"retained_dropped": b.stats.retainedDropped.Load(),
		"action_requests":  b.acts.requests.Load(),
		"actions_busy":     b.acts.busy.Load(),
	}
}

// forwardQueue bounds what Forward holds while the broker is away: a few
// minutes of a chatty microcontroller's lines.
const forwardQueue = 1024

// Forward publishes payload (copied) under the device's base topic, e.g.
// sub "firmware/rx", not retained, in the order of the calls. It never
// blocks: while the broker is away messages wait in a bounded queue, and
// when that is full Forward returns false and counts the loss. A message
// taken from the queue as the connection breaks is lost and counted too.
func (b *Bridge) Forward(sub string, payload []byte) bool {
	select {
	case b.out <- message{topic: b.topics.base + "/" + sub, payload: bytes.Clone(payload)}:
		return true
	default:
		b.stats.forwardDropped.Add(1)
		return false
	}
}

// signal wakes the run loop without ever blocking a paho goroutine.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (b *Bridge) options() *paho.ClientOptions {
	o := paho.NewClientOptions()
	for _, u := range b.cfg.Brokers {
		o.AddBroker(u)
	}
	o.SetClientID("edge-agent-" + b.cfg.DeviceID)
	o.SetUsername(b.cfg.Username)
	o.SetPassword(b.cfg.Password)
	if b.cfg.TLS != nil {
		o.SetTLSConfig(b.cfg.TLS)
	}
	// Handlers only queue work and never block, so they can run in
	// order on paho's router: lines for a microcontroller keep theirs.
	o.SetOrderMatters(true)
	o.SetCleanSession(true)
	o.SetKeepAlive(30 * time.Second)
	o.SetPingTimeout(10 * time.Second)
	o.SetConnectTimeout(10 * time.Second)
	// Publish waits for the socket at most this long, and a socket that
	// takes nothing for as long is given up and reconnected.
	o.SetWriteTimeout(writeTimeout)
	o.SetConnectRetry(true)
	o.SetConnectRetryInterval(2 * time.Second)
	o.SetAutoReconnect(true)
	o.SetMaxReconnectInterval(30 * time.Second)
	o.SetWill(b.topics.availability(), "offline", 1, true)
	o.SetOnConnectHandler(func(c paho.Client) {
		b.stats.connects.Add(1)
		b.stats.connected.Store(true)
		b.log.Info("connected to the broker")
		// Subscriptions do not survive a clean session: redo them on
		// every connection.
		c.Subscribe(b.topics.commands(), 1, b.liveCommands(b.onCommand)).WaitTimeout(5 * time.Second)
		for sub, fn := range b.cfg.Subscriptions {
			c.Subscribe(b.topics.base+"/"+sub, 1, b.live(func(_ paho.Client, m paho.Message) { fn(m.Payload()) })).WaitTimeout(5 * time.Second)
		}
		for sub, fn := range b.cfg.StateSubscriptions {
			c.Subscribe(b.topics.base+"/"+sub, 1, func(_ paho.Client, m paho.Message) { fn(m.Payload()) }).WaitTimeout(5 * time.Second)
		}
		b.subscribeDiscovery(c)
		signal(b.connected)
		signal(b.pubWake)
	})
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		b.stats.connected.Store(false)
		b.log.Warn("lost the broker; reconnecting", "err", err)
	})
	return o
}

func (b *Bridge) onCommand(_ paho.Client, m paho.Message) {
	select {
	case b.cmds <- message{topic: m.Topic(), payload: m.Payload(), retained: m.Retained()}:
	default:
		b.stats.dropped.Add(1)
	}
}

func (b *Bridge) onHAStatus(_ paho.Client, m paho.Message) {
	if string(m.Payload()) == "online" {
		signal(b.haOnline)
	}
}

// Run connects (retrying until it can) and publishes until ctx ends, then
// waits for the actions running (their context has ended: a script is
// killed at once), so their replies go out, marks the device offline and
// disconnects. It returns nil after that, within goodbyeTimeout, the
// disconnect's quiesce and writeTimeout however stuck the network is,
// once the actions have returned.
func (b *Bridge) Run(ctx context.Context) error {
	c := paho.NewClient(b.options())
	c.Connect() // with ConnectRetry it keeps trying in the background
	pctx, stopPublisher := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { b.publishLoop(pctx, c) })
	defer func() {
		stopPublisher()
		// Closing the connection ends a socket write stuck on it; a
		// Publish waiting for paho's writer gives up within writeTimeout.
		c.Disconnect(disconnectQuiesce)
		wg.Wait()
	}()
	state := time.NewTicker(b.cfg.Interval)
	defer state.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			b.waitActions()
			b.goodbye(c, seq)
			return nil
		case <-b.connected:
			b.publish(c, b.topics.availability(), true, []byte("online"))
			b.publishState(c)
		case <-b.haOnline:
			b.discovery(c)
			b.publishState(c)
		case m := <-b.cmds:
			b.command(ctx, c, m)
		case ev := <-b.discq:
			b.onDiscoveryEvent(c, ev)
		case <-b.disc.wait:
			b.discoverySynced(c)
		case <-state.C:
			b.publishState(c)
		case <-poll.C:
			if c.IsConnectionOpen() {
				next := b.publishEvents(c, seq)
				if next != seq {
					// Something happened: the state (counters) changed too.
					b.publishState(c)
				}
				seq = next
			}
		}
	}
}

// publish hands a message to the publisher and never waits: the run loop
// must not stall on a slow broker. While disconnected nothing is queued;
// the state is sent afresh on the next connection.
func (b *Bridge) publish(c paho.Client, topic string, retained bool, payload []byte) bool {
	if !c.IsConnectionOpen() {
		b.stats.skipped.Add(1)
		return false
	}
	return b.enqueue(outgoing{topic: topic, retained: retained, payload: payload})
}

func (b *Bridge) encode(topic string, v any) ([]byte, bool) {
	payload, err := json.Marshal(v)
	if err != nil {
		b.log.Error("encoding a message", "topic", topic, "err", err)
		return nil, false
	}
	return payload, true
}

func (b *Bridge) publishJSON(c paho.Client, topic string, retained bool, v any) bool {
	payload, ok := b.encode(topic, v)
	return ok && b.publish(c, topic, retained, payload)
}

func (b *Bridge) publishState(c paho.Client) {
	b.publishJSON(c, b.topics.state(), true, b.src.State())
}

// publishEvents queues the events after the first `after` and returns the
// count to start from next time: events that found the queue full stay
// in the agent's log for the next poll.
func (b *Bridge) publishEvents(c paho.Client, after uint64) uint64 {
	events, next := b.src.Events(after)
	for i, e := range events {
		if len(b.pubq) == cap(b.pubq) {
			return next - uint64(len(events)-i)
		}
		b.publishJSON(c, b.topics.event(e.Kind), false, e)
	}
	return next
}
