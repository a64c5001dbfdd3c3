package texttime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrRefused is wrapped by Query's error when the server answers with an
// error reply instead of the time.
var ErrRefused = errors.New("texttime: the server refused the format")

// errorPrefix starts every error reply of the service.
const errorPrefix = "error: "

// Query asks the text time server at addr (host:port) for the time in
// format, as the seed client does; an empty format asks for the server's
// default. An error reply comes back as ErrRefused with the server's
// words. A format that itself starts with "error: " is taken at its word,
// since its reply may start that way too.
func Query(ctx context.Context, addr, format string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", fmt.Errorf("texttime: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	if _, err := c.Write([]byte(format)); err != nil {
		return "", fmt.Errorf("texttime: send: %w", err)
	}
	// Read more than the service ever sends, so that a longer reply from
	// another server (the seed's has no bound) is not cut.
	buf := make([]byte, datagramBuf)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("texttime: receive: %w", err)
	}
	reply := string(buf[:n])
	if strings.HasPrefix(reply, errorPrefix) && !strings.HasPrefix(format, errorPrefix) {
		return reply, fmt.Errorf("%w: %s", ErrRefused, reply)
	}
	return reply, nil
}
