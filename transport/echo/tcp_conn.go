package echo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"edge-agent/transport/peer"
)

// serveConns is the portable server: one goroutine and one buffer per
// connection. It is used where the epoll server cannot be (other systems,
// listeners that are not TCP sockets).
func (s *Server) serveConns(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
		holds writeHolds
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of file descriptors and the like: back off
				// instead of spinning, as net/http does.
				s.stats.rejectAcceptErr.Add(1)
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
				}
				continue
			}
			return fmt.Errorf("echo: accept: %w", err)
		}
		delay = 0
		if b, ok := c.(interface {
			SetReadBuffer(int) error
			SetWriteBuffer(int) error
		}); ok {
			b.SetReadBuffer(SocketBuffer)
			b.SetWriteBuffer(SocketBuffer)
		}
		src := peer.KeyOfAddr(c.RemoteAddr())
		if !s.admit(src) {
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			s.echoConn(c, &holds)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
			s.drop(src)
		})
	}
}

// echoConn echoes on c until the peer closes or fails, stays idle, or is
// closed for the cap on held replies. Its buffer is the only one it has,
// so the reply being written is what it holds for a peer that does not
// read: at most 4 KiB, counted in the same total as the epoll loops'.
func (s *Server) echoConn(c net.Conn, holds *writeHolds) {
	buf := make([]byte, 4096)
	idle := s.idleTimeout()
	w := &writer{close: c.Close, at: -1}
	for {
		// The deadline covers the write too: a peer that stops reading
		// is as idle as one that stops sending, as in the epoll loops.
		c.SetDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		if n > 0 {
			s.stats.tcpBytesIn.Add(uint64(n))
			s.Mode.Apply(buf[:n])
			if !s.enter(holds, w, n) {
				return
			}
			wn, werr := c.Write(buf[:n])
			s.leave(holds, w)
			s.stats.tcpBytesOut.Add(uint64(wn))
			if werr != nil {
				err = werr
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.stats.idleClosed.Add(1)
			}
			return
		}
	}
}
