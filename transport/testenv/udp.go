package testenv

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// ServeUDP runs serve on a loopback UDP socket until the test ends, then
// checks that it returns nil within 5 seconds of its context ending. setup,
// if given, sees the port before serving starts.
func ServeUDP(t testing.TB, serve func(context.Context, net.PacketConn) error, setup ...func(port int)) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr)
	for _, f := range setup {
		f(addr.Port)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return within 5s of cancel")
		}
	})
	return addr
}

// DialUDP returns a client socket connected to srv, closed when the test ends.
func DialUDP(t testing.TB, srv *net.UDPAddr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// SendFrom sends payload to srv from a socket bound to from and reports
// whether a reply came back. read counts the datagrams the server has
// read; the reply is awaited only once it has moved, so "no reply" is
// known rather than guessed. Binding a port below 1024 without the
// privilege skips the test.
func SendFrom(t testing.TB, srv, from *net.UDPAddr, payload []byte, read func() uint64) (replied bool) {
	t.Helper()
	c, err := net.ListenUDP("udp", from)
	if err != nil {
		if from.Port != 0 && from.Port < 1024 && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
			t.Skipf("binding %v needs privilege: %v", from, err)
		}
		t.Fatal(err)
	}
	defer c.Close()
	before := read()
	if _, err := c.WriteToUDP(payload, srv); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the server to read the datagram", func() bool { return read() > before })
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, _, err = c.ReadFromUDP(make([]byte, 1<<16))
	return err == nil
}
