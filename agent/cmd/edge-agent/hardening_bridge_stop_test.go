package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// stallProxy forwards TCP to a broker until stalled; then it stops
// reading what clients send, and accepts new connections without ever
// reading them: a broker, or a path to it, that hangs.
type stallProxy struct {
	ln      net.Listener
	stalled atomic.Bool
	release chan struct{}

	mu      sync.Mutex
	conns   []net.Conn
	clients []int // the clients' local ports
	wg      sync.WaitGroup
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, release: make(chan struct{})}
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
				continue
			}
			// A small receive buffer: a stalled connection fills with
			// the agent's socket buffer and little more.
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

// cut closes every connection open now, as a Wi-Fi blip does; new ones
// are served.
func (p *stallProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *stallProxy) url() string { return "tcp://" + p.ln.Addr().String() }

func (p *stallProxy) lastClient() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.clients) == 0 {
		return 0
	}
	return p.clients[len(p.clients)-1]
}

// tcpSendQueue is tx_queue of /proc/net/tcp for the loopback socket with
// this local port: bytes it holds unsent or unacknowledged.
func tcpSendQueue(port int) (int, error) {
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

// A broker that stops reading while the agent has plenty to send (a
// chatty microcontroller, state every second) must not hold up a stop:
// on SIGTERM the agent exits 0 within the 10 s grace.
func TestHardeningStopWithAStalledBroker(t *testing.T) {
	m := testenv.StartMosquitto(t)
	proxy := newStallProxy(t, m.Addr)

	// The microcontroller: a pseudo-terminal behind a stable name.
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	port := filepath.Join(t.TempDir(), "ttyMCU")
	if err := os.Symlink(slave.Name(), port); err != nil {
		t.Fatal(err)
	}

	states := make(chan paho.Message, 64)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL).SetClientID("hardening-stop-watch"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(100) })
	if tok := sub.Subscribe("edge/stall/state", 1, func(_ paho.Client, msg paho.Message) {
		select {
		case states <- msg:
		default:
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=" + proxy.url(), "EDGE_DEVICE_ID=stall",
		"EDGE_MQTT_INTERVAL=1s", "EDGE_FIRMWARE_PORT=" + port, "EDGE_FIRMWARE_MAX_FRAME=16384",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	startCommand(t, cmd, "mqtt", "firmware")
	// Connected, and the port open.
	deadline := time.After(15 * time.Second)
	for up := false; !up; {
		select {
		case msg := <-states:
			var doc struct {
				Services map[string]struct {
					Counters map[string]uint64 `json:"counters"`
				} `json:"services"`
			}
			json.Unmarshal(msg.Payload(), &doc)
			up = doc.Services["firmware"].Counters["link_up"] == 1
		case <-deadline:
			t.Fatal("no state with the firmware link up")
		}
	}

	proxy.stalled.Store(true)
	// 16 KiB lines for the agent to forward, until the socket is full;
	// bounded in count (64 MiB) and time.
	stop := make(chan struct{})
	var lines atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		line := []byte(strings.Repeat("x", 16<<10-1) + "\n")
		for range 4096 {
			select {
			case <-stop:
				return
			default:
			}
			master.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := master.Write(line); err != nil {
				return
			}
			lines.Add(1)
		}
	})
	full := false
	last, since := -1, time.Now()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		q, err := tcpSendQueue(proxy.lastClient())
		if err != nil || q == 0 || q != last {
			last, since = q, time.Now()
			continue
		}
		if time.Since(since) > time.Second {
			full = true
			break
		}
	}
	close(stop)
	wg.Wait()
	if !full {
		t.Fatalf("the agent's socket did not fill within 30s (send queue %d)", last)
	}
	t.Logf("socket full: %d bytes queued after %d lines of 16 KiB", last, lines.Load())

	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(sent)
		t.Logf("exited %v after SIGTERM (grace %v)", took.Round(time.Millisecond), stopGrace)
		if err != nil {
			t.Fatalf("exit after %v: %v, want status 0", took, err)
		}
		if took >= stopGrace {
			t.Errorf("took %v, want within the %v grace", took, stopGrace)
		}
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatalf("still running %v after SIGTERM", stopGrace+5*time.Second)
	}
}
