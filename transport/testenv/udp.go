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
	Run(t, func(ctx context.Context) error { return serve(ctx, pc) })
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
// whether a reply came back. refused counts the datagrams the server has
// decided not to answer: the wait ends with a reply or with that count
// moving, so "no reply" is known rather than guessed from a timeout.
// Binding a port below 1024 without the privilege skips the test.
func SendFrom(t testing.TB, srv, from *net.UDPAddr, payload []byte, refused func() uint64) (replied bool) {
	t.Helper()
	c, err := net.ListenUDP("udp", from)
	if err != nil {
		if from.Port != 0 && from.Port < 1024 && (errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
			t.Skipf("binding %v needs privilege: %v", from, err)
		}
		t.Fatal(err)
	}
	defer c.Close()
	before := refused()
	if _, err := c.WriteToUDP(payload, srv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, _, err := c.ReadFromUDP(buf); err == nil {
			return true
		}
		if refused() > before {
			return false
		}
	}
	t.Fatalf("from %v: neither a reply nor a refusal within 10s", from)
	return false
}

// CheckServicePorts checks what every guarded UDP service at srv must do:
// no reply to its own port on another address (another agent), none to
// well-known service ports, a reply to an ephemeral port. replied sends
// from an address and says whether an answer came.
func CheckServicePorts(t *testing.T, srv *net.UDPAddr, replied func(from *net.UDPAddr) bool) {
	t.Helper()
	if replied(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: srv.Port}) {
		t.Error("answered a datagram from the service's own port on another address")
	}
	if !replied(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) {
		t.Error("no reply to an ephemeral port")
	}
	for _, p := range []int{7, 19, 37, 123} {
		if replied(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: p}) {
			t.Errorf("answered a datagram from port %d", p)
		}
	}
}
