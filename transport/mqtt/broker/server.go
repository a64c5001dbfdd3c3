package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// DefaultMaxPacketSize bounds the memory one client can make the
	// broker allocate for a packet (twice: the library reads a packet
	// whole and copies it); status, discovery and serial-bridge messages
	// are far smaller.
	DefaultMaxPacketSize = 256 << 10
	// DefaultMaxRetained and DefaultMaxRetainedBytes bound the retained
	// messages: the agent keeps about a dozen (availability, state,
	// discovery), a few kilobytes each.
	DefaultMaxRetained      = 1000
	DefaultMaxRetainedBytes = 4 << 20
	// DefaultMaxQueuedBytes bounds the messages held for subscribers,
	// all clients together (queue.go).
	DefaultMaxQueuedBytes = 8 << 20
	// MaxSessionExpiry bounds how long a persistent session of a client
	// that never comes back is kept.
	MaxSessionExpiry = 24 * time.Hour

	// connectTimeout is how long a new connection may take to send
	// CONNECT; after that the keep-alive the client asked for applies.
	connectTimeout = 10 * time.Second
	// writeTimeout is how long one write to a client may block before
	// the client is taken for gone.
	writeTimeout = 30 * time.Second
	// shutdownGrace bounds the time spent telling clients the broker is
	// going away, so a client that does not read cannot hold Serve up.
	shutdownGrace = 500 * time.Millisecond
	// sysInterval is mosquitto's default $SYS period; the counters do not
	// depend on it.
	sysInterval = 10 // seconds
	// receiveMaximum bounds the QoS 2 messages a client may have in
	// flight towards the broker (each holds a small acknowledgement).
	receiveMaximum = 64
	// queueSlack is the room a client's write queue has besides the
	// retained messages one subscription may match, which are all queued
	// at once when it subscribes.
	queueSlack = 256
)

// ErrServing is returned by Serve on a Server that is already serving.
var ErrServing = errors.New("broker: already serving")

// Server is the embedded broker. The zero value is ready to use and lets
// anyone who can reach its address connect, subscribe and publish: keep
// it on loopback, or set Users. Fields must not change once serving has
// started; a Server serves once.
type Server struct {
	// Logger receives start-up and shutdown reports and the broker's own
	// warnings and errors (at most a few a minute), never a line per
	// message. Default: discard.
	Logger *slog.Logger
	// MaxClients caps open connections; one more is closed at once and
	// counted. Sessions kept for clients that are away are capped at as
	// many again. Default DefaultMaxClients.
	MaxClients int
	// MaxPacketSize is the largest packet read; a client sending a
	// larger one is disconnected. Default DefaultMaxPacketSize.
	MaxPacketSize int
	// MaxRetained and MaxRetainedBytes bound the retained messages (the
	// broker's own $SYS topics left out); a retained publish that would
	// go over is refused. Defaults DefaultMaxRetained and
	// DefaultMaxRetainedBytes.
	MaxRetained      int
	MaxRetainedBytes int64
	// MaxQueuedBytes bounds what is held for subscribers. Default
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int64
	// Users, when set, are the operators who may log in with a password
	// and publish anywhere. Without Users every client is anonymous.
	Users *Users
	// Anonymous lets clients without a user name in alongside Users.
	Anonymous bool
	// Agent, when set, reserves the agent's client id and protects its
	// topics from anonymous clients.
	Agent *Agent

	// connectTimeout and writeTimeout override the package's, for tests.
	connectTimeout, writeTimeout time.Duration

	broker atomic.Pointer[mochi.Server]
	retain atomic.Pointer[retainGuard]
	queue  atomic.Pointer[queue]
	stats  stats
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault[T ~int | ~int64](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

func (s *Server) maxClients() int    { return orDefault(s.MaxClients, DefaultMaxClients) }
func (s *Server) maxPacketSize() int { return orDefault(s.MaxPacketSize, DefaultMaxPacketSize) }
func (s *Server) maxRetained() int   { return orDefault(s.MaxRetained, DefaultMaxRetained) }

// queueLen is a client's write queue and the most QoS 1/2 messages it may
// leave unacknowledged: room for every retained message and some.
func (s *Server) queueLen() int { return min(s.maxRetained(), 60000) + queueSlack }

// Serve runs the broker on connections accepted from ln until ctx ends,
// then disconnects every client, closes ln and returns nil once the broker
// has stopped. The caller binds ln, so it can report a bad address itself.
// Any other return is a failure to start or to accept.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.logger()
	if a := s.Agent; a != nil && s.Users != nil && s.Users.Has(a.Username) {
		ln.Close()
		return fmt.Errorf("broker: the user name %q is the agent's own: take it out of the password file", a.Username)
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClients = int64(s.maxClients())
	caps.MaximumPacketSize = uint32(s.maxPacketSize())
	caps.MaximumSessionExpiryInterval = uint32(MaxSessionExpiry / time.Second)
	caps.MaximumClientWritesPending = int32(s.queueLen())
	caps.MaximumInflight = uint16(s.queueLen())
	caps.ReceiveMaximum = receiveMaximum
	caps.TopicAliasMaximum = 0
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
	l := newListener(ln, s.maxClients(), orDefault(s.connectTimeout, connectTimeout), orDefault(s.writeTimeout, writeTimeout), &s.stats, log)
	err := s.addHooks(b)
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
	log.Info("broker serving", "addr", ln.Addr().String(), "max_clients", s.maxClients(),
		"users", s.Users.count(), "anonymous", s.Users == nil || s.Anonymous)

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

// addHooks installs the broker's rules. The order matters where the
// library chains hooks: the retained bounds may refuse a PUBLISH before
// the queue registers it for delivery.
func (s *Server) addHooks(b *mochi.Server) error {
	auth := newAuthHook(s, b, 2*s.maxClients())
	q := newQueue(b, orDefault(s.MaxQueuedBytes, DefaultMaxQueuedBytes), s.queueLen(), &s.stats, func(cl *mochi.Client) string {
		r, _ := auth.roleOf(cl)
		return ownerOf(r, cl.Properties.Username)
	})
	auth.q = q
	g := &retainGuard{maxCount: s.maxRetained(), maxBytes: orDefault(s.MaxRetainedBytes, DefaultMaxRetainedBytes), stats: &s.stats}
	s.retain.Store(g)
	s.queue.Store(q)
	for _, h := range []mochi.Hook{
		auth,
		// Before the queue registers the new connection's session.
		&handoverHook{b: b},
		&aclHook{auth: auth, q: q, b: b, stats: &s.stats},
		g,
		q,
		&statsHook{stats: &s.stats},
	} {
		if err := b.AddHook(h, nil); err != nil {
			return err
		}
	}
	return nil
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
