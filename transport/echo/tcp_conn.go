package echo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// serveConns is the portable server: one goroutine and one buffer per
// connection. It is used where the epoll server cannot be (other systems,
// listeners that are not TCP sockets).
func (s *Server) serveConns(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
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
		if !s.admit() {
			c.Close()
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			s.echoConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
			s.stats.connsActive.Add(-1)
		})
	}
}

func (s *Server) echoConn(c net.Conn) {
	buf := make([]byte, 4096)
	idle := s.idleTimeout()
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		if n > 0 {
			s.stats.tcpBytesIn.Add(uint64(n))
			s.Mode.Apply(buf[:n])
			w, werr := c.Write(buf[:n])
			s.stats.tcpBytesOut.Add(uint64(w))
			if werr != nil {
				return
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
