package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen is a socket in systemd's place.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	if sent, err := Notify(Ready); !sent || err != nil {
		t.Fatalf("Notify: %v %v", sent, err)
	}
	if got := receive(t, c); got != "READY=1" {
		t.Errorf("got %q", got)
	}
	Notify(ExtendTimeout(75 * time.Second))
	if got := receive(t, c); got != "EXTEND_TIMEOUT_USEC=75000000" {
		t.Errorf("got %q", got)
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := "edge-agent-sdnotify-test-" + strconv.Itoa(os.Getpid())
	c := listen(t, "@"+name)
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if sent, err := Notify(Watchdog); !sent || err != nil {
		t.Fatalf("Notify: %v %v", sent, err)
	}
	if got := receive(t, c); got != "WATCHDOG=1" {
		t.Errorf("got %q", got)
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify(Ready); sent || err != nil {
		t.Errorf("without a socket: %v %v", sent, err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if _, err := Notify(Ready); err == nil {
		t.Error("a relative socket path was accepted")
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if sent, err := Notify(Ready); sent || err == nil {
		t.Errorf("a socket nobody listens on: %v %v", sent, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		bad       bool
	}{
		{"", "", 0, false},
		{"30000000", "", 15 * time.Second, false},
		{"30000000", pid, 15 * time.Second, false},
		{"30000000", "1", 0, false}, // another process's watchdog
		{"x", "", 0, true},
		{"-5", "", 0, true},
		{"0", "", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, err := WatchdogInterval()
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v", tc.usec, tc.pid, got, err)
		}
	}
}
