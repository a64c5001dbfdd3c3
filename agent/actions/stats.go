package actions

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"edge-agent/agent/authz"
)

// refusalLogEvery is how often refusals are logged per key (and once for
// all requests no key vouches for): a flood of bad commands is counted,
// not written out.
const refusalLogEvery = time.Minute

// unauthenticated is the log bucket of refusals before a key was found.
const unauthenticated = "unauthenticated"

type stats struct {
	accepted, runs, failures, timeouts atomic.Uint64
	refusals                           map[authz.Reason]*atomic.Uint64 // read-only after init

	log     *slog.Logger
	mu      sync.Mutex
	buckets map[string]*logBucket
}

type logBucket struct {
	last       time.Time // monotonic
	suppressed uint64
}

func (s *stats) init(log *slog.Logger) {
	s.log = log
	s.refusals = map[authz.Reason]*atomic.Uint64{}
	for _, r := range authz.Reasons() {
		s.refusals[r] = new(atomic.Uint64)
	}
	s.buckets = map[string]*logBucket{}
}

// refused counts a refusal and, if logIt, logs it unless its bucket (the
// key that tried, else all unauthenticated requests) was logged within
// refusalLogEvery; the next line says how many were not.
func (s *stats) refused(reason authz.Reason, by, action string, err error, logIt bool) {
	if c := s.refusals[reason]; c != nil {
		c.Add(1)
	}
	if !logIt {
		return
	}
	if by == "" {
		by = unauthenticated
	}
	if len(action) > 80 {
		// It comes from the topic, which anyone may make up.
		action = action[:80] + "..."
	}
	now := time.Now()
	s.mu.Lock()
	b := s.buckets[by]
	if b == nil {
		// Keys can be replaced while the agent runs; the table stays
		// bounded by starting it over.
		if len(s.buckets) > authz.MaxKeys+2 {
			clear(s.buckets)
		}
		b = &logBucket{}
		s.buckets[by] = b
	} else if now.Sub(b.last) < refusalLogEvery {
		b.suppressed++
		s.mu.Unlock()
		return
	}
	suppressed := b.suppressed
	b.last, b.suppressed = now, 0
	s.mu.Unlock()
	s.log.Warn("action refused", "action", action, "reason", reason.String(), "by", by, "err", err, "not_logged_before", suppressed)
}

func (s *stats) counters() map[string]uint64 {
	m := map[string]uint64{
		"accepted": s.accepted.Load(),
		"runs":     s.runs.Load(),
		"failures": s.failures.Load(),
		"timeouts": s.timeouts.Load(),
	}
	for r, c := range s.refusals {
		m["refused_"+r.String()] = c.Load()
	}
	return m
}
