package peer

import (
	"net"
	"net/netip"
	"sync"
)

// Key is the source a per-source limit counts: an IPv4 address (an
// IPv4-mapped IPv6 address is read as IPv4), or the /64 an IPv6 address
// lies in. The zero Key stands for an address that could not be read.
type Key struct{ p netip.Prefix }

// KeyOf returns the Key of addr.
func KeyOf(addr netip.Addr) Key {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return Key{}
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.WithZone("").Prefix(bits)
	return Key{p}
}

// KeyOfAddr returns the Key of a connection's or datagram's address
// (*net.TCPAddr, *net.UDPAddr, or anything whose String is host:port).
func KeyOfAddr(a net.Addr) Key {
	switch a := a.(type) {
	case *net.TCPAddr:
		return KeyOf(a.AddrPort().Addr())
	case *net.UDPAddr:
		return KeyOf(a.AddrPort().Addr())
	case nil:
		return Key{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return Key{}
	}
	return KeyOf(ap.Addr())
}

// String is the address (IPv4) or the prefix (IPv6), "unknown" for the
// zero Key.
func (k Key) String() string {
	switch {
	case !k.p.IsValid():
		return "unknown"
	case k.p.Addr().Is4():
		return k.p.Addr().String()
	}
	return k.p.String()
}

// Counter counts what each source holds (open connections) against a
// per-source cap. The table holds only sources that hold something, so
// its size is bounded by what the caller admits in all. The zero value is
// ready to use.
type Counter struct {
	mu sync.Mutex
	n  map[Key]int
}

// Acquire counts one more for k and reports true, or reports false and
// counts nothing when k already holds max (max < 1 means no cap).
func (c *Counter) Acquire(k Key, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.n[k] >= max {
		return false
	}
	if c.n == nil {
		c.n = make(map[Key]int)
	}
	c.n[k]++
	return true
}

// Release gives back one that Acquire counted for k.
func (c *Counter) Release(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k]--; c.n[k] <= 0 {
		delete(c.n, k)
	}
}

// Held returns what k holds now.
func (c *Counter) Held(k Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// Sources returns how many sources hold anything.
func (c *Counter) Sources() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}
