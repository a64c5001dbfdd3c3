package testenv

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoTarget is a TCP echo server on loopback until the test ends.
func echoTarget(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096)); c.Close() })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoes checks that msg comes back through the proxy.
func echoes(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("got %q (%v), want %q", got, err, msg)
	}
}

// closedByProxy reports whether the next read on c ends the connection.
func closedByProxy(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("neither data nor the end of the connection within 10s")
	}
	return err != nil
}

func TestProxyCut(t *testing.T) {
	p := StartProxy(t, echoTarget(t))
	c := dialProxy(t, p)
	echoes(t, c, "before")
	p.Cut()
	if !closedByProxy(t, c) {
		t.Fatal("the connection outlived the cut")
	}
	echoes(t, dialProxy(t, p), "after")
}

func TestProxyStallAndResume(t *testing.T) {
	p := StartProxy(t, echoTarget(t))
	c := dialProxy(t, p)
	echoes(t, c, "before")
	p.Stall()
	// Bounded: 64 MiB is far beyond what loopback sockets hold.
	sent := 0
	chunk := bytes.Repeat([]byte("s"), 1<<20)
	q := p.WaitFull(t, func() {
		if sent >= 64<<20 {
			return
		}
		c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, _ := c.Write(chunk)
		sent += n
	})
	if q == 0 || p.LastClient() != c.LocalAddr().(*net.TCPAddr).Port {
		t.Fatalf("send queue %d of client port %d, want the stalled client's bytes", q, p.LastClient())
	}
	// A connection that comes during the stall waits for its end.
	late := dialProxy(t, p)
	late.Write([]byte("late"))
	p.Resume()
	got := make([]byte, 4)
	late.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(late, got); err != nil || string(got) != "late" {
		t.Fatalf("late connection got %q (%v)", got, err)
	}
	// Everything the stalled client sent comes back, in order, once read.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	back := make([]byte, sent)
	if n, err := io.ReadFull(c, back); err != nil {
		t.Fatalf("reading back what was sent while stalled: %d of %d bytes: %v", n, sent, err)
	}
	if !bytes.Equal(back, bytes.Repeat([]byte("s"), sent)) {
		t.Fatalf("%d bytes sent while stalled did not all come back", sent)
	}
	echoes(t, c, "after")
}

func TestProxyRefuse(t *testing.T) {
	p := StartProxy(t, echoTarget(t))
	open := dialProxy(t, p)
	echoes(t, open, "accepted")
	p.Refuse(true)
	if !closedByProxy(t, dialProxy(t, p)) {
		t.Fatal("a connection got through while refusing")
	}
	echoes(t, open, "kept")
	p.Refuse(false)
	echoes(t, dialProxy(t, p), "let in")
}
