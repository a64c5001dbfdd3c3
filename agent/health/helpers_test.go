package health

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// fakeClock is a ClockSource with a fixed answer.
type fakeClock struct {
	sync ClockSync
	err  error
}

func (f fakeClock) ClockSync() (ClockSync, error) { return f.sync, f.err }

var syncedClock = fakeClock{sync: ClockSync{Synchronised: true, MaxErrorMicros: 12_500, EstErrorMicros: 310}}

// fakeAddrs answers for the interfaces of both fake trees, and for lo,
// which Collect must leave out anyway.
func fakeAddrs() (map[string][]netip.Prefix, error) {
	p := netip.MustParsePrefix
	return map[string][]netip.Prefix{
		"lo":     {p("127.0.0.1/8"), p("::1/128")},
		"eth0":   {p("192.168.1.20/24"), p("fd00::20/64"), p("fe80::dea6:32ff:fe01:2345/64")},
		"wlan0":  {p("192.168.1.21/24")},
		"enp1s0": {p("10.0.0.5/16"), p("fe80::1/64")},
	}, nil
}

func failingAddrs() (map[string][]netip.Prefix, error) {
	return nil, errors.New("netlink: permission denied")
}

// fakeCollector reads the fake tree testdata/<name>.
func fakeCollector(name string) *Collector {
	root := filepath.Join("testdata", name)
	return &Collector{
		Proc:  filepath.Join(root, "proc"),
		Sys:   filepath.Join(root, "sys"),
		Clock: syncedClock,
		Addrs: fakeAddrs,
	}
}

// writeTree creates files (path relative to a new temporary directory:
// content) and returns the directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ptr[T any](v T) *T { return &v }
