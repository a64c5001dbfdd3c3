package echo

import (
	"bytes"
	"edge-agent/transport/testenv"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func TestTCPEcho(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{}
		addr, _ := startTCP(t, s, portable)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, msg := range []string{"hello", "x", "mixed Case 你好 \x00\xff", string(bytes.Repeat([]byte("abc"), 30000))} {
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("reading %d bytes: %v", len(msg), err)
			}
			want := []byte(msg)
			Upper.Apply(want)
			if !bytes.Equal(got, want) {
				t.Fatalf("echo of %.20q... = %.20q...", msg, got)
			}
		}
		testenv.WaitFor(t, "byte counters", func() bool {
			return s.Counters()["tcp_bytes_out"] == s.Counters()["tcp_bytes_in"] && s.Counters()["tcp_bytes_in"] == 90000+5+1+20
		})
	})
}

// A peer that sends a lot before reading anything makes the server hold
// back; every byte must still come back in order.
func TestTCPPeerThatDoesNotRead(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{Mode: Plain}
		addr, _ := startTCP(t, s, portable)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := make([]byte, 8<<20)
		for i := range msg {
			msg[i] = byte(i * 7 / 3)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			errc <- err
		}()
		// Let the send side fill every buffer before reading starts.
		testenv.WaitFor(t, "the server to stall on a full socket", func() bool {
			in, out := s.Counters()["tcp_bytes_in"], s.Counters()["tcp_bytes_out"]
			return in > 0 && in > out || in == uint64(len(msg))
		})
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes back, want %d identical", len(got), len(msg))
		}
	})
}

func TestTCPThousandsOfConnections(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		const n = 2000
		s := &Server{MaxConnsPerSource: n}
		addr, _ := startTCP(t, s, portable)
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		testenv.WaitFor(t, fmt.Sprintf("%d active connections", n), func() bool { return counter(s, "conns_active")() == n })
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range 8 {
			wg.Go(func() {
				buf := make([]byte, 16)
				for i := w; i < n; i += 8 {
					msg := fmt.Sprintf("conn %011d", i)
					c := conns[i]
					c.SetDeadline(time.Now().Add(20 * time.Second))
					if _, err := c.Write([]byte(msg)); err != nil {
						errs <- err
						return
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprintf("CONN %011d", i); string(buf) != want {
						errs <- fmt.Errorf("conn %d: got %q want %q", i, buf, want)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, c := range conns {
			c.Close()
		}
		testenv.WaitFor(t, "all connections to close", func() bool { return counter(s, "conns_active")() == 0 })
		if got := counter(s, "conns_total")(); got != n {
			t.Errorf("conns_total = %d, want %d", got, n)
		}
	})
}

func TestTCPConnectionCap(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{MaxConns: 3}
		addr, _ := startTCP(t, s, portable)
		var kept []net.Conn
		defer func() {
			for _, c := range kept {
				c.Close()
			}
		}()
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, c)
		}
		testenv.WaitFor(t, "3 active connections", func() bool { return counter(s, "conns_active")() == 3 })
		extra, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		extra.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := extra.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("connection over the cap: read %d, %v; want it closed", n, err)
		}
		if got := counter(s, "rejected_conn_limit")(); got != 1 {
			t.Errorf("rejected_conn_limit = %d, want 1", got)
		}
		// The kept ones still work.
		if _, err := kept[2].Write([]byte("ok")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2)
		kept[2].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(kept[2], buf); err != nil || string(buf) != "OK" {
			t.Fatalf("kept connection: %q, %v", buf, err)
		}
		// A freed slot is usable again.
		kept[0].Close()
		testenv.WaitFor(t, "2 active connections", func() bool { return counter(s, "conns_active")() == 2 })
		again, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, again)
		testenv.WaitFor(t, "3 active connections", func() bool { return counter(s, "conns_active")() == 3 })
	})
}

func TestTCPIdleTimeout(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{IdleTimeout: 100 * time.Millisecond}
		addr, _ := startTCP(t, s, portable)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection: %v, want EOF from the server", err)
		}
		testenv.WaitFor(t, "conns_idle_closed", func() bool { return counter(s, "conns_idle_closed")() == 1 })
		testenv.WaitFor(t, "conns_active 0", func() bool { return counter(s, "conns_active")() == 0 })
	})
}

func TestTCPShutdownClosesConnections(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		s := &Server{}
		addr, stop := startTCP(t, s, portable)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		testenv.WaitFor(t, "the connection", func() bool { return counter(s, "conns_active")() == 1 })
		stop()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("after shutdown: %v, want the connection closed", err)
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Error("listener still accepts after shutdown")
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
