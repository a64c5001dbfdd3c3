package filerecv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// inNetnsEnv is set in the copy of the test binary that runs inside a
// network namespace of its own.
const inNetnsEnv = "FILERECV_TEST_IN_NETNS"

// IPv6 addresses the namespace puts on its loopback: two in one /64, one
// in another.
const (
	sameNet1  = "fd00:64::1"
	sameNet2  = "fd00:64::2"
	otherNet1 = "fd00:65::1"
)

// inNetns runs the calling test again, alone, in a new network namespace
// whose loopback carries the addresses above, and reports whether this is
// that run. The outer run returns false once the inner one has passed.
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(inNetnsEnv) != "" {
		return true
	}
	unshare := testenv.Program(t, "util-linux", "unshare")
	testenv.Program(t, "iproute2", "ip")
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		msg := "cannot create a network namespace here (needs root): " + strings.TrimSpace(string(out))
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	script := `set -e
ip link set lo up
for a in "$A1" "$A2" "$B1"; do ip -6 addr add "$a/64" dev lo nodad; done
exec "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, unshare, "-n", "sh", "-c", script, "sh",
		self, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), inNetnsEnv+"=1", "A1="+sameNet1, "A2="+sameNet2, "B1="+otherNet1)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a network namespace: %v\n%s", err, out)
	}
	return false
}

// startOn serves s on addr (its Store made here) until the test ends.
func startOn(t *testing.T, s *Server, addr string) *testServer {
	t.Helper()
	st, err := OpenStore(filepath.Join(t.TempDir(), "received"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.Store = st
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, func(ctx context.Context) error { return s.Serve(ctx, ln) })
	return &testServer{Server: s, addr: ln.Addr().String(), dir: st.Dir()}
}

// One host's IPv6 addresses rotate within its /64: the per-source
// connection cap and the token lockout count the /64, not the address.
func TestIPv6SourcesAreCountedBy64(t *testing.T) {
	if !inNetns(t) {
		return
	}
	ts := startOn(t, &Server{MaxConnsPerSource: 2}, "["+sameNet1+"]:0")
	dialFrom(t, sameNet1, ts.addr)
	dialFrom(t, sameNet2, ts.addr)
	testenv.WaitFor(t, "2 connections", func() bool { return ts.counter("conns_active")() == 2 })
	if !closedAtOnce(dialFrom(t, sameNet2, ts.addr)) {
		t.Fatal("a third connection from the same /64 was kept")
	}
	if n := ts.counter("rejected_too_many_connections")(); n != 1 {
		t.Errorf("rejected_too_many_connections = %d, want 1", n)
	}
	// Another /64 has its own allowance.
	c := dialFrom(t, otherNet1, ts.addr)
	WriteHeader(c, Header{FileName: "x", FileSize: 1, Ack: true}, false)
	var ready map[string]any
	if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
		t.Fatalf("a connection from another /64: %v %v", ready, err)
	}

	// Wrong tokens from two addresses of one /64 add up to one lockout.
	locked := startOn(t, &Server{Token: "s3cret"}, "["+sameNet1+"]:0")
	for i, from := range []string{sameNet1, sameNet2, sameNet1} {
		c := dialFrom(t, from, locked.addr)
		WriteHeader(c, Header{FileName: "x", FileSize: 1, Ack: true, Token: "nope"}, false)
		var res map[string]any
		if err := ReadFrame(c, &res); err != nil || res["code"] != string(CodeBadToken) {
			t.Fatalf("wrong token %d: %v %v", i+1, res, err)
		}
	}
	if !closedAtOnce(dialFrom(t, sameNet2, locked.addr)) {
		t.Fatal("the /64 was not locked out")
	}
	c = dialFrom(t, otherNet1, locked.addr)
	WriteHeader(c, Header{FileName: "x", FileSize: 1, Ack: true, Token: "s3cret"}, false)
	if err := ReadFrame(c, &ready); err != nil || ready["status"] != "ready" {
		t.Fatalf("another /64 during the lockout: %v %v", ready, err)
	}
}
