package broker

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// listenerID names the one listener; the broker files clients under it.
const listenerID = "edge-agent"

// listener hands the broker connections from a listener the agent has
// already bound. The library's own listeners.Net takes a bound listener
// too, but does not track connections that have not yet sent CONNECT (so
// the broker's shutdown waits forever on one that never does), neither
// caps nor times them out, and logs a warning for every connection that
// ends with an error.
type listener struct {
	ln             net.Listener
	max            int
	connectTimeout time.Duration
	writeTimeout   time.Duration
	stats          *stats
	log            *slog.Logger

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool

	wg     sync.WaitGroup // one per connection handed to the broker
	stop   chan struct{}  // closed when shutdown begins
	done   chan struct{}  // closed when the accept loop has returned
	failed chan error     // the accept error that ended the loop, if any
	once   sync.Once      // for stop
}

var _ listeners.Listener = (*listener)(nil)

func newListener(ln net.Listener, maxConns int, connectTimeout, writeTimeout time.Duration, st *stats, log *slog.Logger) *listener {
	return &listener{
		ln:             ln,
		max:            maxConns,
		connectTimeout: connectTimeout,
		writeTimeout:   writeTimeout,
		stats:          st,
		log:            log,
		conns:          make(map[net.Conn]struct{}),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
		failed:         make(chan error, 1),
	}
}

func (l *listener) ID() string                { return listenerID }
func (l *listener) Address() string           { return l.ln.Addr().String() }
func (l *listener) Protocol() string          { return l.ln.Addr().Network() }
func (l *listener) Init(_ *slog.Logger) error { return nil }

// Serve accepts until the listener is closed or fails; a failure is
// passed on to Server.Serve, which stops the broker.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer close(l.done)
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.stopping() || errors.Is(err, net.ErrClosed) {
				return
			}
			if temporaryAccept(err) {
				// Out of file descriptors and the like: back off
				// instead of spinning, as net/http does.
				l.stats.rejectAcceptErr.Add(1)
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-l.stop:
					t.Stop()
				}
				continue
			}
			l.failed <- err
			return
		}
		delay = 0
		if !l.track(c) {
			c.Close()
			continue
		}
		// The broker sets the client's keep-alive deadline once CONNECT
		// has arrived; until then nothing would ever time the read out.
		_ = c.SetDeadline(time.Now().Add(l.connectTimeout))
		l.wg.Go(func() {
			defer l.untrack(c)
			err := establish(listenerID, &timedConn{Conn: c, writeTimeout: l.writeTimeout, stats: l.stats})
			if errors.Is(err, packets.ErrPacketTooLarge) {
				l.stats.rejectPacketSize.Add(1)
			}
			if err != nil {
				// A client going away ends here too: not worth a
				// warning, and it would be one line per connection.
				l.log.Debug("broker connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		})
	}
}

func (l *listener) stopping() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// track registers c, or refuses it over the cap or during shutdown.
func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	if len(l.conns) >= l.max {
		l.stats.rejectConnLimit.Add(1)
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

// stopAccepting closes the listener and returns once the accept loop has
// ended, so no connection is added afterwards.
func (l *listener) stopAccepting() {
	l.once.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		close(l.stop)
		l.ln.Close()
	})
	<-l.done
}

// closeConns closes every connection, which ends its goroutine.
func (l *listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// Close is the broker's own shutdown of the listener, which Server.Serve
// has already carried out. It does not call closeClients: the library's
// version takes its client table's read lock twice, and deadlocks if a
// client is being removed at that moment.
func (l *listener) Close(listeners.CloseFn) {
	l.stopAccepting()
	l.closeConns()
	l.wg.Wait()
}

func temporaryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// timedConn bounds each write. The broker sets one deadline for reads
// and writes from the client's keep-alive, and a client with keep-alive 0
// has none: a subscriber that stopped reading would hold its writer, and
// the packet being written, for good. Here the broker's deadlines apply
// to reads only, and a write that does not finish within writeTimeout
// closes the connection (a write cut short has broken the stream anyway).
type timedConn struct {
	net.Conn
	writeTimeout time.Duration
	stats        *stats
}

func (c *timedConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

func (c *timedConn) SetWriteDeadline(time.Time) error { return nil }

func (c *timedConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	n, err := c.Conn.Write(b)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.stats.disconnectedSlow.Add(1)
		}
		c.Conn.Close()
	}
	return n, err
}
