package health

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// memInfo is the part of /proc/meminfo the state message carries, in bytes.
type memInfo struct {
	Total, Available, SwapTotal, SwapFree uint64
}

// errNoMemTotal is returned when /proc/meminfo lacks a usable MemTotal:
// without it no other figure means anything.
var errNoMemTotal = errors.New("health: meminfo: no MemTotal")

// parseMeminfo reads /proc/meminfo. A line it cannot read leaves its field
// zero, so one odd line costs only that field.
func parseMeminfo(b []byte) (memInfo, error) {
	var m memInfo
	var haveTotal, haveAvail bool
	// Kernels before 3.14 have no MemAvailable; free(1) estimated it
	// from these.
	var free, buffers, cached uint64
	for line := range bytes.Lines(b) {
		key, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v, ok := parseKiB(rest)
		switch string(key) {
		case "MemTotal":
			m.Total, haveTotal = v, ok
		case "MemAvailable":
			m.Available, haveAvail = v, ok
		case "SwapTotal":
			m.SwapTotal = v
		case "SwapFree":
			m.SwapFree = v
		case "MemFree":
			free = v
		case "Buffers":
			buffers = v
		case "Cached":
			cached = v
		}
	}
	if !haveTotal {
		return memInfo{}, errNoMemTotal
	}
	if !haveAvail {
		m.Available = saturatingAdd(free, buffers, cached)
	}
	m.Available = min(m.Available, m.Total)
	m.SwapFree = min(m.SwapFree, m.SwapTotal)
	return m, nil
}

// parseKiB reads "   3884548 kB": the kernel's "kB" is KiB.
func parseKiB(s []byte) (uint64, bool) {
	f := bytes.Fields(s)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil || v > math.MaxUint64/1024 {
		return 0, false
	}
	return v * 1024, true
}

func saturatingAdd(vs ...uint64) uint64 {
	var sum uint64
	for _, v := range vs {
		if sum+v < sum {
			return math.MaxUint64
		}
		sum += v
	}
	return sum
}

// usedPercent is the share of total memory that a new program could not
// get without swapping; MemAvailable already counts the caches the kernel
// would drop for it.
func usedPercent(total, available uint64) float64 {
	if total == 0 || available >= total {
		return 0
	}
	return round1(float64(total-available) / float64(total) * 100)
}
