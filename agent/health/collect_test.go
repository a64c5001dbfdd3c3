package health

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestCollectRaspberryPi4(t *testing.T) {
	got, err := fakeCollector("rpi4").Collect()
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix
	want := Snapshot{
		Hostname:          "raspberrypi",
		UptimeSeconds:     93784.21,
		BootTime:          time.Date(2024, 11, 23, 5, 20, 0, 0, time.UTC),
		Load1:             0.08,
		Load5:             0.12,
		Load15:            0.09,
		CPUTempC:          ptr(48.312),
		MemTotalBytes:     3884596 * 1024,
		MemAvailableBytes: 3374128 * 1024,
		MemUsedPercent:    13.1,
		SwapTotalBytes:    204796 * 1024,
		SwapFreeBytes:     198652 * 1024,
		Network: []Interface{
			{Name: "eth0", RxBytes: 183495821, RxPackets: 402178, TxBytes: 29817340, TxPackets: 181243,
				Addresses: []netip.Prefix{p("192.168.1.20/24"), p("fd00::20/64"), p("fe80::dea6:32ff:fe01:2345/64")}},
			{Name: "wlan0", RxBytes: 1048576, RxPackets: 9132, RxErrors: 3, TxBytes: 204800, TxPackets: 1766, TxErrors: 2,
				Addresses: []netip.Prefix{p("192.168.1.21/24")}},
		},
		// 0x50005: under-voltage now and since boot, throttled now and
		// since boot.
		Throttled: &Throttled{
			Raw: "0x50005", Source: "firmware",
			UnderVoltageNow: true, ThrottledNow: true,
			UnderVoltageOccurred: true, ThrottledOccurred: true,
		},
		Clock:    syncedClock.sync,
		CPUModel: "Raspberry Pi 4 Model B Rev 1.4",
		Board:    "Raspberry Pi 4 Model B Rev 1.4",
	}
	checkSnapshot(t, got, want)
}

func TestCollectAMD64(t *testing.T) {
	got, err := fakeCollector("amd64").Collect()
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix
	want := Snapshot{
		Hostname:          "nuc-01",
		UptimeSeconds:     1209600.53,
		BootTime:          time.Date(2024, 11, 7, 17, 20, 0, 0, time.UTC),
		Load1:             1.25,
		Load5:             0.98,
		Load15:            0.77,
		CPUTempC:          ptr(45.0), // x86_pkg_temp, not the first zone (acpitz)
		MemTotalBytes:     7995040 * 1024,
		MemAvailableBytes: 5236112 * 1024,
		MemUsedPercent:    34.5,
		SwapTotalBytes:    1003516 * 1024,
		SwapFreeBytes:     987132 * 1024,
		Network: []Interface{
			{Name: "enp1s0", RxBytes: 58123456789, RxPackets: 61234567, TxBytes: 9123456789, TxPackets: 31234567,
				Addresses: []netip.Prefix{p("10.0.0.5/16"), p("fe80::1/64")}},
			{Name: "wlo1", Addresses: []netip.Prefix{}},
			{Name: "docker0", RxBytes: 1234567, RxPackets: 8910, TxBytes: 7654321, TxPackets: 9876, Addresses: []netip.Prefix{}},
		},
		Clock:    syncedClock.sync,
		CPUModel: "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz",
	}
	checkSnapshot(t, got, want)
}

func checkSnapshot(t *testing.T, got, want Snapshot) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("Collect() =\n%s\nwant\n%s", g, w)
	}
}

// TestSnapshotJSON pins the field names of the state message: Home
// Assistant templates and dashboards depend on them.
func TestSnapshotJSON(t *testing.T) {
	c := fakeCollector("rpi4")
	c.DiskPath = t.TempDir()
	s, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if s.Disk == nil {
		t.Fatal("Disk is nil for an existing directory")
	}
	// Disk figures are the test machine's; only their names are pinned.
	s.Disk = &DiskUsage{Path: "/var/lib/edge-agent/received", TotalBytes: 31_000_000_000,
		FreeBytes: 20_000_000_000, AvailableBytes: 18_500_000_000, UsedPercent: 40.2}
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rpi4.json")
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("JSON of the rpi4 snapshot =\n%s\nwant (%s)\n%s", got, golden, want)
	}
}

