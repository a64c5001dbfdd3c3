package peer

import (
	"net"
	"net/netip"
	"testing"
)

func TestKeyOf(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
		// Privacy addresses of one host rotate inside its /64.
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:bbbb:cccc:dddd:eeee", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"fe80::1%eth0", "fe80::2%eth1", true},
		{"::1", "::2", true},
	} {
		ka, kb := KeyOf(netip.MustParseAddr(tc.a)), KeyOf(netip.MustParseAddr(tc.b))
		if (ka == kb) != tc.same {
			t.Errorf("KeyOf(%s) = %v, KeyOf(%s) = %v: same = %v, want %v", tc.a, ka, tc.b, kb, ka == kb, tc.same)
		}
	}
	if got := KeyOf(netip.MustParseAddr("2001:db8::5")).String(); got != "2001:db8::/64" {
		t.Errorf("String = %q", got)
	}
	if got := KeyOf(netip.MustParseAddr("::ffff:10.1.2.3")).String(); got != "10.1.2.3" {
		t.Errorf("String = %q", got)
	}
	if got := KeyOf(netip.Addr{}); got != (Key{}) || got.String() != "unknown" {
		t.Errorf("invalid address: %v", got)
	}
}

func TestKeyOfAddr(t *testing.T) {
	tcp := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}
	udp := &net.UDPAddr{IP: net.ParseIP("2001:db8::ffff"), Port: 2}
	if KeyOfAddr(tcp) != KeyOfAddr(udp) {
		t.Errorf("TCP %v and UDP %v in one /64 differ", KeyOfAddr(tcp), KeyOfAddr(udp))
	}
	if k := KeyOfAddr(&net.UnixAddr{Name: "/x", Net: "unix"}); k != (Key{}) {
		t.Errorf("unix address: %v", k)
	}
	if k := KeyOfAddr(nil); k != (Key{}) {
		t.Errorf("nil address: %v", k)
	}
}

func TestCounter(t *testing.T) {
	var c Counter
	k := KeyOf(netip.MustParseAddr("2001:db8::1"))
	other := KeyOf(netip.MustParseAddr("2001:db8::2")) // the same /64
	if !c.Acquire(k, 2) || !c.Acquire(other, 2) {
		t.Fatal("refused under the cap")
	}
	if c.Acquire(k, 2) {
		t.Fatal("a third from one /64 admitted with a cap of 2")
	}
	if !c.Acquire(KeyOf(netip.MustParseAddr("192.0.2.1")), 2) {
		t.Fatal("another source refused")
	}
	c.Release(k)
	if c.Held(k) != 1 || !c.Acquire(k, 2) {
		t.Fatal("a released place not given again")
	}
	c.Release(k)
	c.Release(k)
	c.Release(KeyOf(netip.MustParseAddr("192.0.2.1")))
	if c.Sources() != 0 {
		t.Fatalf("%d sources left after every release", c.Sources())
	}
	if first, second := c.Acquire(k, 0), c.Acquire(k, 0); !first || !second {
		t.Fatal("max 0 should not cap")
	}
}
