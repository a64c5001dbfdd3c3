//go:build linux

package echo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/transport/peer"
)

// loop owns a set of connections and everything about them; only its run
// goroutine touches conns, so the per-message path takes no lock.
type loop struct {
	s      *Server
	epfd   int
	file   *os.File // epfd, for the runtime poller
	rc     syscall.RawConn
	wakefd int
	buf    []byte
	events []unix.EpollEvent
	again  bool // readiness may remain that no new event will report
	conns  map[int32]*conn

	// holding are the loop's connections that hold replies, for the cap
	// on what all hold (hold.go). A loop owns its connections and can
	// close only its own, so when its hold takes the shared total over
	// the cap it closes its own largest holders until the total is back
	// under. Accept deals connections round-robin, so one peer's holders
	// are spread over every loop and a loop's largest is as large as any.
	// The total can pass the cap by at most one read per loop, between a
	// hold being counted and the loop closing for it.
	holding holders[*conn]

	bytes *shard

	mu       sync.Mutex
	incoming []accepted
	stopping bool
	// taken is the incoming slice run last took, given back for reuse so
	// a burst of connections does not leave a trail of garbage.
	taken []accepted
}

// accepted is a socket handed to a loop, and the source admit counted it
// for.
type accepted struct {
	fd  int
	src peer.Key
}

type conn struct {
	fd   int32
	at   int32         // place in holding, -1 when holding nothing
	last time.Duration // loop clock at the last read; a holder is not read
	src  peer.Key
	// buf[off:end] are reply bytes the peer has not taken yet; buf is
	// nil when there are none.
	buf      *[]byte
	off, end int32
}

func (c *conn) held() int    { return cap(*c.buf) }
func (c *conn) since() int64 { return int64(c.last) }
func (c *conn) slot() *int32 { return &c.at }

var wakeValue = binary.NativeEndian.AppendUint64(nil, 1)

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev)
	if err == nil {
		// Non-blocking, so os.NewFile hands it to the runtime poller.
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	file := os.NewFile(uintptr(epfd), "epoll")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return &loop{
		s:      s,
		epfd:   epfd,
		file:   file,
		rc:     rc,
		wakefd: wakefd,
		buf:    make([]byte, loopBufSize),
		events: make([]unix.EpollEvent, epollBatch),
		conns:  make(map[int32]*conn),
		bytes:  s.stats.addShard(),
	}, nil
}

// add hands an accepted socket to the loop.
func (l *loop) add(fd int, src peer.Key) {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		unix.Close(fd)
		l.s.drop(src)
		return
	}
	l.incoming = append(l.incoming, accepted{fd, src})
	l.mu.Unlock()
	unix.Write(l.wakefd, wakeValue)
}

// stop makes run close every connection and return.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	unix.Write(l.wakefd, wakeValue)
}

// release frees the loop's descriptors once run has returned.
func (l *loop) release() {
	l.s.stats.dropShard(l.bytes)
	l.file.Close()
	unix.Close(l.wakefd)
}

// run waits for the loop's epoll descriptor through the runtime poller
// (an epoll set is itself pollable), so a quiet loop parks like any
// goroutine instead of holding a thread in epoll_wait, and wakes with the
// scheduler's latency rather than a thread's.
//
// The runtime watches the set edge-triggered. Every new event on a member
// socket wakes it again, so the loop may park once it has taken all it
// was given, except where readiness remains without a new event: a batch
// that filled the event array, or a read that filled the buffer. Then it
// polls again before parking.
func (l *loop) run() {
	idle := l.s.idleTimeout()
	sweepEvery := min(max(idle/8, 10*time.Millisecond), time.Second)
	start := time.Now()
	var swept time.Duration
	sweep := func() {
		if now := time.Since(start); now-swept >= sweepEvery {
			l.closeIdle(now, idle)
			swept = now
		}
	}
	var failed error
	for {
		// The deadline only wakes a quiet loop to close idle connections.
		l.file.SetReadDeadline(time.Now().Add(sweepEvery))
		stopping := false
		err := l.rc.Read(func(uintptr) bool {
			for {
				n, err := unix.EpollWait(l.epfd, l.events, 0)
				switch {
				case err == unix.EINTR:
					continue
				case err != nil:
					failed = err
					return true
				case n == 0:
					return false
				}
				now := time.Since(start)
				l.again = n == len(l.events)
				for _, ev := range l.events[:n] {
					if ev.Fd == int32(l.wakefd) {
						if stopping = l.takeIncoming(now); stopping {
							return true
						}
						continue
					}
					if c := l.conns[ev.Fd]; c != nil {
						l.handle(c, ev.Events, now)
					}
				}
				sweep()
				if !l.again {
					return false
				}
			}
		})
		switch {
		case stopping:
			l.closeAll()
			return
		case failed != nil || err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
			l.s.logger().Error("epoll loop failed; closing its connections", "err", errors.Join(failed, err))
			l.closeAll()
			return
		}
		sweep()
	}
}

