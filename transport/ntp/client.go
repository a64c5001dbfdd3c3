package ntp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"edge-agent/transport/ntp/protocol"
)

// Response is a server's answer to Query, with what the client measured.
type Response struct {
	protocol.Packet
	// Offset is how far the local clock is behind the server's
	// (positive: the server is ahead).
	Offset time.Duration
	// Delay is the round trip minus the server's own processing time.
	Delay time.Duration
}

// ErrUnsynchronised is returned (with the Response) when the server says
// its clock must not be followed: leap 3, or stratum 0 without a kiss.
var ErrUnsynchronised = errors.New("ntp: server clock is not synchronised")

// KissError is a kiss-o'-death from the server.
type KissError struct{ Code string }

func (e *KissError) Error() string { return "ntp: kiss-o'-death " + e.Code }

// Query sends one SNTP request to addr (host:port) and waits for the reply
// until ctx ends. The request carries a random transmit timestamp, as RFC
// 9109 advises, and the reply must return it as origin.
func Query(ctx context.Context, addr string) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ntp: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	req := make([]byte, protocol.PacketSize)
	req[0] = 4<<3 | byte(protocol.ModeClient)
	rand.Read(req[40:])
	cookie := binary.BigEndian.Uint64(req[40:])
	t1 := time.Now()
	if _, err := c.Write(req); err != nil {
		return nil, fmt.Errorf("ntp: send: %w", err)
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		t4 := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ntp: no reply from %s: %w", addr, ctx.Err())
			}
			return nil, fmt.Errorf("ntp: receive: %w", err)
		}
		var r Response
		if r.Unmarshal(buf[:n]) != nil || r.Mode != protocol.ModeServer || uint64(r.OriginTime) != cookie {
			continue // not the answer to this request
		}
		t2, t3 := r.ReceiveTime.Time(), r.TransmitTime.Time()
		r.Offset = (t2.Sub(t1) + t3.Sub(t4)) / 2
		r.Delay = t4.Sub(t1) - t3.Sub(t2)
		switch {
		case r.Stratum == 0 && r.ReferenceID != 0:
			return &r, &KissError{Code: protocol.RefIDString(r.ReferenceID, 0)}
		case r.Leap == protocol.LeapNotInSync || r.Stratum == 0:
			return &r, ErrUnsynchronised
		}
		return &r, nil
	}
}
