package echo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"edge-agent/transport/peer"
	"edge-agent/transport/udpguard"
)

// Defaults used where a Server field is zero.
const (
	DefaultMaxConns          = 10000
	DefaultMaxConnsPerSource = 64
	DefaultMaxPending        = 16 << 20
	DefaultIdleTimeout       = 5 * time.Minute
)

// ReadSize is the most one read takes from a connection, and so the most
// the server holds for one peer that does not read its replies. A
// MaxPending below it would close any peer whose reply did not fit its
// socket at once.
const ReadSize = 32 << 10

// SocketBuffer is the size set for each TCP connection's kernel send and
// receive buffers (SO_SNDBUF, SO_RCVBUF; Linux doubles it for its own
// bookkeeping). Left alone, Linux grows a send buffer up to
// net.ipv4.tcp_wmem's maximum (4 MiB by default) for a peer that does not
// read, and a receive buffer up to tcp_rmem's for one that first reads
// fast: memory a peer could make the device hold per connection, beyond
// any cap of the server's. An echo needs no more than a LAN's
// bandwidth-delay product.
const SocketBuffer = 32 << 10

// Server is the echo service. The zero value is ready to use: upper mode,
// DefaultMaxConns, DefaultMaxConnsPerSource, DefaultMaxPending,
// DefaultIdleTimeout, no UDP rate limit. Fields must not change once
// serving has started.
type Server struct {
	// Mode is the transformation; default Upper.
	Mode Mode
	// MaxConns caps open TCP connections; a connection over the cap is
	// closed at once and counted. Default DefaultMaxConns.
	MaxConns int
	// MaxConnsPerSource caps open TCP connections from one source (an
	// IPv4 address, an IPv6 /64: see peer.KeyOf); one more is closed at
	// once and counted. Default DefaultMaxConnsPerSource.
	MaxConnsPerSource int
	// MaxPending caps the reply bytes held, over all TCP connections, for
	// peers that do not read them; past it the connection that holds the
	// most is closed and counted. Default DefaultMaxPending.
	MaxPending int64
	// IdleTimeout closes a TCP connection that has sent nothing for this
	// long, or has not taken a reply held for it (it is not read
	// meanwhile). Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Guard decides which UDP datagrams are answered. Nil refuses service
	// source ports and limits nothing.
	Guard *udpguard.Guard
	// Logger receives start-up, shutdown and error reports, never one line
	// per connection or datagram. Default: discard.
	Logger *slog.Logger

	stats   stats
	sources peer.Counter
}

// ErrNotUDP is returned by ServePacket for a PacketConn that is not UDP.
var ErrNotUDP = errors.New("echo: ServePacket needs a *net.UDPConn")

func (s *Server) maxConns() int64 {
	if s.MaxConns > 0 {
		return int64(s.MaxConns)
	}
	return DefaultMaxConns
}

func (s *Server) maxConnsPerSource() int {
	if s.MaxConnsPerSource > 0 {
		return s.MaxConnsPerSource
	}
	return DefaultMaxConnsPerSource
}

func (s *Server) maxPending() int64 {
	if s.MaxPending > 0 {
		return s.MaxPending
	}
	return DefaultMaxPending
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Serve echoes on every connection accepted from ln until ctx ends, then
// closes ln and every connection and returns nil once all its goroutines
// have finished. Any other return is an accept failure.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	err := s.serveTCP(ctx, ln)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// admit counts a new connection from src and reports whether it fits
// under the caps; one that does is given back with drop.
func (s *Server) admit(src peer.Key) bool {
	if s.stats.connsActive.Add(1) > s.maxConns() {
		s.stats.connsActive.Add(-1)
		s.stats.rejectConnLimit.Add(1)
		return false
	}
	if !s.sources.Acquire(src, s.maxConnsPerSource()) {
		s.stats.connsActive.Add(-1)
		s.stats.rejectSourceLimit.Add(1)
		return false
	}
	s.stats.connsTotal.Add(1)
	return true
}

// drop gives back what admit counted for a connection from src.
func (s *Server) drop(src peer.Key) {
	s.sources.Release(src)
	s.stats.connsActive.Add(-1)
}
