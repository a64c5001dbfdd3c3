package health

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
)

// InterfaceAddrs lists the addresses of every network interface by name.
type InterfaceAddrs func() (map[string][]netip.Prefix, error)

// kernelAddrs asks the kernel over netlink: there is no file in /proc for
// IPv4 addresses.
func kernelAddrs() (map[string][]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m := make(map[string][]netip.Prefix, len(ifs))
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			// An interface that went away between the two questions has
			// no addresses to report.
			continue
		}
		ps := make([]netip.Prefix, 0, len(addrs))
		for _, a := range addrs {
			if p, ok := prefixOf(a); ok {
				ps = append(ps, p)
			}
		}
		sortAddrs(ps)
		m[ifi.Name] = ps
	}
	return m, nil
}

// prefixOf is a's address with its prefix length, the host part kept:
// the address is what an operator looks for.
func prefixOf(a net.Addr) (netip.Prefix, bool) {
	ipn, ok := a.(*net.IPNet)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, bits := ipn.Mask.Size()
	if bits == 0 { // a mask that is not a prefix length
		return netip.Prefix{}, false
	}
	if ip.Is4() && bits == 8*net.IPv6len {
		ones -= 8 * (net.IPv6len - net.IPv4len)
	}
	p := netip.PrefixFrom(ip, ones)
	return p, p.IsValid()
}

// sortAddrs puts IPv4 addresses first, the kernel's order kept within each
// family: most dashboards show only the first.
func sortAddrs(ps []netip.Prefix) {
	slices.SortStableFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Compare(a.Addr().BitLen(), b.Addr().BitLen())
	})
}
