package echo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"edge-agent/transport/udpguard"
)

// datagramBuf holds the largest UDP payload (65,507 bytes over IPv4,
// 65,527 over IPv6). The seed servers read 1,024 bytes and silently cut the
// rest; this one returns every datagram whole.
const datagramBuf = 1 << 16

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
	buf := make([]byte, datagramBuf)
	for {
		n, src, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("echo: udp read: %w", err)
		}
		s.stats.datagramsIn.Add(1)
		s.stats.udpBytesIn.Add(uint64(n))
		switch guard.Check(src, time.Now()) {
		case udpguard.DenySourcePort:
			s.stats.rejectSourcePort.Add(1)
			continue
		case udpguard.DenyRate:
			s.stats.rejectRate.Add(1)
			continue
		}
		s.Mode.Apply(buf[:n])
		// A failed send (no route, buffer full) loses one reply, as UDP
		// may; it is not a reason to stop serving everyone else.
		if w, err := uc.WriteToUDPAddrPort(buf[:n], src); err == nil {
			s.stats.datagramsOut.Add(1)
			s.stats.udpBytesOut.Add(uint64(w))
		}
	}
}
