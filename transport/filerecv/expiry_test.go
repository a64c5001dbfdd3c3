package filerecv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// fakeClock reads a monotonic base plus what the test advanced it by.
type fakeClock struct {
	mu   sync.Mutex
	base time.Time
	adv  time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{base: time.Now()} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.adv)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.adv += d
	c.mu.Unlock()
}

// An expiry run in the middle of an upload, however short the TTL, leaves
// the upload's file alone: the upload completes and is published.
func TestExpirySparesUploadsInProgress(t *testing.T) {
	ts := start(t, &Server{})
	for _, resume := range []bool{false, true} {
		t.Run(fmt.Sprint("resume=", resume), func(t *testing.T) {
			name := fmt.Sprint("spanning-", resume)
			data := randomBytes(100_000)
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			WriteHeader(c, Header{FileName: name, FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: resume}, false)
			var ready, res map[string]any
			if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
				t.Fatalf("ready: %v %v", ready, err)
			}
			c.Write(data[:40_000])
			testenv.WaitFor(t, "the first part on disk", func() bool {
				for _, n := range testenv.DirNames(t, ts.dir) {
					if info, err := os.Stat(filepath.Join(ts.dir, n)); err == nil && strings.HasPrefix(n, ReservedPrefix) && info.Size() == 40_000 {
						return true
					}
				}
				return false
			})
			if n, err := ts.Store.Expire(time.Nanosecond); err != nil || n != 0 {
				t.Errorf("expiry during the upload removed %d files (%v)", n, err)
			}
			c.Write(data[40_000:])
			if err := ReadFrame(c, &res); err != nil || res["status"] != "ok" {
				t.Fatalf("upload spanning an expiry: %v %v", res, err)
			}
			if got, _ := os.ReadFile(filepath.Join(ts.dir, name)); !bytes.Equal(got, data) {
				t.Error("the stored file differs")
			}
		})
	}
}

// Partial ages are the agent's own: a partial found at start-up counts
// from start-up whatever its mtime says (a clock that jumped forward by
// two days, or backward), an abandoned one from its last write, both on
// the monotonic clock; leftover temporary files go at start-up.
func TestPartialAgeIsCountedByTheAgent(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{tmpPrefix + "abc", partialPrefix + "old", partialPrefix + "future", "keep.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	old, future := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
	os.Chtimes(filepath.Join(dir, partialPrefix+"old"), old, old)
	os.Chtimes(filepath.Join(dir, partialPrefix+"future"), future, future)
	st, err := OpenStore(dir, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := newFakeClock()
	st.now = clock.now
	want := []string{partialPrefix + "future", partialPrefix + "old", "keep.txt"}
	if names := testenv.DirNames(t, dir); fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("after start-up: %v, want %v", names, want)
	}
	if n, _ := st.Expire(0); n != 0 {
		t.Errorf("expiry right after start-up removed %d", n)
	}
	clock.advance(23 * time.Hour)
	if n, _ := st.Expire(0); n != 0 {
		t.Errorf("expiry 23 h after start-up removed %d", n)
	}
	clock.advance(2 * time.Hour)
	if n, _ := st.Expire(0); n != 2 {
		t.Errorf("expiry 25 h after start-up removed %d, want 2", n)
	}
	if names := testenv.DirNames(t, dir); fmt.Sprint(names) != "[keep.txt]" {
		t.Errorf("25 h after start-up: %v", names)
	}

	// An abandoned partial counts from its last write.
	ts := start(t, &Server{Store: st})
	data := randomBytes(10_000)
	plantPartial(t, ts, "cut", data, data[:5_000])
	clock.advance(23 * time.Hour)
	if n, _ := st.Expire(0); n != 0 {
		t.Errorf("expiry 23 h after the cut removed %d", n)
	}
	clock.advance(2 * time.Hour)
	if n, _ := st.Expire(0); n != 1 {
		t.Errorf("expiry 25 h after the cut removed %d, want 1", n)
	}
}

// plantPartial starts a resumable upload of data as name, sends body
// (which need not be data's prefix) and cuts the connection, then waits
// until the receiver has let go of the partial.
func plantPartial(t *testing.T, ts *testServer, name string, data, body []byte) {
	t.Helper()
	before := ts.counter("rejected_io_error")()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	WriteHeader(c, Header{FileName: name, FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: true, Token: ts.Token}, false)
	var ready map[string]any
	if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
		t.Fatalf("ready: %v %v", ready, err)
	}
	c.Write(body)
	c.Close()
	testenv.WaitFor(t, "the cut upload to be counted", func() bool { return ts.counter("rejected_io_error")() > before })
}
