package broker

import (
	"sync"
	"time"

	"edge-agent/transport/peer"
)

// Password guessing is slowed per source: freeFailures wrong logins in a
// row are free, each further one locks the source out for twice as long
// as the one before, from lockFirst up to lockMax. A source that stays
// quiet for lockForget starts afresh; a correct login clears it.
const (
	freeFailures = 3
	lockFirst    = time.Second
	lockMax      = time.Minute
	lockForget   = 10 * time.Minute
	// maxLockSources bounds the table; past it the source that failed
	// longest ago is forgotten.
	maxLockSources = 1024
)

// lockout counts failed logins per source (peer.Key: an IPv4 address, an
// IPv6 /64). Times come from time.Now and are compared by their monotonic
// reading, so a clock step neither frees nor locks anyone.
type lockout struct {
	mu sync.Mutex
	m  map[peer.Key]*strikes
}

type strikes struct {
	n     int
	last  time.Time
	until time.Time
}

// locked reports whether k may not try a password at now.
func (l *lockout) locked(k peer.Key, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[k]
	return s != nil && now.Before(s.until)
}

// fail records a wrong password from k at now.
func (l *lockout) fail(k peer.Key, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[peer.Key]*strikes)
	}
	s := l.m[k]
	if s == nil || now.Sub(s.last) > lockForget {
		if s == nil && len(l.m) >= maxLockSources {
			l.prune(now)
		}
		s = &strikes{}
		l.m[k] = s
	}
	s.n++
	s.last = now
	if over := s.n - freeFailures; over > 0 {
		d := lockMax
		if over <= 6 {
			d = min(lockFirst<<(over-1), lockMax)
		}
		s.until = now.Add(d)
	}
}

// succeed forgets k's failures.
func (l *lockout) succeed(k peer.Key) {
	l.mu.Lock()
	delete(l.m, k)
	l.mu.Unlock()
}

// prune drops sources quiet for lockForget, and if none is, the one that
// failed longest ago. Called with mu held.
func (l *lockout) prune(now time.Time) {
	var oldest peer.Key
	var oldestAt time.Time
	for k, s := range l.m {
		if now.Sub(s.last) > lockForget {
			delete(l.m, k)
			continue
		}
		if oldestAt.IsZero() || s.last.Before(oldestAt) {
			oldest, oldestAt = k, s.last
		}
	}
	if len(l.m) >= maxLockSources {
		delete(l.m, oldest)
	}
}

// sources returns how many sources have failures on record.
func (l *lockout) sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
