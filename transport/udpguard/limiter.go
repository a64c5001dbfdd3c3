package udpguard

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter is a token bucket per source address with a bounded table.
//
// The table is kept in two generations. A source is looked up in the
// current one, then the previous one; a new source starts with a full
// bucket. The generations rotate when the current one is full or when a
// bucket would have refilled completely anyway, so memory stays under
// MaxSources entries even when every datagram carries a forged address, and
// a rotation costs a source nothing it would not have regained by waiting.
type Limiter struct {
	rate     float64 // tokens per second
	burst    float64
	half     int           // entries per generation
	lifetime time.Duration // time for an empty bucket to refill

	mu        sync.Mutex
	cur, prev map[netip.Addr]bucket
	rotated   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultMaxSources bounds the table when NewLimiter is given 0: about
// 64 bytes an entry, so roughly 1 MiB at worst.
const DefaultMaxSources = 16384

// NewLimiter returns a limiter allowing rate replies per second per source
// with bursts of burst (at least 1). A rate of 0 or less returns nil, and a
// nil *Limiter allows everything.
func NewLimiter(rate float64, burst, maxSources int) *Limiter {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if maxSources < 2 {
		maxSources = DefaultMaxSources
	}
	life := time.Duration(float64(burst) / rate * float64(time.Second))
	if life < time.Second {
		life = time.Second
	}
	return &Limiter{
		rate:     rate,
		burst:    float64(burst),
		half:     maxSources / 2,
		lifetime: life,
		cur:      make(map[netip.Addr]bucket),
		prev:     make(map[netip.Addr]bucket),
	}
}

// Allow takes one token from src's bucket and reports whether there was one.
func (l *Limiter) Allow(src netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	src = src.Unmap()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.rotated) >= l.lifetime {
		l.rotate(now)
	}
	b, ok := l.cur[src]
	if !ok {
		if b, ok = l.prev[src]; !ok {
			b = bucket{tokens: l.burst, last: now}
		}
		if len(l.cur) >= l.half {
			l.rotate(now)
		}
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt.Seconds()*l.rate)
	}
	b.last = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.cur[src] = b
	return allowed
}

// Sources returns how many sources the table holds.
func (l *Limiter) Sources() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

func (l *Limiter) rotate(now time.Time) {
	l.prev, l.cur = l.cur, l.prev
	clear(l.cur)
	l.rotated = now
}
