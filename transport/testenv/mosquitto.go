package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a mosquitto broker of one test's own, on a loopback port
// that stays the same across Stop and Start, so clients can be tested
// against a broker that is down at their start, goes away and comes back.
// It keeps nothing across a restart (no persistence). Its methods fail the
// test, so they belong on the test's goroutine.
type Mosquitto struct {
	// URL is the broker's address as MQTT clients take it:
	// tcp://127.0.0.1:PORT.
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string

	t    testing.TB
	path string
	conf string
	log  LockedBuffer

	cmd    *exec.Cmd
	exited chan error // receives the process's end, once
}

// StartMosquitto runs a mosquitto broker until the test ends.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	m := NewMosquitto(t)
	m.Start()
	return m
}

// NewMosquitto prepares a mosquitto broker on a free loopback port without
// starting it. Whatever is running at the end of the test is stopped; the
// broker's log is written to the test log if the test failed.
func NewMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	path := Program(t, "mosquitto", "mosquitto", "/usr/sbin/mosquitto")
	port := freeTCPPort(t)
	m := &Mosquitto{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		t:    t,
		path: path,
		conf: filepath.Join(t.TempDir(), "mosquitto.conf"),
	}
	m.URL = "tcp://" + m.Addr
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type all
log_timestamp_format %%H:%%M:%%S
`, port)
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.log.String())
		}
	})
	return m
}

// Start runs the broker and returns once it accepts connections. It fails
// the test if the broker exits or does not listen within 10 seconds.
func (m *Mosquitto) Start() {
	m.t.Helper()
	if m.cmd != nil {
		m.t.Fatal("mosquitto: Start while running")
	}
	fmt.Fprintf(&m.log, "--- start %s\n", time.Now().Format("15:04:05.000"))
	cmd := exec.Command(m.path, "-c", m.conf)
	cmd.Stdout = &m.log
	cmd.Stderr = &m.log
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m.cmd, m.exited = cmd, exited

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			m.cmd = nil
			m.t.Fatalf("mosquitto exited before listening on %s: %v\n%s", m.Addr, err, m.log.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not listening on %s within 10s: %v", m.Addr, err)
		}
	}
}

// Stop ends the broker as a service manager would (SIGTERM, SIGKILL after
// 5 seconds) and returns once it has exited and its port is free to bind
// again. Clients see their connections close. Stopping a stopped broker
// does nothing.
func (m *Mosquitto) Stop() {
	m.t.Helper()
	if m.cmd == nil {
		return
	}
	fmt.Fprintf(&m.log, "--- stop %s\n", time.Now().Format("15:04:05.000"))
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
		m.t.Error("mosquitto ignored SIGTERM for 5s")
	}
	m.cmd = nil
}

// Restart stops the broker and starts it again on the same port.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Stop()
	m.Start()
}

// freeTCPPort returns a loopback port nothing listens on at the moment.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
