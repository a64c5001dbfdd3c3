package main

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// every calls f about once per period (jittered by up to a fifth either
// way, so clients do not march in step) until ctx ends. A call that
// overruns its period is followed at once by the next, never by a burst
// of catch-up calls: the rate is an upper bound, whatever the host does.
func every(ctx context.Context, period time.Duration, f func(ctx context.Context)) {
	t := time.NewTimer(jitter(period))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		f(ctx)
		wait := jitter(period) - time.Since(start)
		t.Reset(max(wait, 0))
	}
}

func jitter(d time.Duration) time.Duration {
	return d*4/5 + rand.N(d*2/5+1)
}

// sleepCtx waits d or until ctx ends, and reports whether ctx is still on.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Source addresses. Every per-source limit of the agent keys on the
// address, so honest clients get addresses no hostile one ever uses:
// a refusal seen by an honest client is a failure, never an expected
// outcome.
var honestAddrs = func() []netip.Addr {
	var a []netip.Addr
	for i := byte(2); i <= 9; i++ {
		a = append(a, netip.AddrFrom4([4]byte{127, 0, 0, i}))
	}
	return a
}()

// hostileAddr is one of the 64 addresses (127.66.0.1-64) the hostile
// connection-level clients use, so per-source caps and token lockouts
// meet them repeatedly.
func hostileAddr() netip.Addr {
	return netip.AddrFrom4([4]byte{127, 66, 0, byte(1 + rand.IntN(64))})
}

// floodAddr is a fresh address in 127.100.0.0-127.254.255.255: the
// flood comes from tens of thousands of distinct sources.
func floodAddr() netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(155)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
}

// dialFrom connects to addr over TCP from the source address src within
// the exchange timeout. When that fails it returns nil, after telling
// failed the reason for the table ("dial: " and the error's class) and
// the error, unless ctx has ended: a dial cut by the end of the run
// counts for nothing.
func dialFrom(ctx context.Context, src netip.Addr, addr string, failed func(reason string, err error)) *net.TCPConn {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: exchangeTimeout}
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		if ctx.Err() == nil {
			failed("dial: "+classify(err), err)
		}
		return nil
	}
	return c.(*net.TCPConn)
}

// udpFrom opens a UDP socket on src (port 0: ephemeral, unless port).
func udpFrom(src netip.Addr, port uint16) (*net.UDPConn, error) {
	return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, port)))
}

// distinct counts distinct source addresses, for the report.
type distinct struct {
	mu  sync.Mutex
	set map[netip.Addr]struct{}
}

func (d *distinct) add(a netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.set == nil {
		d.set = map[netip.Addr]struct{}{}
	}
	d.set[a] = struct{}{}
}

func (d *distinct) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.set)
}

// randomBytes returns n bytes from a fast, non-cryptographic source.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// upperASCII is what the echo service in upper mode sends back.
func upperASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
