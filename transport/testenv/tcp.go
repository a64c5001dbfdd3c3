package testenv

import (
	"context"
	"net"
	"testing"
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
	stop = Run(t, func(ctx context.Context) error { return serve(ctx, l) })
	return ln.Addr().String(), stop
}
