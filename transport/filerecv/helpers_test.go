package filerecv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// testServer is a receiver on a loopback port with its directory.
type testServer struct {
	*Server
	addr string
	dir  string
}

// start serves s (its Store made here) until the test ends.
func start(t *testing.T, s *Server) *testServer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "received")
	if s.Store == nil {
		st, err := OpenStore(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.Store = st
		t.Cleanup(func() { st.Close() })
	}
	addr, _ := testenv.ServeTCP(t, s.Serve)
	return &testServer{Server: s, addr: addr, dir: s.Store.Dir()}
}

func (ts *testServer) counter(name string) func() uint64 {
	return func() uint64 { return ts.Counters()[name] }
}

// files lists the directory, temporary and partial files included.
func (ts *testServer) files(t *testing.T) []string {
	t.Helper()
	return testenv.DirNames(t, ts.dir)
}

// legacyFrame is what the seed client sends: a little-endian length, the
// header as given, the body.
func legacyFrame(header string, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, int32(len(header)))
	b.WriteString(header)
	b.Write(body)
	return b.Bytes()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// send uploads data as name with the acknowledging client.
func (ts *testServer) send(t *testing.T, name string, data []byte, opts SendOptions) (Sent, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Dial(ctx, ts.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Send(ctx, writeTemp(t, data), name)
}

// mustServe checks that the receiver still takes a good upload.
func (ts *testServer) mustServe(t *testing.T) {
	t.Helper()
	data := randomBytes(1000)
	if _, err := ts.send(t, "after.bin", data, SendOptions{Token: ts.Token}); err != nil {
		t.Fatalf("the next upload failed: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(ts.dir, "after.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the next upload stored %d bytes, %v", len(got), err)
	}
}
