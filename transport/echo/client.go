package echo

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Exchange sends msg to an echo server and returns the reply. Over "tcp"
// it sends msg, half-closes and reads until the server closes, so the whole
// reply arrives however the stream was cut; over "udp" it sends one
// datagram and reads one.
func Exchange(ctx context.Context, network, addr string, msg []byte) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	if _, err := c.Write(msg); err != nil {
		return nil, fmt.Errorf("echo: send: %w", err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		reply, err := io.ReadAll(c)
		if err != nil {
			return reply, fmt.Errorf("echo: receive: %w", err)
		}
		return reply, nil
	}
	buf := make([]byte, datagramBuf)
	n, err := c.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("echo: receive: %w", err)
	}
	return buf[:n], nil
}
