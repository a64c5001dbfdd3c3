package filerecv

import (
	"container/list"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"edge-agent/transport/peer"
)

// Token guessing is made slow per source (peer.Key: an IPv4 address or an
// IPv6 /64): after lockoutAfter wrong tokens the source is refused for a
// back-off that starts at lockoutFirst and doubles with each further
// lockout up to lockoutMax. A right token, or lockoutForget without a wrong
// one, wipes the source's record. The table keeps at most lockoutSources
// sources, dropping the one whose last wrong token is oldest, so a peer
// with many addresses costs a bounded amount of memory.
const (
	lockoutAfter   = 3
	lockoutFirst   = time.Second
	lockoutMax     = 5 * time.Minute
	lockoutForget  = 15 * time.Minute
	lockoutSources = 1024
)

// tokenOK compares the digests of the two tokens, which have a fixed size,
// so neither the time taken nor an early exit tells a guesser the length.
func tokenOK(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// lockout is the table of sources that sent wrong tokens. The zero value
// is ready to use with the real clock.
type lockout struct {
	now func() time.Time // nil: time.Now (monotonic)

	mu      sync.Mutex
	sources map[peer.Key]*list.Element // of *lockoutEntry
	order   list.List                  // most recent wrong token first
}

type lockoutEntry struct {
	key     peer.Key
	wrong   int           // wrong tokens since the last lockout began
	next    time.Duration // length of the next lockout
	until   time.Time     // refused until then
	lastBad time.Time
}

func (l *lockout) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// refused reports whether k is locked out now.
func (l *lockout) refused(k peer.Key) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.sources[k]
	return ok && l.clock().Before(el.Value.(*lockoutEntry).until)
}

// wrong records a wrong token from k and returns the length of the
// lockout it starts, or 0 if it starts none.
func (l *lockout) wrong(k peer.Key) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if l.sources == nil {
		l.sources = map[peer.Key]*list.Element{}
	}
	el, ok := l.sources[k]
	if ok && now.Sub(el.Value.(*lockoutEntry).lastBad) >= lockoutForget && !now.Before(el.Value.(*lockoutEntry).until) {
		l.order.Remove(el)
		delete(l.sources, k)
		ok = false
	}
	if !ok {
		if l.order.Len() >= lockoutSources {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.sources, oldest.Value.(*lockoutEntry).key)
		}
		el = l.order.PushFront(&lockoutEntry{key: k, next: lockoutFirst})
		l.sources[k] = el
	}
	l.order.MoveToFront(el)
	e := el.Value.(*lockoutEntry)
	e.lastBad = now
	if e.wrong++; e.wrong < lockoutAfter {
		return 0
	}
	d := e.next
	e.wrong, e.until, e.next = 0, now.Add(d), min(2*d, lockoutMax)
	return d
}

// right forgets k after a right token.
func (l *lockout) right(k peer.Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.sources[k]; ok {
		l.order.Remove(el)
		delete(l.sources, k)
	}
}

// size is how many sources the table holds.
func (l *lockout) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}