// takeIncoming registers the sockets handed over by add and reports
// whether the loop has been told to stop.
func (l *loop) takeIncoming(now time.Duration) (stopping bool) {
	var drain [8]byte
	unix.Read(l.wakefd, drain[:])
	l.mu.Lock()
	fds := l.incoming
	l.incoming, l.taken = l.taken[:0], nil
	stopping = l.stopping
	l.mu.Unlock()
	for _, a := range fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(a.fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, a.fd, &ev); err != nil {
			unix.Close(a.fd)
			l.s.drop(a.src)
			continue
		}
		l.conns[int32(a.fd)] = &conn{fd: int32(a.fd), at: -1, last: now, src: a.src}
	}
	l.taken = fds[:0]
	return stopping
}

func (l *loop) handle(c *conn, events uint32, now time.Duration) {
	if c.buf != nil {
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.flush(c)
		}
		return
	}
	l.echo(c, now)
}

// echo reads what is there, transforms it in the loop's buffer and writes
// it back. Whatever the socket does not take is kept, and reading stops
// until it is gone: a peer that does not read cannot make the agent buffer
// more than one read's worth for it, and what all such peers hold is
// capped (hold).
func (l *loop) echo(c *conn, now time.Duration) {
	fd := int(c.fd)
	n, err := rawRead(fd, l.buf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil || n == 0:
		l.closeConn(c)
		return
	}
	c.last = now
	l.again = l.again || n == len(l.buf)
	l.bytes.in.Add(uint64(n))
	l.s.Mode.Apply(l.buf[:n])
	w, err := rawWrite(fd, l.buf[:n])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		w = 0
	case err != nil:
		l.closeConn(c)
		return
	}
	l.bytes.out.Add(uint64(w))
	if w < n && l.hold(c, l.buf[w:n]) {
		l.watch(c, unix.EPOLLOUT)
	}
}

// hold keeps p for c until the peer takes it, then closes the loop's
// largest holders while the shared total is over the cap, and reports
// whether c is still open.
func (l *loop) hold(c *conn, p []byte) bool {
	c.buf = getPending(len(p))
	c.off, c.end = 0, int32(copy(*c.buf, p))
	l.holding.push(c)
	total := l.s.stats.pendingBytes.Add(int64(c.held()))
	for total > l.s.maxPending() && len(l.holding) > 0 {
		v := l.holding[0]
		l.closeConn(v)
		l.s.stats.pendingClosed.Add(1)
		if v == c {
			return false
		}
		total = l.s.stats.pendingBytes.Load()
	}
	return true
}

// unhold gives back what hold kept for c.
func (l *loop) unhold(c *conn) {
	l.holding.remove(c)
	l.s.stats.pendingBytes.Add(-int64(c.held()))
	putPending(c.buf)
	c.buf = nil
}

func (l *loop) flush(c *conn) {
	w, err := rawWrite(int(c.fd), (*c.buf)[c.off:c.end])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.closeConn(c)
		return
	}
	l.bytes.out.Add(uint64(w))
	if c.off += int32(w); c.off == c.end {
		l.unhold(c)
		l.watch(c, unix.EPOLLIN|unix.EPOLLRDHUP)
	}
}

func (l *loop) watch(c *conn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: c.fd}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev); err != nil {
		l.closeConn(c)
	}
}

func (l *loop) closeIdle(now, idle time.Duration) {
	for _, c := range l.conns {
		if now-c.last >= idle {
			l.closeConn(c)
			l.s.stats.idleClosed.Add(1)
		}
	}
}

func (l *loop) closeConn(c *conn) {
	if c.buf != nil {
		l.unhold(c)
	}
	unix.Close(int(c.fd))
	delete(l.conns, c.fd)
	l.s.drop(c.src)
}

func (l *loop) closeAll() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	l.mu.Lock()
	l.stopping = true
	for _, a := range l.incoming {
		unix.Close(a.fd)
		l.s.drop(a.src)
	}
	l.incoming = nil
	l.mu.Unlock()
}
