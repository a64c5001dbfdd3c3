//go:build !linux

package ntp

import (
	"context"
	"fmt"
	"net"
	"time"

	"edge-agent/transport/ntp/protocol"
)

// serve is the portable server: one datagram at a time, stamped in user
// space on arrival.
func (s *Server) serve(ctx context.Context, uc *net.UDPConn, r *responder) error {
	buf := make([]byte, 512)
	out := make([]byte, protocol.PacketSize)
	for {
		n, src, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ntp: %w", err)
		}
		s.stats.userStamps.Add(1)
		now := time.Now()
		if !r.answer(buf[:n], src, now, now, out) {
			continue
		}
		stampTransmit(out, time.Now())
		if _, err := uc.WriteToUDPAddrPort(out, src); err != nil {
			s.stats.sendErrors.Add(1)
		}
	}
}
