package bridge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a TCP proxy to a broker that a test can cut (every open
// connection closed at once, as a Wi-Fi blip does) or stall (it stops
// reading what the client sends, and accepts new connections without
// ever reading them: a broker or path that hangs).
type proxy struct {
	ln      net.Listener
	stalled atomic.Bool
	release chan struct{} // closed at the end: stalled readers return

	mu      sync.Mutex
	conns   []net.Conn
	clients []int // the clients' local ports, in the order they came
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, upstream string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, release: make(chan struct{})}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.clients = append(p.clients, c.RemoteAddr().(*net.TCPAddr).Port)
			p.mu.Unlock()
			if p.stalled.Load() {
				continue // accepted, never read
			}
			// A small receive buffer, so that a stalled connection
			// fills with little traffic.
			c.(*net.TCPConn).SetReadBuffer(8 << 10)
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
			p.wg.Go(func() {
				defer up.Close()
				buf := make([]byte, 4096)
				for {
					if p.stalled.Load() {
						<-p.release
						return
					}
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := up.Write(buf[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		close(p.release)
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "tcp://" + p.ln.Addr().String() }

// cut closes every connection open now; new ones are served.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// lastClient is the local port of the latest client, 0 before the first.
func (p *proxy) lastClient() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.clients) == 0 {
		return 0
	}
	return p.clients[len(p.clients)-1]
}

// sendQueue returns the bytes a loopback TCP socket of this network
// namespace, known by its local port, holds unsent or unacknowledged
// (tx_queue in /proc/net/tcp).
func sendQueue(port int) (int, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[1] != local {
			continue
		}
		tx, _, _ := strings.Cut(fields[4], ":")
		n, err := strconv.ParseUint(tx, 16, 32)
		return int(n), err
	}
	return 0, fmt.Errorf("no socket on local port %d", port)
}
