package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/filerecv"
	"edge-agent/transport/testenv"
)

// frStartReceiver runs the agent with only the file receiver, on a free
// loopback port, storing into dir, with the extra variables given.
func frStartReceiver(t *testing.T, dir string, env ...string) string {
	t.Helper()
	env = append([]string{"EDGE_FILE_ADDR=127.0.0.1:0", "EDGE_FILE_DIR=" + dir, "EDGE_FILE_MIN_FREE=0",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, env...)
	return startCommand(t, command(context.Background(), env, "run"), "file")["file"]
}

// frOffer opens an acknowledged upload described by h and waits for ready.
func frOffer(addr string, h filerecv.Header) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var ready struct{ Status, Code string }
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := filerecv.ReadFrame(c, &ready); err != nil || ready.Status != "ready" {
		c.Close()
		return nil, fmt.Errorf("upload of %s: %+v %v, want ready", h.FileName, ready, err)
	}
	return c, nil
}

// frPartials lists the partial uploads in dir.
func frPartials(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, n := range testenv.DirNames(t, dir) {
		if strings.HasPrefix(n, filerecv.ReservedPrefix+"partial-") {
			names = append(names, n)
		}
	}
	return names
}

// With a 2 s TTL, expiry runs every half second: an abandoned partial
// goes soon after the TTL, while slow uploads that span many expiry runs
// (one to a temporary file, one resumable) complete and are published.
func TestFileExpiryLeavesUploadsInProgressAlone(t *testing.T) {
	const ttl = 2 * time.Second
	dir := filepath.Join(t.TempDir(), "received")
	addr := frStartReceiver(t, dir, "EDGE_FILE_PARTIAL_TTL="+ttl.String())

	// The abandoned upload: a resumable one cut midway.
	gone := frRandom(100_000)
	sum := sha256.Sum256(gone)
	c, err := frOffer(addr, filerecv.Header{FileName: "gone.bin", FileSize: int64(len(gone)), SHA256: sum[:], Ack: true, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(gone[:50_000])
	cut := time.Now()
	c.Close()
	var partial string
	frWait(t, 10*time.Second, "the cut upload's partial", func() bool {
		if p := frPartials(t, dir); len(p) == 1 {
			partial = p[0]
			return true
		}
		return false
	})

	// The slow ones: 64 KiB in 4 KiB pieces every 500 ms, about 8 s.
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 2)
	bodies := map[string][]byte{}
	for _, resume := range []bool{false, true} {
		name := fmt.Sprintf("slow-resume-%t.bin", resume)
		data := frRandom(64 << 10)
		bodies[name] = data
		go func() { results <- result{name, frSlowUpload(addr, name, data, resume)} }()
	}

	goneAt := frWait(t, 10*time.Second, "the abandoned partial to expire", func() bool {
		_, err := os.Stat(filepath.Join(dir, partial))
		return os.IsNotExist(err)
	})
	if d := goneAt.Sub(cut); d < ttl {
		t.Errorf("the abandoned partial went %v after its last write, before the %v TTL", d, ttl)
	}
	t.Logf("abandoned partial expired %v after the cut", goneAt.Sub(cut).Round(time.Millisecond))
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dir, r.name)); err != nil || string(got) != string(bodies[r.name]) {
			t.Errorf("%s: stored %d bytes, %v", r.name, len(got), err)
		}
	}
}

// frSlowUpload sends data in 16 pieces 500 ms apart and waits for ok.
func frSlowUpload(addr, name string, data []byte, resume bool) error {
	sum := sha256.Sum256(data)
	c, err := frOffer(addr, filerecv.Header{FileName: name, FileSize: int64(len(data)), SHA256: sum[:], Ack: true, Resume: resume})
	if err != nil {
		return err
	}
	defer c.Close()
	step := len(data) / 16
	for off := 0; off < len(data); off += step {
		if off > 0 {
			time.Sleep(500 * time.Millisecond) // the pace of a slow sender, not a wait for a condition
		}
		if _, err := c.Write(data[off:min(off+step, len(data))]); err != nil {
			return err
		}
	}
	var res struct{ Status, Code, Message string }
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := filerecv.ReadFrame(c, &res); err != nil {
		return err
	}
	if res.Status != "ok" {
		return fmt.Errorf("%s: %s", res.Code, res.Message)
	}
	return nil
}

// frWait polls cond until it holds and returns when it first did, failing
// the test after limit.
func frWait(t *testing.T, limit time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Now()
}

func frRandom(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
