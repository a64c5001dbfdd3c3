package testenv

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ServeTCP runs serve on a loopback TCP listener (passed through wrap, if
// given) until stop is called or the test ends, then checks that it
// returns nil within 5 seconds of its context ending.
func ServeTCP(t testing.TB, serve func(context.Context, net.Listener) error, wrap ...func(net.Listener) net.Listener) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	for _, w := range wrap {
		l = w(l)
	}
	stop = Run(t, func(ctx context.Context) error { return serve(ctx, l) })
	return ln.Addr().String(), stop
}

// DialFrom connects to addr from the local address from (an IP address,
// the port chosen by the system) and closes the connection when the test
// ends.
func DialFrom(t testing.TB, from, addr string) net.Conn {
	t.Helper()
	return dialFrom(t, from, addr, 0)
}

// FloodFrom opens n connections from the local address from that each
// send up to size bytes and never read: peers that make a server hold
// what it cannot send back. The writers stop at the first error (the
// server closed the connection) and when the test ends. With sockbuf > 0
// each connection's own send and receive buffers are kept that small, as
// a hostile peer's may be: left to grow, thousands of them would fill
// the machine's TCP memory (tcp_mem).
func FloodFrom(t testing.TB, from, addr string, n, size, sockbuf int) {
	t.Helper()
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	chunk := make([]byte, 64<<10)
	for range n {
		c := dialFrom(t, from, addr, sockbuf)
		conns = append(conns, c)
		wg.Go(func() {
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		})
	}
}

func dialFrom(t testing.TB, from, addr string, sockbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second,
		Control: socketBuffers(sockbuf, sockbuf)}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// socketBuffers is a net.Dialer Control that sets the socket's receive
// and send buffers to rcvbuf and sndbuf bytes, each if above 0, before it
// connects: the window a peer is offered then fits from the start.
func socketBuffers(rcvbuf, sndbuf int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			if rcvbuf > 0 {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}
			if sndbuf > 0 {
				serr = errors.Join(serr, syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, sndbuf))
			}
		}); err != nil {
			return err
		}
		return serr
	}
}