// An empty interface list is [] in JSON, and absent sensors are left out,
// not zero.
func TestSnapshotJSONEmpty(t *testing.T) {
	b, err := json.Marshal(Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cpu_temp_c", "disk", "throttled", "cpu_model", "board"} {
		if _, ok := m[k]; ok {
			t.Errorf("zero Snapshot has %q: %s", k, b)
		}
	}
	c := &Collector{Proc: writeTree(t, map[string]string{"net/dev": "garbage\n"}), Sys: t.TempDir(), Clock: fakeClock{}}
	s, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(s.Network); string(b) != "[]" {
		t.Errorf("Network with no interfaces = %s, want []", b)
	}
}

func TestCollectProcUnreadable(t *testing.T) {
	c := &Collector{Proc: filepath.Join(t.TempDir(), "missing"), Sys: "testdata/rpi4/sys", Clock: syncedClock}
	s, err := c.Collect()
	if !errors.Is(err, ErrProcUnreadable) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Collect() error = %v, want ErrProcUnreadable wrapping ErrNotExist", err)
	}
	// What did not come from /proc is still there.
	if s.CPUTempC == nil || s.Throttled == nil || !s.Clock.Synchronised {
		t.Errorf("Collect() without /proc = %+v, want the /sys and clock fields", s)
	}
}

// Any one /proc file is enough for a snapshot; everything else is zero,
// and nothing fails.
func TestCollectPartial(t *testing.T) {
	c := &Collector{
		Proc:  writeTree(t, map[string]string{"loadavg": "0.50 0.40 0.30 1/100 42\n", "meminfo": "MemFree: 12 kB\n"}),
		Sys:   filepath.Join(t.TempDir(), "nothing"),
		Clock: fakeClock{err: errors.New("adjtimex: EPERM")},
		Addrs: failingAddrs,
	}
	got, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, got, Snapshot{Load1: 0.5, Load5: 0.4, Load15: 0.3, Network: []Interface{}})
}

// A Collector is shared by the state publisher and the console.
func TestCollectConcurrent(t *testing.T) {
	c := fakeCollector("rpi4")
	want, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Snapshot)
	for range 4 {
		go func() {
			s, _ := c.Collect()
			done <- s
		}()
	}
	for range 4 {
		checkSnapshot(t, <-done, want)
	}
}

// TestCollectRealSystem reads the machine the test runs on.
func TestCollectRealSystem(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc on this system")
	}
	c := &Collector{DiskPath: t.TempDir()}
	s, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", s)
	now := time.Now()
	switch {
	case s.Hostname == "":
		t.Error("no hostname")
	case s.UptimeSeconds <= 0:
		t.Errorf("uptime %v", s.UptimeSeconds)
	case s.BootTime.After(now) || s.BootTime.Before(now.Add(-time.Duration(s.UptimeSeconds+60)*time.Second)):
		t.Errorf("boot time %v with uptime %v s at %v", s.BootTime, s.UptimeSeconds, now)
	case s.Load1 < 0 || s.Load5 < 0 || s.Load15 < 0:
		t.Errorf("load %v %v %v", s.Load1, s.Load5, s.Load15)
	case s.MemTotalBytes == 0 || s.MemAvailableBytes > s.MemTotalBytes:
		t.Errorf("memory %d available of %d", s.MemAvailableBytes, s.MemTotalBytes)
	case s.MemUsedPercent < 0 || s.MemUsedPercent > 100:
		t.Errorf("memory used %v%%", s.MemUsedPercent)
	case s.SwapFreeBytes > s.SwapTotalBytes:
		t.Errorf("swap %d free of %d", s.SwapFreeBytes, s.SwapTotalBytes)
	case s.Disk == nil || s.Disk.TotalBytes == 0 || s.Disk.AvailableBytes > s.Disk.FreeBytes:
		t.Errorf("disk %+v", s.Disk)
	case s.Clock.MaxErrorMicros < 0 || s.Clock.EstErrorMicros < 0:
		t.Errorf("clock %+v", s.Clock)
	}
	for _, ifi := range s.Network {
		if ifi.Name == "" || ifi.Name == "lo" || ifi.Addresses == nil {
			t.Errorf("interface %+v", ifi)
		}
	}
	if s.CPUTempC != nil && (*s.CPUTempC < minTempC || *s.CPUTempC > maxTempC) {
		t.Errorf("CPU temperature %v", *s.CPUTempC)
	}
}
