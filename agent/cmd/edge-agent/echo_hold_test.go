package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// echoAgent is the binary serving echo on 127.0.0.1, its counters read
// from the state it publishes every second on its embedded broker.
type echoAgent struct {
	cmd  *exec.Cmd
	addr string

	mu     sync.Mutex
	seq    int
	latest map[string]uint64
}

func startEchoAgent(t *testing.T, env ...string) *echoAgent {
	t.Helper()
	const id = "echo-hold"
	cmd := command(context.Background(), append([]string{
		"EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off",
		"EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0", "EDGE_MQTT_INTERVAL=1s",
		"EDGE_MQTT_DISCOVERY_PREFIX=off", "EDGE_DEVICE_ID=" + id,
	}, env...), "run")
	addrs := startCommand(t, cmd, "echo", "mqtt-broker")
	a := &echoAgent{cmd: cmd, addr: addrs["echo"]}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addrs["mqtt-broker"]).SetClientID(fmt.Sprintf("echo-hold-%d", time.Now().UnixNano()))
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to the embedded broker: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe("edge/"+id+"/state", 0, func(_ paho.Client, m paho.Message) {
		var doc struct {
			Services map[string]struct {
				Counters map[string]uint64 `json:"counters"`
			} `json:"services"`
		}
		if json.Unmarshal(m.Payload(), &doc) != nil || doc.Services["echo"].Counters == nil {
			return
		}
		a.mu.Lock()
		a.seq++
		a.latest = doc.Services["echo"].Counters
		a.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	a.await(t, "the first state", func(map[string]uint64) bool { return true })
	return a
}

// await returns the echo counters of the first state, published from now
// on, for which ok holds.
func (a *echoAgent) await(t *testing.T, what string, ok func(map[string]uint64) bool) map[string]uint64 {
	t.Helper()
	a.mu.Lock()
	seen := a.seq
	a.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		seq, c := a.seq, a.latest
		a.mu.Unlock()
		if seq != seen {
			seen = seq
			if ok(c) {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Fatalf("timed out waiting for %s; echo counters %v", what, a.latest)
	return nil
}

// quiet waits until two states in a row show the same traffic and
// connections: every peer has done what it will.
func (a *echoAgent) quiet(t *testing.T, ok func(map[string]uint64) bool) map[string]uint64 {
	t.Helper()
	var prev map[string]uint64
	return a.await(t, "the echo service to settle", func(c map[string]uint64) bool {
		same := prev != nil && maps.EqualFunc(prev, c, func(x, y uint64) bool { return x == y })
		prev = c
		return same && ok(c)
	})
}

// echoStatusKiB reads one field (VmRSS, VmHWM) of /proc/PID/status.
func echoStatusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kib int
			fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib)
			return kib
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// echoSettledRSS returns VmRSS once two reads 200ms apart agree within 1%.
func echoSettledRSS(t *testing.T, pid int) int {
	t.Helper()
	prev := echoStatusKiB(t, pid, "VmRSS")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		cur := echoStatusKiB(t, pid, "VmRSS")
		if cur*100 <= prev*101 && cur*100 >= prev*99 {
			return cur
		}
		prev = cur
	}
	return prev
}

// echoWellBehaved checks that a client from 127.0.0.2 that reads each
// reply before it sends more gets them all. (One that lets replies back up
// beyond its socket buffers holds as the flood does, and may be the
// largest holder when the cap is reached.)
func echoWellBehaved(t *testing.T, addr string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for _, size := range []int{5, 1000, 16 << 10} {
		msg := bytes.Repeat([]byte("echo me "), size/8+1)[:size]
		errc := make(chan error, 1)
		go func() { _, err := c.Write(msg); errc <- err }()
		got := make([]byte, size)
		_, rerr := io.ReadFull(c, got)
		if err := <-errc; err != nil || rerr != nil {
			t.Fatalf("well-behaved client, %d bytes: write %v, read %v", size, err, rerr)
		}
		if !bytes.Equal(got, bytes.ToUpper(msg)) {
			t.Fatalf("well-behaved client, %d bytes: wrong reply", size)
		}
	}
}

const echoRSSGrowthLimit = 32 << 10 // KiB

// With the per-source cap out of the way, the cap on held replies is what
// bounds 3,000 connections from one host that send without reading.
// Without it they hold about 47 MiB (16 KiB each: what is left of a read
// when the socket's buffer fills) and the agent's RSS grows by about
// 38 MiB.
func TestEchoHeldRepliesCapBoundsRSS(t *testing.T) {
	const n = 3000
	a := startEchoAgent(t, "EDGE_ECHO_MAX_CONNS_PER_SOURCE=100000")
	pid := a.cmd.Process.Pid
	before := echoSettledRSS(t, pid)
	testenv.FloodFrom(t, "127.0.0.1", a.addr, n, 1<<20, 4096)
	c := a.quiet(t, func(c map[string]uint64) bool { return c["conns_active"]+c["conns_closed_pending"] == n })
	rss, hwm := echoSettledRSS(t, pid), echoStatusKiB(t, pid, "VmHWM")
	t.Logf("RSS before %d KiB, with %d holders %d KiB (peak %d KiB); held %d bytes, closed %d",
		before, c["conns_active"], rss, hwm, c["pending_bytes"], c["conns_closed_pending"])
	if c["conns_closed_pending"] == 0 || c["pending_bytes"] > 16<<20 || c["rejected_source_limit"] != 0 {
		t.Errorf("counters %v: want conns_closed_pending > 0, pending_bytes <= 16 MiB, rejected_source_limit 0", c)
	}
	echoWellBehaved(t, a.addr)
	if hwm = echoStatusKiB(t, pid, "VmHWM"); hwm-before >= echoRSSGrowthLimit {
		t.Errorf("RSS grew from %d KiB to a peak of %d KiB, %d KiB or more", before, hwm, echoRSSGrowthLimit)
	}
}

// With the default of 64 connections per source, 300 from one host get
// 64 places; the rest are closed at once.
func TestEchoConnsPerSourceDefault(t *testing.T) {
	const n = 300
	a := startEchoAgent(t)
	pid := a.cmd.Process.Pid
	before := echoSettledRSS(t, pid)
	testenv.FloodFrom(t, "127.0.0.1", a.addr, n, 1<<20, 4096)
	c := a.quiet(t, func(c map[string]uint64) bool { return c["rejected_source_limit"] == n-64 })
	if c["conns_active"] != 64 || c["conns_closed_pending"] != 0 {
		t.Errorf("counters %v: want conns_active 64, conns_closed_pending 0", c)
	}
	echoWellBehaved(t, a.addr)
	rss, hwm := echoSettledRSS(t, pid), echoStatusKiB(t, pid, "VmHWM")
	t.Logf("RSS before %d KiB, with 64 holders %d KiB (peak %d KiB); held %d bytes", before, rss, hwm, c["pending_bytes"])
	if hwm-before >= echoRSSGrowthLimit {
		t.Errorf("RSS grew from %d KiB to a peak of %d KiB, %d KiB or more", before, hwm, echoRSSGrowthLimit)
	}
}

func TestEchoLimitsValidated(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"EDGE_ECHO_MAX_CONNS_PER_SOURCE=0", "at least 1"},
		{"EDGE_ECHO_MAX_CONNS_PER_SOURCE=-3", "at least 1"},
		{"EDGE_ECHO_MAX_PENDING=16KiB", "at least 32KiB"},
		{"EDGE_ECHO_MAX_PENDING=0", "at least 32KiB"},
		{"EDGE_ECHO_MAX_PENDING=lots", "64MiB"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := command(ctx, []string{tc.env, "EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run").CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitConfig {
				t.Fatalf("exit: %v, want status 78\n%s", err, out)
			}
			name, _, _ := strings.Cut(tc.env, "=")
			if !strings.Contains(string(out), name) || !strings.Contains(string(out), tc.want) {
				t.Errorf("message %q does not name %s and %q", out, name, tc.want)
			}
		})
	}
}
