package health

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDiskUsage(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		bs, blocks, free, avail uint64
		total, freeB, availB    uint64
		usedPercent             float64
	}{
		// df: 1000 blocks, 400 free of which 350 for users: used 600 of
		// 950 usable.
		{"with reserve", 4096, 1000, 400, 350, 4096000, 1638400, 1433600, 63.2},
		{"empty", 4096, 1000, 1000, 1000, 4096000, 4096000, 4096000, 0},
		{"full for users", 1024, 100, 5, 0, 102400, 5120, 0, 100},
		{"no blocks", 4096, 0, 0, 0, 0, 0, 0, 0},
		{"free over total clamped", 512, 10, 20, 30, 5120, 5120, 5120, 0},
		{"overflow saturates", math.MaxUint64 / 2, 4, 3, 1, math.MaxUint64, math.MaxUint64, math.MaxUint64 / 2, 50},
	} {
		got := diskUsage("/d", tt.bs, tt.blocks, tt.free, tt.avail)
		want := DiskUsage{Path: "/d", TotalBytes: tt.total, FreeBytes: tt.freeB, AvailableBytes: tt.availB, UsedPercent: tt.usedPercent}
		if got != want {
			t.Errorf("%s: diskUsage = %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestStatDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("statfs is read on Linux only")
	}
	dir := t.TempDir()
	d, err := statDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != dir || d.TotalBytes == 0 || d.FreeBytes > d.TotalBytes || d.AvailableBytes > d.FreeBytes ||
		d.UsedPercent < 0 || d.UsedPercent > 100 {
		t.Errorf("statDisk(%q) = %+v", dir, d)
	}
	if _, err := statDisk(filepath.Join(dir, "missing")); err == nil {
		t.Error("statDisk of a missing directory: no error")
	}
	// A missing directory leaves Disk out rather than failing Collect.
	c := fakeCollector("rpi4")
	c.DiskPath = filepath.Join(dir, "missing")
	if s, err := c.Collect(); err != nil || s.Disk != nil {
		t.Errorf("Collect with a missing DiskPath: Disk %+v, error %v", s.Disk, err)
	}
}
