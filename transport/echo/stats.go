package echo

import (
	"slices"
	"sync"
	"sync/atomic"
)

// stats are updated by the serving goroutines and read by the status model.
type stats struct {
	connsActive  atomic.Int64
	connsTotal   atomic.Uint64
	idleClosed   atomic.Uint64
	tcpBytesIn   atomic.Uint64
	tcpBytesOut  atomic.Uint64
	datagramsIn  atomic.Uint64
	datagramsOut atomic.Uint64
	udpBytesIn   atomic.Uint64
	udpBytesOut  atomic.Uint64

	rejectConnLimit   atomic.Uint64
	rejectSourceLimit atomic.Uint64
	rejectAcceptErr   atomic.Uint64
	rejectSourcePort  atomic.Uint64
	rejectRate        atomic.Uint64

	// pendingBytes is what all connections hold for peers that do not
	// read (see hold.go); pendingClosed counts connections closed to keep
	// it under the cap.
	pendingBytes  atomic.Int64
	pendingClosed atomic.Uint64

	mu     sync.Mutex
	shards []*shard
}

// shard holds byte counters that one goroutine adds to on every message.
// Goroutines on different cores adding to one shared counter would fight
// over its cache line; each gets its own, padded to a line of its own.
type shard struct {
	in, out atomic.Uint64
	_       [48]byte
}

func (st *stats) addShard() *shard {
	sh := new(shard)
	st.mu.Lock()
	st.shards = append(st.shards, sh)
	st.mu.Unlock()
	return sh
}

// dropShard folds a finished shard into the totals.
func (st *stats) dropShard(sh *shard) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tcpBytesIn.Add(sh.in.Load())
	st.tcpBytesOut.Add(sh.out.Load())
	st.shards = slices.DeleteFunc(st.shards, func(x *shard) bool { return x == sh })
}

func (st *stats) tcpBytes() (in, out uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	in, out = st.tcpBytesIn.Load(), st.tcpBytesOut.Load()
	for _, sh := range st.shards {
		in += sh.in.Load()
		out += sh.out.Load()
	}
	return in, out
}

// Counters returns a snapshot of the service's counters, keyed by stable
// names that the status model publishes as they are.
func (s *Server) Counters() map[string]uint64 {
	st := &s.stats
	tcpIn, tcpOut := st.tcpBytes()
	return map[string]uint64{
		"conns_active":          uint64(max(st.connsActive.Load(), 0)),
		"conns_total":           st.connsTotal.Load(),
		"conns_idle_closed":     st.idleClosed.Load(),
		"conns_closed_pending":  st.pendingClosed.Load(),
		"pending_bytes":         uint64(max(st.pendingBytes.Load(), 0)),
		"tcp_bytes_in":          tcpIn,
		"tcp_bytes_out":         tcpOut,
		"udp_datagrams_in":      st.datagramsIn.Load(),
		"udp_datagrams_out":     st.datagramsOut.Load(),
		"udp_bytes_in":          st.udpBytesIn.Load(),
		"udp_bytes_out":         st.udpBytesOut.Load(),
		"rejected_conn_limit":   st.rejectConnLimit.Load(),
		"rejected_source_limit": st.rejectSourceLimit.Load(),
		"rejected_accept_error": st.rejectAcceptErr.Load(),
		"rejected_source_port":  st.rejectSourcePort.Load(),
		"rejected_rate_limit":   st.rejectRate.Load(),
	}
}
