package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Defaults and limits of the embedded broker.
const (
	// DefaultMaxClients is enough for the agent, Home Assistant and a
	// handful of tools on one device, and bounds what a broker open to
	// anyone can be made to hold.
	DefaultMaxClients = 64
	// MaxPacketSize bounds the memory one client can make the broker
	// allocate; status, discovery and serial-bridge messages are far
	// smaller.
	MaxPacketSize = 1 << 20
	// MaxSessionExpiry bounds how long a persistent session of a client
	// that never comes back is kept, and so the memory it holds.
	MaxSessionExpiry = 24 * time.Hour

	// connectTimeout is how long a new connection may take to send
	// CONNECT; after that the keep-alive the client asked for applies.
	connectTimeout = 10 * time.Second
	// shutdownGrace bounds the time spent telling clients the broker is
	// going away, so a client that does not read cannot hold Serve up.
	shutdownGrace = 500 * time.Millisecond
	// sysInterval is mosquitto's default $SYS period; the counters do not
	// depend on it.
	sysInterval = 10 // seconds
)

// ErrServing is returned by Serve on a Server that is already serving.
var ErrServing = errors.New("broker: already serving")

// Server is the embedded broker. The zero value is ready to use. Anyone who
// can reach its address may connect, subscribe and publish: keep it on
// loopback, or point the agent at a broker with authentication. Fields
// must not change once serving has started; a Server serves once.
type Server struct {
	// Logger receives start-up and shutdown reports and the broker's own
	// warnings and errors (at most a few a minute), never a line per
	// message. Default: discard.
	Logger *slog.Logger
	// MaxClients caps open connections; one more is closed at once and
	// counted. Default DefaultMaxClients.
	MaxClients int

	// connectTimeout overrides the package's, for tests.
	connectTimeout time.Duration

	broker atomic.Pointer[mochi.Server]
	stats  stats
}

// stats are the counters the broker does not keep itself.
type stats struct {
	clientsTotal    atomic.Uint64
	rejectConnLimit atomic.Uint64
	rejectAcceptErr atomic.Uint64
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) maxClients() int {
	if s.MaxClients > 0 {
		return s.MaxClients
	}
	return DefaultMaxClients
}

// Serve runs the broker on connections accepted from ln until ctx ends,
// then disconnects every client, closes ln and returns nil once the broker
// has stopped. The caller binds ln, so it can report a bad address itself.
// Any other return is a failure to start or to accept.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.logger()
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClients = int64(s.maxClients())
	caps.MaximumPacketSize = MaxPacketSize
	caps.MaximumSessionExpiryInterval = uint32(MaxSessionExpiry / time.Second)
	// The library drops every retained message a day after it was
	// published. The agent publishes availability once per connection, so
	// a dashboard started a day later would see the device as unknown;
	// keep retained messages until they are replaced, as mosquitto does.
	// Messages that carry their own MQTT 5 expiry still expire.
	caps.MaximumMessageExpiryInterval = 0
	b := mochi.New(&mochi.Options{
		Capabilities:           caps,
		Logger:                 slog.New(newBrokerLog(log.Handler())),
		SysTopicResendInterval: sysInterval,
	})
	if !s.broker.CompareAndSwap(nil, b) {
		ln.Close()
		return ErrServing
	}
	timeout := connectTimeout
	if s.connectTimeout > 0 {
		timeout = s.connectTimeout
	}
	l := newListener(ln, s.maxClients(), timeout, &s.stats, log)
	err := b.AddHook(new(allowHook), nil)
	if err == nil {
		err = b.AddHook(new(retainGuard), nil)
	}
	if err == nil {
		err = b.AddHook(&statsHook{stats: &s.stats}, nil)
	}
	if err == nil {
		err = b.AddListener(l)
	}
	if err == nil {
		// Starts the listener's accept loop before it returns, so the
		// shutdown below always has a loop to wait for.
		err = b.Serve()
	}
	if err != nil {
		ln.Close()
		return fmt.Errorf("broker: start: %w", err)
	}
	log.Info("broker serving", "addr", ln.Addr().String(), "max_clients", s.maxClients())

	select {
	case <-ctx.Done():
	case err = <-l.failed:
		err = fmt.Errorf("broker: accept: %w", err)
	}
	s.disconnectAll(b, l)
	b.Close()
	log.Info("broker stopped")
	return err
}

// disconnectAll stops accepting, tells MQTT 5 clients the server is
// shutting down (3.1.1 has no DISCONNECT from a server), closes every
// connection and waits for their goroutines. After shutdownGrace,
// connections are closed under any write still blocked on a client that
// does not read.
func (s *Server) disconnectAll(b *mochi.Server, l *listener) {
	l.stopAccepting()
	sent := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTimer(shutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			l.closeConns()
		case <-sent:
		}
	})
	for _, cl := range b.Clients.GetAll() {
		if !cl.Closed() && cl.Properties.ProtocolVersion >= 5 {
			_ = b.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
	close(sent)
	wg.Wait()
	l.closeConns()
	l.wg.Wait()
}

// Counters returns the broker's counters: clients_connected,
// clients_total (sessions established since start), messages_received and
// messages_sent (PUBLISH packets), retained (messages held, the broker's
// own $SYS topics left out), subscriptions, and rejected_conn_limit and
// rejected_accept_error (connections refused).
func (s *Server) Counters() map[string]uint64 {
	m := map[string]uint64{
		"clients_connected":     0,
		"clients_total":         s.stats.clientsTotal.Load(),
		"messages_received":     0,
		"messages_sent":         0,
		"retained":              0,
		"subscriptions":         0,
		"rejected_conn_limit":   s.stats.rejectConnLimit.Load(),
		"rejected_accept_error": s.stats.rejectAcceptErr.Load(),
	}
	b := s.broker.Load()
	if b == nil {
		return m
	}
	info := b.Info.Clone()
	m["clients_connected"] = nonNegative(info.ClientsConnected)
	m["messages_received"] = nonNegative(info.MessagesReceived)
	m["messages_sent"] = nonNegative(info.MessagesSent)
	m["subscriptions"] = nonNegative(info.Subscriptions)
	// The broker's own retained count includes its $SYS topics, which
	// appear all at once and would read as twenty client messages.
	var retained uint64
	for topic := range b.Topics.Retained.GetAll() {
		if !strings.HasPrefix(topic, "$") {
			retained++
		}
	}
	m["retained"] = retained
	return m
}

func nonNegative(v int64) uint64 { return uint64(max(v, 0)) }

// allowHook lets every client connect, subscribe and publish, as the
// library's auth.AllowHook does; that package also brings a YAML parser
// for its rule files, which the agent has no use for.
type allowHook struct{ mochi.HookBase }

func (h *allowHook) ID() string { return "edge-agent-allow-all" }

func (h *allowHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowHook) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowHook) OnACLCheck(*mochi.Client, string, bool) bool { return true }

// statsHook counts sessions: the broker's own clients_total is a gauge of
// sessions it holds, refreshed once per $SYS period, not a running total.
type statsHook struct {
	mochi.HookBase
	stats *stats
}

func (h *statsHook) ID() string { return "edge-agent-stats" }

func (h *statsHook) Provides(b byte) bool { return b == mochi.OnSessionEstablished }

func (h *statsHook) OnSessionEstablished(*mochi.Client, packets.Packet) {
	h.stats.clientsTotal.Add(1)
}
