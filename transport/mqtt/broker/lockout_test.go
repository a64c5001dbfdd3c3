package broker

import (
	"net/netip"
	"testing"
	"time"

	"edge-agent/transport/peer"
)

// The broker's numbers, as README gives them: three wrong passwords in a
// row are free, each further one locks for 1 s, 2 s ... up to 60 s; 10
// minutes of quiet or a right password clears the source; at most 1,024
// sources. The back-off itself is tested in package peer.
func TestLockoutNumbers(t *testing.T) {
	now := time.Now()
	l := newLockout()
	l.Now = func() time.Time { return now }
	k := peer.KeyOf(netip.MustParseAddr("192.0.2.7"))
	for i := range freeFailures {
		if d := l.Fail(k); d != 0 {
			t.Fatalf("free failure %d locked out for %v", i+1, d)
		}
	}
	for i, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		if d := l.Fail(k); d != want*time.Second {
			t.Fatalf("failure %d beyond the free ones: locked out for %v, want %v", i+1, d, want*time.Second)
		}
		now = now.Add(want * time.Second)
	}
	now = now.Add(lockForget)
	if d := l.Fail(k); d != 0 || l.Len() != 1 {
		t.Errorf("a source quiet for %v is still counted (%v)", lockForget, d)
	}
	l.Forgive(k)
	if l.Len() != 0 {
		t.Errorf("%d sources after a success", l.Len())
	}
	for i := range maxLockSources + 10 {
		l.Fail(peer.KeyOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	if n := l.Len(); n != maxLockSources {
		t.Errorf("%d sources held, bound %d", n, maxLockSources)
	}
}
