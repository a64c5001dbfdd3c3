package firmwarebridge

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/creack/pty"

	"edge-agent/transport/testenv"
)

// reader is the far end of a serial cable on a pseudo-terminal that
// reads everything written to the port as fast as it comes, so a test can
// write without limit without the port's output filling.
type reader struct {
	master, slave *os.File
	done          chan struct{}
	mu            sync.Mutex
	got           bytes.Buffer
	taken         int // bytes of got returned by expect
}

// plugReader makes a pseudo-terminal behind the symlink path and reads it.
func plugReader(t testing.TB, path string) *reader {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal: %v", err)
	}
	os.Remove(path + ".new")
	if err := os.Symlink(slave.Name(), path+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	r := &reader{master: master, slave: slave, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			r.mu.Lock()
			r.got.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(r.unplug)
	return r
}

// unplug closes the pseudo-terminal (the port fails with EIO) and waits
// for the reader.
func (r *reader) unplug() {
	r.master.Close()
	r.slave.Close()
	<-r.done
}

// lines returns the whole lines read: not the part of one that was
// being written when the cable went.
func (r *reader) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := strings.Split(r.got.String(), "\n")
	return all[:len(all)-1]
}

// write sends s as the device would.
func (r *reader) write(t *testing.T, s string) {
	t.Helper()
	if _, err := r.master.Write([]byte(s)); err != nil {
		t.Fatalf("writing to the pseudo-terminal: %v", err)
	}
}

// expect waits until what was read since the last expect contains want,
// and returns that much.
func (r *reader) expect(t *testing.T, want string) string {
	t.Helper()
	var out string
	defer func() {
		if t.Failed() && out == "" {
			t.Logf("read so far: %q", tail(r.rest()))
		}
	}()
	testenv.WaitFor(t, fmt.Sprintf("%q from the port", want), func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		rest := r.got.String()[r.taken:]
		i := strings.Index(rest, want)
		if i < 0 {
			return false
		}
		out = rest[:i+len(want)]
		r.taken += len(out)
		return true
	})
	return out
}

// rest returns what was read and not yet taken by expect.
func (r *reader) rest() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got.String()[r.taken:]
}

// tail is the end of a long text, for a failure message.
func tail(s string) string {
	if len(s) > 300 {
		return "..." + s[len(s)-300:]
	}
	return s
}
