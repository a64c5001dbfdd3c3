package health

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ErrProcUnreadable is returned by Collect when not one file under /proc
// could be read: a snapshot of zeros would look like a healthy idle
// device.
var ErrProcUnreadable = errors.New("health: /proc unreadable")

// Collector reads Snapshots. The zero value reads the running system;
// tests point Proc and Sys at a fake tree and inject Clock and Addrs.
// Collect may be called from several goroutines at once. A Collector
// must not be copied after its first Collect.
type Collector struct {
	// Proc and Sys are where procfs and sysfs are mounted: "" means
	// /proc and /sys.
	Proc, Sys string
	// DiskPath is a directory whose file system Snapshot.Disk describes
	// (the file receiver's); "" leaves Disk nil.
	DiskPath string
	// Clock reports the kernel clock's state; nil means KernelClock.
	Clock ClockSource
	// Addrs lists interface addresses; nil asks the kernel.
	Addrs InterfaceAddrs

	// The CPU model and board cannot change while the agent runs, and
	// /proc/cpuinfo is among the dearest files in /proc to produce.
	identityOnce    sync.Once
	cpuModel, board string
}

// Collect reads the device's health. Whatever cannot be read, or does not
// parse, leaves its fields zero or nil and the rest of the snapshot is
// still returned; the error is non-nil only when /proc as a whole is
// unreadable (ErrProcUnreadable), and the snapshot then holds only what
// came from elsewhere.
func (c *Collector) Collect() (Snapshot, error) {
	proc, sys := c.Proc, c.Sys
	if proc == "" {
		proc = "/proc"
	}
	if sys == "" {
		sys = "/sys"
	}
	r := procReader{root: proc}
	var s Snapshot

	// Not os.Hostname: that would not read the fake tree a test gives.
	if b, ok := r.read("sys/kernel/hostname"); ok {
		s.Hostname = cleanText(b)
	}
	if b, ok := r.read("uptime"); ok {
		s.UptimeSeconds, _ = parseUptime(b)
	}
	if b, ok := r.read("stat"); ok {
		s.BootTime, _ = parseBootTime(b)
	}
	if b, ok := r.read("loadavg"); ok {
		s.Load1, s.Load5, s.Load15, _ = parseLoadavg(b)
	}
	if b, ok := r.read("meminfo"); ok {
		if m, err := parseMeminfo(b); err == nil {
			s.MemTotalBytes, s.MemAvailableBytes = m.Total, m.Available
			s.MemUsedPercent = usedPercent(m.Total, m.Available)
			s.SwapTotalBytes, s.SwapFreeBytes = m.SwapTotal, m.SwapFree
		}
	}
	s.Network = []Interface{}
	if b, ok := r.read("net/dev"); ok {
		s.Network = parseNetDev(b)
		c.addAddrs(s.Network)
	}

	s.CPUTempC = cpuTemp(sys)
	s.Throttled = throttled(sys)
	if c.DiskPath != "" {
		if d, err := statDisk(c.DiskPath); err == nil {
			s.Disk = &d
		}
	}
	clock := c.Clock
	if clock == nil {
		clock = KernelClock{}
	}
	s.Clock, _ = clock.ClockSync()

	c.identityOnce.Do(func() {
		if b, err := os.ReadFile(filepath.Join(proc, "cpuinfo")); err == nil {
			c.cpuModel = parseCPUModel(b)
		}
		c.board = boardModel(proc, sys)
	})
	s.CPUModel, s.Board = c.cpuModel, c.board

	if r.ok == 0 {
		return s, fmt.Errorf("%w: %w", ErrProcUnreadable, r.firstErr)
	}
	return s, nil
}

// addAddrs fills in each interface's addresses. Without them the
// counters are still worth sending.
func (c *Collector) addAddrs(ifs []Interface) {
	if len(ifs) == 0 {
		return
	}
	list := c.Addrs
	if list == nil {
		list = kernelAddrs
	}
	addrs, err := list()
	if err != nil {
		return
	}
	for i := range ifs {
		if a := addrs[ifs[i].Name]; a != nil {
			ifs[i].Addresses = a
		}
	}
}

// procReader reads files under /proc and remembers whether any could be.
type procReader struct {
	root     string
	ok       int
	firstErr error
}

func (r *procReader) read(name string) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(r.root, name))
	if err != nil {
		if r.firstErr == nil {
			r.firstErr = err
		}
		return nil, false
	}
	r.ok++
	return b, true
}
