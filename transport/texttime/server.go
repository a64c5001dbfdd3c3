package texttime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"edge-agent/transport/udpguard"
)

// Server is the text time service. The zero value is ready to use: local
// time, service ports refused, no rate limit. Fields must not change once
// serving has started.
type Server struct {
	// Location is the zone replies are given in; default time.Local, the
	// zone Python's time.localtime uses.
	Location *time.Location
	// Guard decides which datagrams are answered. Nil refuses service
	// source ports and limits nothing.
	Guard *udpguard.Guard
	// Logger receives start-up, shutdown and error reports, never one line
	// per datagram. Default: discard.
	Logger *slog.Logger
	// Now is the clock replies show; default time.Now. The guard's rate
	// limit always runs on time.Now.
	Now func() time.Time

	stats stats
}

// ErrNotUDP is returned by ServePacket for a PacketConn that is not UDP.
var ErrNotUDP = errors.New("texttime: ServePacket needs a *net.UDPConn")

// datagramBuf holds the largest UDP payload, so that a request is never
// cut and its length, which bounds the reply, is the length sent.
const datagramBuf = 1 << 16

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ServePacket answers each datagram on pc with one datagram until ctx
// ends, then closes pc and returns nil.
func (s *Server) ServePacket(ctx context.Context, pc net.PacketConn) error {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return ErrNotUDP
	}
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	defer pc.Close()

	guard := s.Guard
	if guard == nil {
		guard = &udpguard.Guard{}
	}
	loc := s.Location
	if loc == nil {
		loc = time.Local
	}
	// The zone is the one setting a device can get wrong without any
	// other sign (no TZ, no /etc/localtime), so it is worth a line.
	log := s.logger()
	log.Debug("text time serving", "zone", loc.String())
	defer func() {
		log.Debug("text time stopped", "requests", s.stats.requests.Load(), "replies", s.stats.replies.Load())
	}()

	buf := make([]byte, datagramBuf)
	reply := make([]byte, 0, MaxReply)
	for {
		n, src, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("texttime: udp read: %w", err)
		}
		// Each count before the one it belongs to, so that whoever sees
		// a request or reply counted also sees its bytes.
		s.stats.bytesIn.Add(uint64(n))
		s.stats.requests.Add(1)
		now := time.Now()
		switch guard.Check(src, now) {
		case udpguard.DenySourcePort:
			s.stats.rejectSourcePort.Add(1)
			continue
		case udpguard.DenyRate:
			s.stats.rejectRate.Add(1)
			continue
		}
		if s.Now != nil {
			now = s.Now()
		}
		var o outcome
		reply, o = appendReply(reply[:0], buf[:n], now.In(loc))
		s.stats.count(o)
		// A failed send (no route, buffer full) loses one reply, as UDP
		// may; it is not a reason to stop serving everyone else.
		if w, err := uc.WriteToUDPAddrPort(reply, src); err == nil {
			s.stats.bytesOut.Add(uint64(w))
			s.stats.replies.Add(1)
		}
	}
}
