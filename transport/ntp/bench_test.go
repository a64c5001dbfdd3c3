package ntp

import (
	"net/netip"
	"testing"
	"time"

	"edge-agent/transport/udpguard"
)

// The per-request path allocates nothing: parsing, the rate check for a
// known source, building the reply.
func TestAnswerDoesNotAllocate(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}, Limiter: udpguard.NewLimiter(1e9, 1e9, 0)}
	r := s.newResponder()
	req, out := request(0x23, 42), make([]byte, 48)
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	now := time.Now()
	r.answer(req, src, now, now, out)
	if n := testing.AllocsPerRun(1000, func() {
		r.answer(req, src, now, now, out)
		stampTransmit(out, now)
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func BenchmarkAnswer(b *testing.B) {
	s := &Server{Clock: &fakeClock{st: synced}, Limiter: udpguard.NewLimiter(1e9, 1e9, 0)}
	r := s.newResponder()
	req, out := request(0x23, 42), make([]byte, 48)
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		r.answer(req, src, now, now, out)
		stampTransmit(out, now)
	}
}

// BenchmarkRoundTrip is one request and its reply over loopback, client
// and server in this process.
func BenchmarkRoundTrip(b *testing.B) {
	s := &Server{Clock: &fakeClock{st: synced}}
	addr := start(b, s)
	c := dial(b, addr)
	req, buf := request(0x23, 42), make([]byte, 128)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
