package echo

import (
	"context"
	"net"
	"testing"
	"time"
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

// startUDP serves s on a loopback port until the test ends. setup, if
// given, sees the port before serving starts.
func startUDP(t *testing.T, s *Server, setup ...func(port int)) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(pc.LocalAddr().(*net.UDPAddr).Port)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServePacket(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServePacket: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServePacket did not return within 5s of cancel")
		}
	})
	return pc.LocalAddr().(*net.UDPAddr)
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func counter(s *Server, name string) func() uint64 {
	return func() uint64 { return s.Counters()[name] }
}
