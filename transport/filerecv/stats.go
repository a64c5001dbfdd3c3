package filerecv

import (
	"sync"
	"sync/atomic"
)

type stats struct {
	connsActive, connsTotal atomic.Int64
	files, bytes            atomic.Uint64
	resumed, acceptErrors   atomic.Uint64
	lockouts, expired       atomic.Uint64
	partialsDiscarded       atomic.Uint64
	dirSyncFailed           atomic.Uint64
	store                   atomic.Pointer[Store] // set by Serve

	mu      sync.Mutex
	rejects map[Code]uint64
}

func (st *stats) reject(c Code) {
	st.mu.Lock()
	if st.rejects == nil {
		st.rejects = map[Code]uint64{}
	}
	st.rejects[c]++
	st.mu.Unlock()
}

// Counters returns the receiver's counters; rejections are counted by
// reason as rejected_<code>.
func (s *Server) Counters() map[string]uint64 {
	st := &s.stats
	m := map[string]uint64{
		"conns_active":  uint64(max(st.connsActive.Load(), 0)),
		"conns_total":   uint64(st.connsTotal.Load()),
		"files":         st.files.Load(),
		"bytes":         st.bytes.Load(),
		"resumed":       st.resumed.Load(),
		"accept_errors": st.acceptErrors.Load(),
		// Lockouts begun for wrong tokens; the connections they
		// refuse are counted as rejected_bad_token_lockout.
		"lockouts":           st.lockouts.Load(),
		"lockout_sources":    uint64(s.tokenLockout().Len()),
		"expired":            st.expired.Load(),
		"partials_discarded": st.partialsDiscarded.Load(),
		"dir_sync_failed":    st.dirSyncFailed.Load(),
	}
	if store := st.store.Load(); store != nil {
		m["reserved_bytes"] = uint64(max(store.Reserved(), 0))
	}
	st.mu.Lock()
	for c, n := range st.rejects {
		m["rejected_"+string(c)] = n
	}
	st.mu.Unlock()
	return m
}
