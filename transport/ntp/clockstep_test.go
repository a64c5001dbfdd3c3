package ntp

import (
	"net/netip"
	"testing"
	"time"

	"edge-agent/transport/udpguard"
)

// Kernel receive timestamps are wall clock only. A source that used its
// burst just before the wall clock stepped back a day (a time daemon's
// first sync, date -s) is answered again a second later: the limits
// count on the monotonic clock, not on the timestamps served.
func TestRateLimitIgnoresWallClockSteps(t *testing.T) {
	s := &Server{Clock: &fakeClock{st: synced}, Limiter: udpguard.NewLimiter(4, 4, 0), KissOfDeath: true}
	r := s.newResponder()
	src := netip.MustParseAddrPort("192.0.2.7:40000")
	out := make([]byte, 48)
	now := time.Now()
	rx := now.Round(0).Add(24 * time.Hour) // what a kernel stamp would say
	answered := 0
	for range 10 {
		if r.answer(request(0x23, 42), src, rx, now, out) && s.stats.kisses.Load() == 0 {
			answered++
		}
	}
	if answered != 4 {
		t.Fatalf("%d of 10 requests at once answered, want the burst of 4", answered)
	}
	kisses := s.stats.kisses.Load()
	for _, step := range []time.Duration{-24 * time.Hour, 24 * time.Hour} {
		rx = rx.Add(step + time.Second)
		now = now.Add(time.Second)
		replies := s.stats.replies.Load()
		if !r.answer(request(0x23, 43), src, rx, now, out) || s.stats.replies.Load() != replies+1 {
			t.Errorf("a request 1 s after the wall clock stepped %v was not answered (kisses %d -> %d)", step, kisses, s.stats.kisses.Load())
		}
	}
}
