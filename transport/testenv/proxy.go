package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on loopback to a target (a broker, a service) that
// a test can turn into a bad network: cut every connection at once (a
// Wi-Fi blip), stall (stop reading what clients send: a peer or path that
// hangs) and resume, or refuse new connections (a peer out of reach while
// the test's own clients still get through). Every goroutine it starts
// ends when the test does.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed when the test ends

	mu       sync.Mutex
	conns    []net.Conn
	clients  []int         // the clients' local ports, in the order they came
	stalled  chan struct{} // non-nil while stalled; closed by Resume
	refusing bool
	wg       sync.WaitGroup
}

// StartProxy runs a proxy to target (host:port) until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, 127.0.0.1:PORT.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's address as MQTT clients take it: tcp://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "tcp://" + p.Addr() }

// Cut closes every connection open now, as a Wi-Fi blip does; new ones
// are served.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Stall stops reading what clients send, so their sockets fill (on
// loopback, a client's send buffer and some 100 KiB held by the proxy's
// side). New connections are accepted but neither read nor connected to
// the target until Resume. The proxy's receive buffer is left at the
// system's default: shrunk, loopback's 64 KiB segments no longer fit
// and a resumed connection crawls.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Resume ends a stall: what clients sent meanwhile goes on to the target.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// Refuse makes the proxy close new connections at once while on is true;
// connections already open are left alone.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = on
}

// LastClient is the local port of the latest client, 0 before the first.
func (p *Proxy) LastClient() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.clients) == 0 {
		return 0
	}
	return p.clients[len(p.clients)-1]
}

// WaitQueued calls offer (if not nil) every 20 ms until the latest
// client's socket to the stalled proxy holds at least min bytes it cannot
// send at two polls in a row, on the same connection (a loopback segment
// in flight is acknowledged within microseconds: bytes held 20 ms later
// are stuck), and returns them, failing the test after 30 s. Unlike
// WaitFull it does not wait for the buffers to stop growing: a client
// that gives up a socket that takes nothing for a few seconds (a write
// timeout) reconnects before they would.
func (p *Proxy) WaitQueued(t testing.TB, min int, offer func()) int {
	t.Helper()
	q, ok := p.waitQueued(min, offer, 30*time.Second)
	if !ok {
		t.Fatalf("the socket did not hold %d bytes within 30s (send queue %d)", min, q)
	}
	return q
}

// TryQueued is WaitQueued for at most d, without failing the test: ok
// says whether the socket held min bytes.
func (p *Proxy) TryQueued(min int, offer func(), d time.Duration) (q int, ok bool) {
	return p.waitQueued(min, offer, d)
}

func (p *Proxy) waitQueued(min int, offer func(), d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	held := 0 // the port that held min bytes at the last poll
	for {
		if offer != nil {
			offer()
		}
		port := p.LastClient()
		q, err := sendQueue(port)
		if err == nil && q >= min {
			if held == port {
				return q, true
			}
			held = port
		} else {
			held = 0
		}
		if time.Now().After(deadline) {
			return q, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFull calls offer (if not nil) every 50 ms until the latest client's
// socket to the proxy holds bytes it cannot send and that have not moved
// for a second: the stalled proxy stopped reading and the socket buffers
// are full. It returns the bytes held, failing the test after 30 s.
func (p *Proxy) WaitFull(t testing.TB, offer func()) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, since := -1, time.Now()
	for {
		if offer != nil {
			offer()
		}
		q, err := sendQueue(p.LastClient())
		switch {
		case err != nil || q == 0 || q != last:
			last, since = q, time.Now()
		case time.Since(since) > time.Second:
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("the socket did not fill within 30s (send queue %d, %v)", q, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refusing {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c)
		p.clients = append(p.clients, c.RemoteAddr().(*net.TCPAddr).Port)
		stalled := p.stalled
		p.mu.Unlock()
		p.wg.Go(func() { p.serve(c, stalled) })
	}
}

// serve forwards c to the target, once stalled (if not nil) is over.
func (p *Proxy) serve(c net.Conn, stalled chan struct{}) {
	if stalled != nil && !p.wait(stalled) {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	// Either side's end closes the other, so a Cut that misses up (dialled
	// after it) still ends both goroutines.
	p.wg.Go(func() { io.Copy(c, up); c.Close() })
	defer up.Close()
	buf := make([]byte, 4096)
	for {
		p.mu.Lock()
		stalled := p.stalled
		p.mu.Unlock()
		if stalled != nil && !p.wait(stalled) {
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
}

// wait returns true when stalled is over, false when the test ends first.
func (p *Proxy) wait(stalled chan struct{}) bool {
	select {
	case <-stalled:
		return true
	case <-p.done:
		return false
	}
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
