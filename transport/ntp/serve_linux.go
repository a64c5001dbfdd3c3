//go:build linux

package ntp

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// serve reads requests in batches and answers each batch with one
// sendmmsg, through the runtime poller so a quiet server holds no thread.
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
	// The callbacks are made once: a closure built per call would be an
	// allocation per batch.
	var (
		n    int
		rerr unix.Errno
	)
	read := func(fd uintptr) bool {
		b.reset()
		n, rerr = recvmmsg(int(fd), b.in[:])
		return rerr != unix.EAGAIN
	}
	w := &writer{rc: rc, b: b}
	w.fn = w.write
	for {
		err := rc.Read(read)
		if err != nil {
			return err
		}
		if rerr == unix.EINTR {
			continue
		}
		if rerr != 0 {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ntp: recvmmsg: %w", rerr)
		}
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
			size := min(int(b.in[i].len), slotSize)
			if r.answer(b.bufs[i][:size], b.sourceOf(i), rx, b.reply[i][:]) {
				b.prepareReply(replies, i)
				replies++
			}
		}
		if replies > 0 {
			s.send(w, replies)
		}
	}
}

// writer sends prepared replies with sendmmsg.
type writer struct {
	rc       syscall.RawConn
	b        *batch
	fn       func(uintptr) bool // w.write, bound once
	from, to int
	sent     int
	errno    unix.Errno
}

func (w *writer) write(fd uintptr) bool {
	w.sent, w.errno = sendmmsg(int(fd), w.b.out[w.from:w.to])
	return w.errno != unix.EAGAIN
}

// send stamps and sends the first n prepared replies. A reply the kernel
// refuses (no route, buffer full) is counted and skipped: one bad
// destination must not hold up the others.
func (s *Server) send(w *writer, n int) {
	now := time.Now()
	for j := range n {
		stampTransmit(w.b.reply[w.b.outIdx[j]][:], now)
	}
	w.from, w.to = 0, n
	for w.from < n {
		err := w.rc.Write(w.fn)
		switch {
		case err != nil:
			s.stats.sendErrors.Add(uint64(n - w.from))
			return
		case w.errno == unix.EINTR:
		case w.errno != 0:
			s.stats.sendErrors.Add(1)
			w.from++
		default:
			w.from += w.sent
		}
	}
}
