package echo

import (
	"net"
	"testing"

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

// startTCP serves s on a loopback port until the test ends.
func startTCP(t *testing.T, s *Server, portable bool) (addr string, stop func()) {
	t.Helper()
	if portable {
		return testenv.ServeTCP(t, s.Serve, func(l net.Listener) net.Listener { return plainListener{l} })
	}
	return testenv.ServeTCP(t, s.Serve)
}

// startUDP serves s on a loopback port until the test ends.
func startUDP(t *testing.T, s *Server, setup ...func(port int)) *net.UDPAddr {
	return testenv.ServeUDP(t, s.ServePacket, setup...)
}

func counter(s *Server, name string) func() uint64 {
	return func() uint64 { return s.Counters()[name] }
}
