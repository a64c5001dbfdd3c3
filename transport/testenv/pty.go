package testenv

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Cable is the far end of a serial cable: the master of a kernel
// pseudo-terminal, whose slave the code under test opens through a
// symlink that outlives replugs, as /dev/serial/by-id names do.
type Cable struct {
	t      testing.TB
	master *os.File
	slave  *os.File

	mu  sync.Mutex
	got []byte // read from the master and not yet expected
}

// Plug makes a new pseudo-terminal and points the symlink path at its
// slave (replacing what path was); the test's end unplugs it.
func Plug(t testing.TB, path string) *Cable {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal: %v", err)
	}
	tmp := path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(slave.Name(), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	c := &Cable{t: t, master: master, slave: slave}
	t.Cleanup(c.Unplug)
	return c
}

// Unplug closes both ends: reads of the port fail with EIO, as when a
// USB adapter is pulled out.
func (c *Cable) Unplug() {
	c.master.Close()
	c.slave.Close()
}

// Write sends s as the device would.
func (c *Cable) Write(s string) {
	c.t.Helper()
	if _, err := c.master.Write([]byte(s)); err != nil {
		c.t.Fatalf("writing to the pseudo-terminal: %v", err)
	}
}

// Expect reads until what was read since the last Expect contains want,
// and returns that much; it fails the test after 10 seconds.
func (c *Cable) Expect(want string) string {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for {
		c.mu.Lock()
		if i := bytes.Index(c.got, []byte(want)); i >= 0 {
			out := string(c.got[:i+len(want)])
			c.got = c.got[i+len(want):]
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("waited 10s for %q; read %q", want, c.Rest())
		}
		c.master.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _ := c.master.Read(buf)
		c.mu.Lock()
		c.got = append(c.got, buf[:n]...)
		c.mu.Unlock()
	}
}

// Rest returns what was read and not yet expected.
func (c *Cable) Rest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.got)
}
