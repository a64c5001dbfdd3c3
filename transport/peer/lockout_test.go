package peer

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock reads a monotonic base plus what the test advanced it by.
type fakeClock struct {
	mu   sync.Mutex
	base time.Time
	adv  time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{base: time.Now()} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.adv)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.adv += d
	c.mu.Unlock()
}

func key4(i int) Key {
	return KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
}

func TestLockoutBackOff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		l    *Lockout
		free int
		want []time.Duration // lockouts in a row, in seconds
	}{
		{"zero value", &Lockout{}, 2, []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}},
		{"file receiver", &Lockout{Threshold: 3, First: s, Max: 5 * time.Minute}, 2, []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}},
		{"broker", &Lockout{Threshold: 4, First: s, Max: time.Minute}, 3, []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}},
		{"every failure", &Lockout{Threshold: 1, First: 3 * s, Max: 10 * s}, 0, []time.Duration{3, 6, 10, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := tc.l
			l.Now = clock.now
			k, other := KeyOf(netip.MustParseAddr("192.0.2.7")), KeyOf(netip.MustParseAddr("192.0.2.8"))
			for i := range tc.free {
				if d := l.Fail(k); d != 0 || l.Locked(k) {
					t.Fatalf("free failure %d locked out for %v", i+1, d)
				}
			}
			for i, w := range tc.want {
				// Each failure past the free ones starts the next
				// lockout: no further free failures in between.
				if d := l.Fail(k); d != w*s {
					t.Fatalf("lockout %d: %v, want %v", i+1, d, w*s)
				}
				if l.Locked(other) {
					t.Fatal("another source locked out")
				}
				clock.advance(w*s - time.Millisecond)
				if !l.Locked(k) {
					t.Fatalf("lockout %d over %v early", i+1, time.Millisecond)
				}
				clock.advance(time.Millisecond)
				if l.Locked(k) {
					t.Fatalf("lockout %d not over after %v", i+1, w*s)
				}
			}
			// A right secret starts the source afresh.
			l.Forgive(k)
			if l.Len() != 0 {
				t.Fatalf("%d sources after Forgive", l.Len())
			}
			for range tc.free {
				l.Fail(k)
			}
			if d := l.Fail(k); d != tc.want[0]*s {
				t.Errorf("after Forgive: locked out for %v, want %v", d, tc.want[0]*s)
			}
		})
	}
}

func TestLockoutForgets(t *testing.T) {
	clock := newFakeClock()
	l := Lockout{Now: clock.now}
	k := KeyOf(netip.MustParseAddr("2001:db8::1"))
	for range 4 {
		l.Fail(k) // locked for 2 s by the last
	}
	clock.advance(DefaultForget - time.Millisecond)
	if d := l.Fail(k); d != 4*time.Second {
		t.Fatalf("a failure just inside the forget time: %v, want the next lockout, 4s", d)
	}
	// Quiet for the forget time: the record goes, partial counts too.
	clock.advance(DefaultForget)
	if l.Len() != 0 {
		t.Fatalf("%d sources after a quiet spell", l.Len())
	}
	l.Fail(k)
	l.Fail(k)
	clock.advance(DefaultForget)
	if d := l.Fail(k); d != 0 {
		t.Errorf("a failure after a quiet spell completed the count of the earlier ones (%v)", d)
	}
	if d := l.Fail(k); d != 0 {
		t.Errorf("second failure after a quiet spell: %v", d)
	}
	if d := l.Fail(k); d != time.Second {
		t.Errorf("third failure after a quiet spell: %v, want 1s", d)
	}

	// A source still locked is not forgotten, even past the forget time.
	long := Lockout{Threshold: 1, First: time.Hour, Max: time.Hour, Forget: time.Minute, Now: clock.now}
	long.Fail(k)
	clock.advance(30 * time.Minute)
	if !long.Locked(k) || long.Len() != 1 {
		t.Fatal("a locked source was forgotten")
	}
	if d := long.Fail(k); d != time.Hour {
		t.Fatalf("a failure during a lockout: %v, want the next lockout", d)
	}
	clock.advance(time.Hour)
	if long.Len() != 0 {
		t.Error("a source quiet past its lockout and the forget time was kept")
	}
}

func TestLockoutTableIsBounded(t *testing.T) {
	clock := newFakeClock()
	l := Lockout{Now: clock.now}
	for i := range DefaultSources + 100 {
		l.Fail(key4(i))
		l.Fail(key4(i))
		clock.advance(time.Millisecond)
	}
	if n := l.Len(); n != DefaultSources {
		t.Fatalf("table holds %d sources, want %d", n, DefaultSources)
	}
	// The oldest went: its earlier failures are forgotten.
	if d := l.Fail(key4(0)); d != 0 {
		t.Error("an evicted source kept its count")
	}
	// The newest are still counted.
	if d := l.Fail(key4(DefaultSources + 99)); d != time.Second {
		t.Errorf("the newest source's third failure: %v, want a 1s lockout", d)
	}

	// The source whose last failure is oldest goes first, whatever
	// order the sources first failed in.
	small := Lockout{Threshold: 2, Sources: 3, Now: clock.now}
	small.Fail(key4(1))
	small.Fail(key4(2))
	small.Fail(key4(3))
	small.Fail(key4(1)) // 1 is locked and now the most recent: 2 is oldest
	small.Fail(key4(4))
	if small.Len() != 3 {
		t.Fatalf("small table holds %d", small.Len())
	}
	if !small.Locked(key4(1)) {
		t.Error("the most recent source was evicted")
	}
	if d := small.Fail(key4(3)); d != time.Second {
		t.Errorf("source 3 lost its count: %v", d)
	}
	if d := small.Fail(key4(2)); d != 0 {
		t.Errorf("source 2, the oldest, kept its count: %v", d)
	}
}

// Concurrent failures from one source each get their own place in the
// back-off: no two see the same count.
func TestLockoutConcurrent(t *testing.T) {
	clock := newFakeClock()
	l := Lockout{Threshold: 3, First: time.Second, Max: time.Hour, Sources: 64, Now: clock.now}
	k := KeyOf(netip.MustParseAddr("192.0.2.1"))
	const workers, each = 8, 10
	got := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				got[w] = append(got[w], l.Fail(k))
				l.Locked(k)
				// Noise on other keys: failures, forgiveness, eviction.
				o := key4(w*each + i)
				l.Fail(o)
				l.Locked(o)
				if i%3 == 0 {
					l.Forgive(o)
				}
				if n := l.Len(); n > 64 {
					t.Errorf("table holds %d, bound 64", n)
				}
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	for _, g := range got {
		all = append(all, g...)
	}
	slices.Sort(all)
	want := []time.Duration{0, 0}
	for d := time.Second; len(want) < workers*each; d = min(2*d, time.Hour) {
		want = append(want, d)
	}
	if !slices.Equal(all, want) {
		t.Errorf("lockouts returned to concurrent failures:\n got %v\nwant %v", all, want)
	}
}

// The cost of a failure from a new source does not grow with the table.
func BenchmarkLockoutNewSources(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 16} {
		b.Run(fmt.Sprint("sources=", size), func(b *testing.B) {
			l := Lockout{Sources: size}
			for i := range size {
				l.Fail(key4(i))
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				l.Fail(key4(size + i%(1<<20)))
			}
		})
	}
}
