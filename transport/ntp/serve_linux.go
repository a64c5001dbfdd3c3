//go:build linux

package ntp

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// serve reads requests in batches (recvmmsg) and answers each batch with
// one sendmmsg, inside a single read callback of the runtime poller: it
// drains the socket, then parks until the next datagram, holding no thread
// while the LAN is quiet.
//
// Measured with scripts/bench-time.sh, nearly all of the CPU per request is
// the kernel's: the receive, and the send, which on loopback also delivers
// the reply to the client and wakes it. A dedicated reader blocked in
// recvmmsg was tried and cost more, through the scheduler's handling of a
// goroutine that lives in system calls.
func (s *Server) serve(ctx context.Context, uc *net.UDPConn, r *responder) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("ntp: %w", err)
	}
	var optErr error
	rc.Control(func(fd uintptr) {
		optErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
	if optErr != nil {
		s.logger().Warn("no kernel receive timestamps; stamping in user space", "err", optErr)
	}
	b := newBatch()
	var failed error
	// Made once: a closure built per call would be an allocation per wake.
	drain := func(fd uintptr) bool {
		for {
			b.reset()
			n, errno := recvmmsg(int(fd), b.in[:], unix.MSG_DONTWAIT)
			switch {
			case errno == unix.EAGAIN:
				return false
			case errno == unix.EINTR:
				continue
			case errno != 0:
				failed = errno
				return true
			}
			s.answerBatch(int(fd), r, b, n)
		}
	}
	for ctx.Err() == nil {
		if err := rc.Read(drain); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ntp: %w", err)
		}
		if failed != nil {
			return fmt.Errorf("ntp: recvmmsg: %w", failed)
		}
	}
	return nil
}

// answerBatch answers the n datagrams recvmmsg put in b.
func (s *Server) answerBatch(fd int, r *responder, b *batch, n int) {
	s.stats.batchesRead.Add(1)
	now := time.Now()
	replies := 0
	for i := range n {
		rx, ok := rxTime(b.oob[i][:b.in[i].hdr.Controllen])
		if ok {
			s.stats.kernelStamps.Add(1)
		} else {
			s.stats.userStamps.Add(1)
			rx = now
		}
		size := min(int(uint32(b.in[i].len)), slotSize)
		if r.answer(b.bufs[i][:size], b.sourceOf(i), rx, now, b.reply[i][:]) {
			b.prepareReply(replies, i)
			replies++
		}
	}
	if replies > 0 {
		s.send(fd, b, replies)
	}
}

// send stamps and sends the first n prepared replies without blocking. A
// reply the kernel refuses (no route, buffer full) is counted and dropped:
// one bad destination must not hold up the others, and a late time reply
// is worse than none.
func (s *Server) send(fd int, b *batch, n int) {
	now := time.Now()
	for j := range n {
		stampTransmit(b.reply[b.outIdx[j]][:], now)
	}
	for from := 0; from < n; {
		sent, errno := sendmmsg(fd, b.out[from:n], unix.MSG_DONTWAIT)
		switch {
		case errno == unix.EINTR:
		case errno != 0:
			s.stats.sendErrors.Add(1)
			from++
		default:
			from += sent
		}
	}
}
