package ntp

import (
	"encoding/binary"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/ntp/protocol"
	"edge-agent/transport/testenv"
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
func start(t testing.TB, s *Server) *net.UDPAddr { return testenv.ServeUDP(t, s.ServePacket) }

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

func dial(t testing.TB, addr *net.UDPAddr) *net.UDPConn { return testenv.DialUDP(t, addr) }

// wrongBy matches chronyd -Q's report of the offset it measured.
var wrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9.e-]+) seconds`)
