package broker

import (
	"net/netip"
	"testing"
	"time"

	"edge-agent/transport/peer"
)

func TestLockoutDoublesAndForgets(t *testing.T) {
	var l lockout
	k := peer.KeyOf(netip.MustParseAddr("192.0.2.7"))
	other := peer.KeyOf(netip.MustParseAddr("192.0.2.8"))
	now := time.Now()
	for range freeFailures {
		l.fail(k, now)
		if l.locked(k, now) {
			t.Fatal("locked within the free failures")
		}
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		l.fail(k, now)
		if !l.locked(k, now.Add(want-time.Millisecond)) || l.locked(k, now.Add(want)) {
			t.Fatalf("failure %d beyond the free ones: want a lock-out of %v", i+1, want)
		}
		if l.locked(other, now) {
			t.Fatal("another source locked out")
		}
	}
	// Quiet for lockForget: a fresh start.
	later := now.Add(lockForget + time.Second)
	l.fail(k, later)
	if l.locked(k, later) {
		t.Error("a source quiet for the forget time is still counted")
	}
	l.succeed(k)
	if l.sources() != 0 {
		t.Errorf("%d sources after a success", l.sources())
	}
}

func TestLockoutTableIsBounded(t *testing.T) {
	var l lockout
	now := time.Now()
	addr := func(i int) peer.Key {
		return peer.KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	for i := range maxLockSources + 10 {
		l.fail(addr(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.sources(); n > maxLockSources {
		t.Errorf("%d sources held, bound %d", n, maxLockSources)
	}
	// The newest source is still counted.
	last, at := addr(maxLockSources+9), now.Add(time.Hour/1000)
	for range freeFailures {
		l.fail(last, at)
	}
	if !l.locked(last, at) {
		t.Error("the newest source was forgotten")
	}
}
