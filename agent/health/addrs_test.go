package health

import (
	"net"
	"net/netip"
	"reflect"
	"testing"
)

func TestPrefixOf(t *testing.T) {
	for _, tt := range []struct {
		in   net.Addr
		want string
	}{
		{&net.IPNet{IP: net.IPv4(192, 168, 1, 20).To4(), Mask: net.CIDRMask(24, 32)}, "192.168.1.20/24"},
		// The 16-byte forms net sometimes hands back for IPv4.
		{&net.IPNet{IP: net.IPv4(192, 168, 1, 20), Mask: net.CIDRMask(24, 32)}, "192.168.1.20/24"},
		{&net.IPNet{IP: net.IPv4(10, 0, 0, 5), Mask: net.CIDRMask(96+16, 128)}, "10.0.0.5/16"},
		{&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)}, "fe80::1/64"},
		{&net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(128, 128)}, "2001:db8::5/128"},
		{&net.IPNet{IP: net.IP{1, 2, 3}, Mask: net.CIDRMask(24, 32)}, ""},
		{&net.IPNet{IP: net.IPv4(1, 2, 3, 4).To4(), Mask: net.IPMask{255, 0, 255, 0}}, ""}, // non-canonical mask
		{&net.IPAddr{IP: net.IPv4(1, 2, 3, 4)}, ""},
	} {
		p, ok := prefixOf(tt.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("prefixOf(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSortAddrs(t *testing.T) {
	p := netip.MustParsePrefix
	got := []netip.Prefix{p("fe80::1/64"), p("192.168.1.20/24"), p("fd00::20/64"), p("10.0.0.1/8")}
	sortAddrs(got)
	want := []netip.Prefix{p("192.168.1.20/24"), p("10.0.0.1/8"), p("fe80::1/64"), p("fd00::20/64")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sortAddrs = %v, want %v", got, want)
	}
}

// The loopback interface is always there and always has 127.0.0.1, where
// the kernel can be asked at all.
func TestKernelAddrs(t *testing.T) {
	m, err := kernelAddrs()
	if err != nil {
		t.Skipf("no interface list here: %v", err)
	}
	for name, ps := range m {
		if ps == nil {
			t.Errorf("%s: nil address list", name)
		}
		for _, p := range ps {
			if !p.IsValid() || p.Addr().Is4In6() {
				t.Errorf("%s: address %v", name, p)
			}
		}
	}
	if lo, ok := m["lo"]; ok && len(lo) > 0 && lo[0] != netip.MustParsePrefix("127.0.0.1/8") {
		t.Errorf("lo's first address = %v, want 127.0.0.1/8", lo[0])
	}
}

// Addresses that cannot be listed leave the counters intact.
func TestCollectWithoutAddrs(t *testing.T) {
	c := fakeCollector("rpi4")
	c.Addrs = failingAddrs
	s, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Network) != 2 || s.Network[0].RxBytes != 183495821 || len(s.Network[0].Addresses) != 0 || s.Network[0].Addresses == nil {
		t.Errorf("Network = %+v", s.Network)
	}
}
