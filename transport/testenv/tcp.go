package testenv

import (
	"context"
	"net"
	"testing"
	"time"
)

// ServeTCP runs serve on a loopback TCP listener (passed through wrap, if
// given) until stop is called or the test ends, then checks that it
// returns nil within 5 seconds of its context ending.
func ServeTCP(t testing.TB, serve func(context.Context, net.Listener) error, wrap ...func(net.Listener) net.Listener) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	for _, w := range wrap {
		l = w(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return within 5s of cancel")
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}
