package udpguard

import (
	"net/netip"
	"testing"
	"time"
)

func TestServicePort(t *testing.T) {
	for _, tc := range []struct {
		port uint16
		want bool
	}{
		{0, true}, {7, true}, {13, true}, {19, true}, {37, true}, {53, true}, {123, true}, {1023, true},
		{1900, true}, {5353, true}, {11211, true},
		{1024, false}, {8081, false}, {32768, false}, {60999, false}, {65535, false},
	} {
		if got := ServicePort(tc.port); got != tc.want {
			t.Errorf("ServicePort(%d) = %v, want %v", tc.port, got, tc.want)
		}
	}
}

func TestGuardCheck(t *testing.T) {
	now := time.Unix(1000, 0)
	g := &Guard{Limiter: NewLimiter(1, 2, 0), OwnPorts: []uint16{8081}}
	src := netip.MustParseAddrPort("192.0.2.1:40000")
	for i, want := range []Verdict{Reply, Reply, DenyRate, DenyRate} {
		if got := g.Check(src, now); got != want {
			t.Errorf("datagram %d: %v, want %v", i, got, want)
		}
	}
	if got := g.Check(src, now.Add(time.Second)); got != Reply {
		t.Errorf("after a second: %v, want a refilled token", got)
	}
	// A refused port does not spend the source's budget.
	other := netip.MustParseAddr("192.0.2.2")
	for _, p := range []uint16{8081, 123, 0} {
		if got := g.Check(netip.AddrPortFrom(other, p), now); got != DenySourcePort {
			t.Errorf("port %d: %v, want %v", p, got, DenySourcePort)
		}
	}
	if got := g.Check(netip.AddrPortFrom(other, 50000), now); got != Reply {
		t.Errorf("first allowed datagram from a refused-port source: %v", got)
	}
	// An IPv4-mapped IPv6 source is the same source.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), 40000)
	if got := g.Check(mapped, now.Add(time.Second)); got != DenyRate {
		t.Errorf("mapped form of a limited source: %v, want %v", got, DenyRate)
	}
}

func TestZeroGuardLimitsNothing(t *testing.T) {
	var g Guard
	src := netip.MustParseAddrPort("[2001:db8::1]:40000")
	for range 1000 {
		if v := g.Check(src, time.Now()); v != Reply {
			t.Fatalf("zero Guard: %v", v)
		}
	}
	if NewLimiter(0, 10, 10) != nil {
		t.Error("rate 0 should mean no limiter")
	}
}

func TestLimiterTableStaysBoundedUnderSpoofedFlood(t *testing.T) {
	l := NewLimiter(10, 10, 1000)
	now := time.Unix(0, 0)
	for i := range 200000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(a, now)
		if n := l.Sources(); n > 1000 {
			t.Fatalf("after %d sources the table holds %d, over the 1000 bound", i+1, n)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Reply: "reply", DenySourcePort: "source_port", DenyRate: "rate_limit", 9: "unknown"} {
		if v.String() != want {
			t.Errorf("%d: %q", v, v.String())
		}
	}
}

// FuzzLimiter feeds arbitrary sources and clock steps: the table never
// exceeds its bound and a source never gets more than burst plus refill.
func FuzzLimiter(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 0, 0, 0, 0, 9}, uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		l := NewLimiter(2, 3, 8)
		now := time.Unix(0, 0)
		allowed := map[netip.Addr]int{}
		for i := 0; i+4 <= len(data); i += 4 {
			a := netip.AddrFrom4([4]byte(data[i : i+4]))
			if l.Allow(a, now) {
				allowed[a]++
			}
			now = now.Add(time.Duration(step) * time.Microsecond)
			if l.Sources() > 8 {
				t.Fatalf("table holds %d > 8", l.Sources())
			}
		}
		elapsed := now.Sub(time.Unix(0, 0)).Seconds()
		for a, n := range allowed {
			// Rotation can forget a source and hand it a fresh burst; each
			// rotation happens at most once per new source, so bound by
			// the datagrams sent instead when the table overflows.
			if len(allowed) <= 4 && float64(n) > 3+elapsed*2+0.001 {
				t.Fatalf("%v allowed %d in %.3fs", a, n, elapsed)
			}
		}
	})
}
