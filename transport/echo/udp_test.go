package echo

import (
	"bytes"
	"net"
	"testing"
	"time"

	"edge-agent/transport/testenv"
	"edge-agent/transport/udpguard"
)

func TestUDPLargestDatagramComesBackWhole(t *testing.T) {
	s := &Server{}
	srv := startUDP(t, s)
	c, err := net.DialUDP("udp", nil, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{0, 1, 1024, 1025, 65507} {
		msg := bytes.Repeat([]byte("abc你"), size/6+1)[:size]
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		buf := make([]byte, 70000)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		want := bytes.Clone(msg)
		Upper.Apply(want)
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("%d bytes sent, %d came back (or differ)", size, n)
		}
	}
	// The server counts a reply after sending it.
	testenv.WaitFor(t, "udp_datagrams_out = 5", func() bool { return counter(s, "udp_datagrams_out")() == 5 })
}

// sendFrom sends a datagram from from and reports whether s answered.
func sendFrom(t *testing.T, s *Server, srv *net.UDPAddr, from *net.UDPAddr) (replied bool) {
	t.Helper()
	return testenv.SendFrom(t, srv, from, []byte("ping"), func() uint64 {
		return counter(s, "rejected_source_port")() + counter(s, "rejected_rate_limit")()
	})
}

func TestUDPRefusesServicePorts(t *testing.T) {
	s := &Server{Guard: &udpguard.Guard{}}
	srv := startUDP(t, s, func(port int) { s.Guard.OwnPorts = []uint16{uint16(port)} })
	testenv.CheckServicePorts(t, srv, func(from *net.UDPAddr) bool { return sendFrom(t, s, srv, from) })
	if got := counter(s, "rejected_source_port")(); got != 5 {
		t.Errorf("rejected_source_port = %d, want 5", got)
	}
}

func TestUDPRateLimitPerSource(t *testing.T) {
	// A rate so low that no token comes back during the test.
	s := &Server{Guard: &udpguard.Guard{Limiter: udpguard.NewLimiter(0.001, 3, 0)}}
	srv := startUDP(t, s)
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 10 {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, "10 datagrams read", func() bool { return counter(s, "udp_datagrams_in")() == 10 })
	if got := counter(s, "udp_datagrams_out")(); got != 3 {
		t.Errorf("udp_datagrams_out = %d, want the burst of 3", got)
	}
	if got := counter(s, "rejected_rate_limit")(); got != 7 {
		t.Errorf("rejected_rate_limit = %d, want 7", got)
	}
	// Another source has its own budget.
	if !sendFrom(t, s, srv, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 4)}) {
		t.Error("a second source was limited by the first one's use")
	}
}

func TestServePacketNeedsUDP(t *testing.T) {
	pc, err := net.ListenPacket("unixgram", t.TempDir()+"/sock")
	if err != nil {
		t.Skip(err)
	}
	defer pc.Close()
	if err := (&Server{}).ServePacket(t.Context(), pc); err != ErrNotUDP {
		t.Fatalf("got %v, want ErrNotUDP", err)
	}
}
