package texttime

import "sync/atomic"

// stats are updated by the serving goroutine and read by the status model.
type stats struct {
	requests   atomic.Uint64
	replies    atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	errUTF8    atomic.Uint64
	errTooLong atomic.Uint64
	errNUL     atomic.Uint64

	rejectSourcePort atomic.Uint64
	rejectRate       atomic.Uint64
}

func (st *stats) count(o outcome) {
	switch o {
	case badUTF8:
		st.errUTF8.Add(1)
	case hasNUL:
		st.errNUL.Add(1)
	case tooLong:
		st.errTooLong.Add(1)
	}
}

// Counters returns a snapshot of the service's counters, keyed by stable
// names that the status model publishes as they are. requests counts
// every datagram read, refused or not; replies every datagram sent,
// error replies included; errors_* the error replies by reason.
func (s *Server) Counters() map[string]uint64 {
	st := &s.stats
	return map[string]uint64{
		"requests":             st.requests.Load(),
		"replies":              st.replies.Load(),
		"errors_utf8":          st.errUTF8.Load(),
		"errors_too_long":      st.errTooLong.Load(),
		"errors_nul":           st.errNUL.Load(),
		"rejected_source_port": st.rejectSourcePort.Load(),
		"rejected_rate_limit":  st.rejectRate.Load(),
		"bytes_in":             st.bytesIn.Load(),
		"bytes_out":            st.bytesOut.Load(),
	}
}
