package echo

import (
	"math/bits"
	"sync"
)

// A peer that sends without reading makes the server hold the replies it
// does not take. Each connection holds at most one read's worth (ReadSize),
// but many connections could still pin a lot, so what all of them hold is
// one shared total (stats.pendingBytes) under Server.MaxPending. Past the
// cap the connection that holds the most is closed; among equals the one
// that has held longest, which spares a client that reads but briefly
// fell behind.

// holder is a connection that may hold reply bytes, as a holders heap
// sees it.
type holder interface {
	held() int    // bytes held; constant while in the heap
	since() int64 // when the holding began, in the owner's order
	slot() *int32 // place in the heap, -1 when not in one
}

// holders is a heap of the connections that hold something, the largest
// (then the oldest) on top: finding the one to close costs nothing, and a
// hold or a release O(log n), where n counts only connections holding
// something. A reply the socket takes whole never touches it.
type holders[T holder] []T

func (h holders[T]) before(i, j int) bool {
	a, b := h[i].held(), h[j].held()
	return a > b || a == b && h[i].since() < h[j].since()
}

func (h holders[T]) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	*h[i].slot() = int32(i)
	*h[j].slot() = int32(j)
}

func (h holders[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.before(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h holders[T]) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && h.before(r, c) {
			c = r
		}
		if !h.before(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

func (h *holders[T]) push(x T) {
	*x.slot() = int32(len(*h))
	*h = append(*h, x)
	h.up(len(*h) - 1)
}

// remove takes x out of the heap; x must be in it.
func (h *holders[T]) remove(x T) {
	i, last := int(*x.slot()), len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	var zero T
	(*h)[last] = zero
	*h = (*h)[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	*x.slot() = -1
}

// Held replies live in buffers of a few sizes, recycled: under attack
// every closed holder is soon replaced by a new one, and fresh buffers
// each time would leave the garbage collector up to as much again as the
// cap in garbage before it ran. Pooled buffers that stay unused are
// dropped by the collector within two cycles.
const (
	pendingMin     = 1 << 10
	pendingClasses = 6 // 1 KiB to 32 KiB (ReadSize)
)

var pendingPools [pendingClasses]sync.Pool

func pendingClass(n int) int { return bits.Len(uint(n-1) / pendingMin) }

// getPending returns a buffer of at least n (1 to ReadSize) bytes; its
// capacity is what the holder is counted for.
func getPending(n int) *[]byte {
	c := pendingClass(n)
	if p, ok := pendingPools[c].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, pendingMin<<c)
	return &b
}

func putPending(p *[]byte) {
	pendingPools[pendingClass(cap(*p))].Put(p)
}

// writeHolds is the goroutine-per-connection server's holders heap: its
// connections each own a goroutine, so the heap is shared under a lock.
// A write counts as held from the moment it starts until it returns.
type writeHolds struct {
	mu  sync.Mutex
	h   holders[*writer]
	seq int64
}

// writer is a connection of the goroutine-per-connection server.
type writer struct {
	close func() error
	bytes int
	order int64
	at    int32
}

func (w *writer) held() int    { return w.bytes }
func (w *writer) since() int64 { return w.order }
func (w *writer) slot() *int32 { return &w.at }

// enter counts n bytes held by w, closes the largest holders while the
// total is over the cap, and reports whether w is still open.
func (s *Server) enter(wh *writeHolds, w *writer, n int) bool {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	w.bytes, w.order = n, wh.seq
	wh.seq++
	wh.h.push(w)
	total := s.stats.pendingBytes.Add(int64(n))
	for total > s.maxPending() && len(wh.h) > 0 {
		v := wh.h[0]
		wh.h.remove(v)
		total = s.stats.pendingBytes.Add(-int64(v.bytes))
		// Closing makes its blocked Write return, and its goroutine end.
		v.close()
		s.stats.pendingClosed.Add(1)
		if v == w {
			return false
		}
	}
	return true
}

// leave gives back what enter counted for w, unless w was closed for it.
func (s *Server) leave(wh *writeHolds, w *writer) {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if w.at >= 0 {
		wh.h.remove(w)
		s.stats.pendingBytes.Add(-int64(w.bytes))
	}
}
