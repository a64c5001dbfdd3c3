//go:build linux

package echo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/transport/peer"
)

const (
	maxLoops    = 4
	loopBufSize = ReadSize
	epollBatch  = 256
)

// serveTCP runs the readiness-driven server: the listener's fd is polled
// by the Go runtime for accepts, and each accepted socket is owned by one
// of a few epoll loops that share one read buffer each. An idle connection
// costs a socket, a map entry and a 48-byte struct, with no goroutine and
// no buffer of its own (see doc.go for the figures).
func (s *Server) serveTCP(ctx context.Context, ln net.Listener) error {
	// A listener's own RawConn cannot wait for readiness, but a duplicate
	// of its descriptor as an *os.File can, through the runtime poller.
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return s.serveConns(ctx, ln)
	}
	f, err := fl.File()
	if err != nil {
		return s.serveConns(ctx, ln)
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	// Accepted sockets inherit the listener's buffer sizes.
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = limitSocketBuffers(int(fd)) }); err != nil || serr != nil {
		return fmt.Errorf("echo: socket buffers: %w", errors.Join(err, serr))
	}
	loops := make([]*loop, 0, maxLoops)
	defer func() {
		for _, l := range loops {
			l.release()
		}
	}()
	for range min(runtime.GOMAXPROCS(0), maxLoops) {
		l, err := newLoop(s)
		if err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		loops = append(loops, l)
	}
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(l.run)
	}
	err = s.acceptLoop(ctx, rc, loops)
	for _, l := range loops {
		l.stop()
	}
	wg.Wait()
	return err
}

func (s *Server) acceptLoop(ctx context.Context, rc syscall.RawConn, loops []*loop) error {
	var (
		next      int
		acceptErr error
		delay     time.Duration
	)
	err := rc.Read(func(lfd uintptr) bool {
		for ctx.Err() == nil {
			fd, sa, err := unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch {
			case err == nil:
				delay = 0
			case err == unix.EAGAIN:
				return false
			case err == unix.EINTR || err == unix.ECONNABORTED:
				continue
			case isTemporaryAccept(err):
				// Out of file descriptors or memory: back off instead
				// of spinning, as net/http does.
				s.stats.rejectAcceptErr.Add(1)
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
				continue
			default:
				acceptErr = err
				return true
			}
			src := sockaddrKey(sa)
			if !s.admit(src) {
				unix.Close(fd)
				continue
			}
			// Replies are written whole as soon as they are read, so
			// holding them back for coalescing only adds latency.
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			loops[next].add(fd, src)
			next = (next + 1) % len(loops)
		}
		return true
	})
	switch {
	case acceptErr != nil:
		return fmt.Errorf("echo: accept: %w", acceptErr)
	case err != nil && ctx.Err() == nil:
		return fmt.Errorf("echo: accept: %w", err)
	}
	return nil
}

func limitSocketBuffers(fd int) error {
	return errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, SocketBuffer),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, SocketBuffer))
}

func sockaddrKey(sa unix.Sockaddr) peer.Key {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return peer.KeyOf(netip.AddrFrom4(sa.Addr))
	case *unix.SockaddrInet6:
		return peer.KeyOf(netip.AddrFrom16(sa.Addr))
	}
	return peer.Key{}
}

func isTemporaryAccept(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}
