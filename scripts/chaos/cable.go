package main

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
)

// errUnplugged is what a write to a cable that is pulled out returns.
var errUnplugged = errors.New("cable unplugged")

// cable is the far end of a serial port, as transport/testenv's Cable:
// the master of a pseudo-terminal whose slave the agent opens through a
// symlink that outlives replugs, as a /dev/serial/by-id name does. A
// goroutine reads the master into a buffer for the clients to search;
// unplugging closes both ends, so the agent's reads fail with EIO.
type cable struct {
	path string

	mu      sync.Mutex
	master  *os.File
	slave   *os.File
	got     []byte
	readers sync.WaitGroup
	lines   func(string) // called with each complete line read, if set
}

// maxBuffered bounds what a cable keeps of the agent's output.
const maxBuffered = 1 << 20

func newCable(path string, lines func(string)) *cable {
	return &cable{path: path, lines: lines}
}

// plug makes a new pseudo-terminal and points the symlink at its slave.
func (c *cable) plug() error {
	master, slave, err := pty.Open()
	if err != nil {
		return err
	}
	tmp := c.path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(slave.Name(), tmp); err != nil {
		master.Close()
		slave.Close()
		return err
	}
	if err := os.Rename(tmp, c.path); err != nil {
		master.Close()
		slave.Close()
		return err
	}
	c.mu.Lock()
	c.master, c.slave, c.got = master, slave, nil
	c.mu.Unlock()
	c.readers.Go(func() { c.read(master) })
	return nil
}

// unplug closes both ends and waits for the reader.
func (c *cable) unplug() {
	c.mu.Lock()
	m, s := c.master, c.slave
	c.master, c.slave = nil, nil
	c.mu.Unlock()
	if m != nil {
		m.Close()
		s.Close()
	}
	c.readers.Wait()
}

func (c *cable) read(m *os.File) {
	buf := make([]byte, 4096)
	var line []byte
	for {
		n, err := m.Read(buf)
		if n > 0 {
			c.mu.Lock()
			if len(c.got)+n > maxBuffered {
				c.got = c.got[:0]
			}
			c.got = append(c.got, buf[:n]...)
			c.mu.Unlock()
			if c.lines != nil {
				for _, b := range buf[:n] {
					if b == '\n' || b == '\r' {
						if len(line) > 0 {
							c.lines(string(line))
						}
						line = line[:0]
					} else if len(line) < 4096 {
						line = append(line, b)
					}
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// write sends b as the device would, within a second.
func (c *cable) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.master == nil {
		return errUnplugged
	}
	c.master.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.master.Write(b)
	return err
}

// reset forgets what was read so far.
func (c *cable) reset() {
	c.mu.Lock()
	c.got = c.got[:0]
	c.mu.Unlock()
}

// expect waits until what was read since the last reset or expect holds
// each of want in order, consumes it, and reports whether it did within
// timeout.
func (c *cable) expect(timeout time.Duration, want ...string) bool {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		rest, ok := c.got, true
		for _, w := range want {
			i := bytes.Index(rest, []byte(w))
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if ok {
			c.got = append(c.got[:0], rest...)
		}
		c.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
