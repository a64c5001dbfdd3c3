//go:build linux

package echo

import (
	"context"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"edge-agent/transport/testenv"
)

// enterNetns moves the calling test goroutine into a network namespace
// of its own with lo up and addrs on it, so it can bind addresses that
// the host does not have. The goroutine stays locked to its thread, which
// the runtime ends with the test; sockets it opens stay in the namespace.
func enterNetns(t *testing.T, addrs ...string) {
	t.Helper()
	ip := testenv.Program(t, "iproute2", "ip")
	skip := t.Skipf
	if testenv.InCI() {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("needs root for a network namespace")
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		skip("unshare(CLONE_NEWNET): %v", err)
	}
	// A child forked from this thread starts in its namespace.
	cmds := [][]string{{"link", "set", "lo", "up"}}
	for _, a := range addrs {
		cmds = append(cmds, []string{"addr", "add", a, "dev", "lo", "nodad"})
	}
	for _, args := range cmds {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
}

// Two addresses in one /64 are one source; another /64 is another.
func TestTCPConnsPerSourceIPv6Prefix(t *testing.T) {
	implementations(t, func(t *testing.T, portable bool) {
		enterNetns(t, "2001:db8:1:2::1/64", "2001:db8:1:2::a/64", "2001:db8:1:2:ffff::b/64", "2001:db8:1:2::d/64", "2001:db8:1:3::c/64")
		// Listen here: testenv's listener would be opened on the host.
		ln, err := net.Listen("tcp", "[2001:db8:1:2::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		var l net.Listener = ln
		if portable {
			l = plainListener{ln}
		}
		s := &Server{MaxConnsPerSource: 2}
		testenv.Run(t, func(ctx context.Context) error { return s.Serve(ctx, l) })
		addr := ln.Addr().String()

		a := testenv.DialFrom(t, "2001:db8:1:2::a", addr)
		b := testenv.DialFrom(t, "2001:db8:1:2:ffff::b", addr)
		roundTrip(t, a, "a")
		roundTrip(t, b, "b")
		if d := testenv.DialFrom(t, "2001:db8:1:2::d", addr); !closedByServer(d) {
			t.Fatal("a third connection from one /64 was not closed")
		}
		if got := counter(s, "rejected_source_limit")(); got != 1 {
			t.Errorf("rejected_source_limit = %d, want 1", got)
		}
		roundTrip(t, testenv.DialFrom(t, "2001:db8:1:3::c", addr), "another /64")
		if got := s.sources.Sources(); got != 2 {
			t.Errorf("%d sources, want 2", got)
		}
	})
}
