package echo

import (
	"context"
	"net"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// plainListener hides the socket behind ln so Serve takes the portable
// goroutine-per-connection path.
type plainListener struct{ net.Listener }

// implementations runs f against both TCP servers.
func implementations(t *testing.T, f func(t *testing.T, portable bool)) {
	t.Run("epoll", func(t *testing.T) { f(t, false) })
	t.Run("portable", func(t *testing.T) { f(t, true) })
}

// startTCP serves s on a loopback port until the test ends and checks that
// Serve returns promptly and cleanly then.
func startTCP(t *testing.T, s *Server, portable bool) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	if portable {
		l = plainListener{ln}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5s of cancel")
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// startUDP serves s on a loopback port until the test ends.
func startUDP(t *testing.T, s *Server, setup ...func(port int)) *net.UDPAddr {
	return testenv.ServeUDP(t, s.ServePacket, setup...)
}

func counter(s *Server, name string) func() uint64 {
	return func() uint64 { return s.Counters()[name] }
}
