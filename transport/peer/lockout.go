package peer

import (
	"container/list"
	"sync"
	"time"
)

// Defaults used where a Lockout field is zero.
const (
	DefaultThreshold = 3
	DefaultFirst     = time.Second
	DefaultMax       = 5 * time.Minute
	DefaultForget    = 15 * time.Minute
	DefaultSources   = 1024
)

// Lockout makes guessing a secret slow per source. The first Threshold-1
// failures from a source are free; the one at Threshold, and each one
// after it, locks the source out for twice as long as the lockout before,
// from First up to Max. The caller refuses a locked source without
// checking its secret, so a guesser gets one guess per lockout. A failure
// recorded while the source is locked (a check that was already under
// way) counts like any other.
//
// A source quiet for Forget since its last failure, and no longer locked,
// starts afresh, as does one whose secret was right (Forgive). The table
// holds at most Sources sources: past that, the one whose last failure is
// oldest is dropped, so a peer with many addresses costs bounded memory
// and each insertion a constant time.
//
// Set the fields before the first call and leave them; the zero value
// works with the defaults above and time.Now, whose monotonic reading
// keeps a step of the wall clock from freeing or locking anyone.
type Lockout struct {
	Threshold int              // failure that starts the first lockout; 0: DefaultThreshold
	First     time.Duration    // first lockout; 0: DefaultFirst
	Max       time.Duration    // longest lockout; 0: DefaultMax
	Forget    time.Duration    // quiet time that clears a source; 0: DefaultForget
	Sources   int              // sources held at most; 0: DefaultSources
	Now       func() time.Time // clock; nil: time.Now

	mu      sync.Mutex
	sources map[Key]*list.Element // of *lockoutEntry
	order   list.List             // most recent failure first
}

type lockoutEntry struct {
	key      Key
	failures int           // since the record began
	last     time.Duration // length of the latest lockout, 0 for none yet
	until    time.Time     // locked until then
	lastFail time.Time
}

// Locked reports whether k is locked out now.
func (l *Lockout) Locked(k Key) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.sources[k]
	return ok && l.now().Before(el.Value.(*lockoutEntry).until)
}

// Fail records a failure from k and returns the length of the lockout it
// starts, or 0 if it is one of the free ones.
func (l *Lockout) Fail(k Key) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	el, ok := l.sources[k]
	if ok && l.forgotten(el.Value.(*lockoutEntry), now) {
		l.remove(el)
		ok = false
	}
	if !ok {
		if l.sources == nil {
			l.sources = make(map[Key]*list.Element)
		}
		if l.order.Len() >= orDefault(l.Sources, DefaultSources) {
			l.remove(l.order.Back())
		}
		el = l.order.PushFront(&lockoutEntry{key: k})
		l.sources[k] = el
	}
	l.order.MoveToFront(el)
	e := el.Value.(*lockoutEntry)
	e.lastFail = now
	if e.failures++; e.failures < orDefault(l.Threshold, DefaultThreshold) {
		return 0
	}
	d := orDefault(l.First, DefaultFirst)
	if e.last > 0 {
		d = 2 * e.last
	}
	d = min(d, orDefault(l.Max, DefaultMax))
	e.last, e.until = d, now.Add(d)
	return d
}

// Forgive forgets k's failures, after it got the secret right.
func (l *Lockout) Forgive(k Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.sources[k]; ok {
		l.remove(el)
	}
}

// Len returns how many sources have failures on record.
func (l *Lockout) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(l.now())
	return len(l.sources)
}

func (l *Lockout) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Lockout) forgotten(e *lockoutEntry, now time.Time) bool {
	return now.Sub(e.lastFail) >= orDefault(l.Forget, DefaultForget) && !now.Before(e.until)
}

// prune drops forgotten sources from the old end of the table, where they
// gather, so that Len counts only sources that still matter. Each source
// is dropped once, so the cost is a constant per failure recorded.
func (l *Lockout) prune(now time.Time) {
	for el := l.order.Back(); el != nil && l.forgotten(el.Value.(*lockoutEntry), now); el = l.order.Back() {
		l.remove(el)
	}
}

func (l *Lockout) remove(el *list.Element) {
	l.order.Remove(el)
	delete(l.sources, el.Value.(*lockoutEntry).key)
}

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}
