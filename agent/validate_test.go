package agent

import (
	"net"
	"strings"
	"testing"
)

// FuzzCheckAddr: whatever checkAddr accepts, the listener can parse.
func FuzzCheckAddr(f *testing.F) {
	for _, s := range []string{":8081", "off", "127.0.0.1:0", "[::1]:123", "host:1", ":", "a:b:c", ":99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if checkAddr(addr) != nil || addr == Off {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || port == "" || strings.ContainsAny(host, " /") {
			t.Fatalf("accepted %q: host %q port %q err %v", addr, host, port, err)
		}
		if _, err := net.ResolveTCPAddr("tcp", ":"+port); err != nil {
			t.Fatalf("accepted %q but its port does not resolve: %v", addr, err)
		}
	})
}
