package echo

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"edge-agent/transport/udpguard"
)

// Defaults used where a Server field is zero.
const (
	DefaultMaxConns    = 10000
	DefaultIdleTimeout = 5 * time.Minute
)

// Server is the echo service. The zero value is ready to use: upper mode,
// DefaultMaxConns, DefaultIdleTimeout, no UDP rate limit. Fields must not
// change once serving has started.
type Server struct {
	// Mode is the transformation; default Upper.
	Mode Mode
	// MaxConns caps open TCP connections; a connection over the cap is
	// closed at once and counted. Default DefaultMaxConns.
	MaxConns int
	// IdleTimeout closes a TCP connection that has sent nothing for this
	// long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Guard decides which UDP datagrams are answered. Nil refuses service
	// source ports and limits nothing.
	Guard *udpguard.Guard
	// Logger receives start-up, shutdown and error reports, never one line
	// per connection or datagram. Default: discard.
	Logger *slog.Logger

	stats stats
}

// ErrNotUDP is returned by ServePacket for a PacketConn that is not UDP.
var ErrNotUDP = errors.New("echo: ServePacket needs a *net.UDPConn")

func (s *Server) maxConns() int64 {
	if s.MaxConns > 0 {
		return int64(s.MaxConns)
	}
	return DefaultMaxConns
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

// admit counts a new connection and reports whether it fits under the cap.
func (s *Server) admit() bool {
	if s.stats.connsActive.Add(1) > s.maxConns() {
		s.stats.connsActive.Add(-1)
		s.stats.rejectConnLimit.Add(1)
		return false
	}
	s.stats.connsTotal.Add(1)
	return true
}
