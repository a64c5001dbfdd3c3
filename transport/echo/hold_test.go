package echo

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// roundTrip sends msg on c and checks the upper-cased reply.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("echo of %q: %v", msg, err)
	}
	want := []byte(msg)
	Upper.Apply(want)
	if string(got) != string(want) {
		t.Fatalf("echo of %q = %q", msg, got)
	}
}

// closedByServer reports whether the server closed c at once.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func TestTCPConnsPerSource(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{MaxConnsPerSource: 3}
		addr, _ := startTCP(t, s, portable)
		kept := []net.Conn{testenv.DialFrom(t, "127.0.0.1", addr), testenv.DialFrom(t, "127.0.0.1", addr), testenv.DialFrom(t, "127.0.0.1", addr)}
		testenv.WaitFor(t, "3 active connections", func() bool { return counter(s, "conns_active")() == 3 })
		if extra := testenv.DialFrom(t, "127.0.0.1", addr); !closedByServer(extra) {
			t.Fatal("a fourth connection from one address was not closed")
		}
		if got := counter(s, "rejected_source_limit")(); got != 1 {
			t.Errorf("rejected_source_limit = %d, want 1", got)
		}
		// Another address has its own allowance, and the kept ones work.
		roundTrip(t, testenv.DialFrom(t, "127.0.0.2", addr), "other source")
		roundTrip(t, kept[2], "kept")
		// A closed connection gives its place back.
		kept[0].Close()
		testenv.WaitFor(t, "the place given back", func() bool { return counter(s, "conns_active")() == 3 })
		roundTrip(t, testenv.DialFrom(t, "127.0.0.1", addr), "again")
		if got := counter(s, "rejected_source_limit")(); got != 1 || s.sources.Sources() != 2 {
			t.Errorf("rejected_source_limit = %d, sources = %d; want 1 and 2", got, s.sources.Sources())
		}
	})
}

// Peers that send without reading make the server hold replies; over the
// cap it closes the largest holders, and everyone else is still served.
func TestTCPPendingCap(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		const maxPending = 64 << 10
		s := &Server{MaxPending: maxPending, MaxConnsPerSource: 1000}
		addr, _ := startTCP(t, s, portable)
		var peak uint64
		sample := func() uint64 {
			p := counter(s, "pending_bytes")()
			peak = max(peak, p)
			return p
		}
		testenv.FloodFrom(t, "127.0.0.1", addr, 40, 1<<20, 0)
		testenv.WaitFor(t, "connections closed for the cap", func() bool {
			sample()
			return counter(s, "conns_closed_pending")() > 0
		})
		testenv.WaitFor(t, "what is held to fall under the cap", func() bool { return sample() <= maxPending })
		roundTrip(t, testenv.DialFrom(t, "127.0.0.2", addr), "while others hold")
		// A hold is counted before its loop closes for it: one read's
		// worth per loop over the cap at most.
		if limit := uint64(maxPending + maxLoops*ReadSize); peak > limit {
			t.Errorf("pending_bytes reached %d, over %d", peak, limit)
		}
		t.Logf("closed %d of 40, peak held %d bytes", counter(s, "conns_closed_pending")(), peak)
	})
}

// The holders heap gives the largest holder first, the oldest among
// equals, whatever order they came and went in.
func TestHoldersOrder(t *testing.T) {
	var h holders[*writer]
	all := map[*writer]bool{}
	add := func(bytes int, order int64) *writer {
		w := &writer{bytes: bytes, order: order, at: -1}
		h.push(w)
		all[w] = true
		return w
	}
	add(100, 5)
	mid := add(4096, 3)
	add(4096, 1)
	add(1, 0)
	gone := add(8000, 9)
	add(4096, 2)
	h.remove(gone)
	delete(all, gone)
	h.remove(mid)
	delete(all, mid)
	if gone.at != -1 || mid.at != -1 {
		t.Errorf("removed holders keep their slots: %d %d", gone.at, mid.at)
	}
	var got [][2]int64
	for len(h) > 0 {
		w := h[0]
		if int(w.at) != 0 {
			t.Fatalf("top holder's slot %d", w.at)
		}
		h.remove(w)
		got = append(got, [2]int64{int64(w.bytes), w.order})
	}
	want := [][2]int64{{4096, 1}, {4096, 2}, {100, 5}, {1, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestPendingClasses(t *testing.T) {
	for _, tc := range []struct{ n, size int }{
		{1, 1 << 10}, {1 << 10, 1 << 10}, {1<<10 + 1, 2 << 10}, {5000, 8 << 10},
		{16 << 10, 16 << 10}, {16<<10 + 1, 32 << 10}, {ReadSize, ReadSize},
	} {
		p := getPending(tc.n)
		if len(*p) != tc.size || cap(*p) != tc.size {
			t.Errorf("getPending(%d): %d bytes, want %d", tc.n, cap(*p), tc.size)
		}
		putPending(p)
	}
}
