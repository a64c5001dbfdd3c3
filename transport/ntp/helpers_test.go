package ntp

import (
	"context"
	"encoding/binary"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/ntp/protocol"
)

// fakeClock is a ClockSource whose state the test sets.
type fakeClock struct {
	mu sync.Mutex
	st ClockState
}

func (f *fakeClock) ClockState() (ClockState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

var (
	synced   = ClockState{Synchronised: true, MaxError: 5 * time.Millisecond, EstError: time.Millisecond}
	unsynced = ClockState{Synchronised: false, MaxError: 16 * time.Second, EstError: 16 * time.Second}
)

// start serves s on a loopback port until the test ends.
func start(t testing.TB, s *Server) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
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

// request builds a client request with the given first byte and transmit
// timestamp.
func request(first byte, xmt uint64) []byte {
	b := make([]byte, protocol.PacketSize)
	b[0] = first
	b[2] = 6 // poll
	binary.BigEndian.PutUint64(b[40:], xmt)
	return b
}

// exchange sends req from c and returns the reply, or nil after wait.
func exchange(t *testing.T, c *net.UDPConn, req []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func dial(t testing.TB, addr *net.UDPAddr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
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

// wrongBy matches chronyd -Q's report of the offset it measured.
var wrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9.e-]+) seconds`)
