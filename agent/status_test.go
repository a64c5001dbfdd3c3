package agent

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"edge-agent/agent/health"
)

// stateGoroutines is agent_goroutines from the retained state document,
// as an MQTT subscriber reads it.
func stateGoroutines(t *testing.T, a *Agent) int {
	t.Helper()
	b, err := json.Marshal((&mqttSource{a: a, health: &health.Collector{DiskPath: t.TempDir()}}).State())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Goroutines *int `json:"agent_goroutines"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Goroutines == nil {
		t.Fatalf("no agent_goroutines in the state document (%v): %s", err, b)
	}
	return *doc.Goroutines
}

// The state document carries the goroutine count, which follows the
// connections peers hold open and falls back when they let go: what the
// hostile-client battery (scripts/chaos.sh) reads to tell a leak.
func TestStateReportsGoroutinesThatFollowConnections(t *testing.T) {
	c := testConfig(t)
	c.Echo.Addr, c.NTP.Addr, c.Time.Addr = Off, Off, Off
	c.File.HeaderTimeout = time.Minute
	a := New(c, nil)
	start(t, a)
	var addr string
	for _, s := range a.Status().Services {
		if s.Name == "file" {
			addr = s.Addr
		}
	}
	base := stateGoroutines(t, a)
	if base <= 0 {
		t.Fatalf("agent_goroutines %d", base)
	}

	// Three silent upload connections each hold a goroutine of the
	// receiver until their header deadline.
	var conns []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	waitGoroutines(t, a, func(n int) bool { return n >= base+3 }, "to rise by 3 with 3 open connections")
	for _, conn := range conns {
		conn.Close()
	}
	waitGoroutines(t, a, func(n int) bool { return n <= base }, "to fall back once the connections closed")
}

func waitGoroutines(t *testing.T, a *Agent, ok func(int) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := stateGoroutines(t, a)
		if ok(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent_goroutines %d after 10s; waited for it %s", n, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
