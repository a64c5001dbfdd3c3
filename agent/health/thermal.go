package health

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cpuZoneTypes are thermal zone types that measure the CPU itself, best
// first: cpu-thermal on Raspberry Pi kernels, cpu_thermal and soc_thermal
// on other Arm boards, x86_pkg_temp for the whole Intel package. A board
// with none of them gets its first zone that reads, which on small boards
// is nearly always the SoC.
var cpuZoneTypes = []string{"cpu-thermal", "cpu_thermal", "x86_pkg_temp", "soc_thermal", "soc-thermal"}

// Temperatures outside this range, in °C, are a sensor's way of saying it
// has no reading (some report -274000, others 0x7fffffff millidegrees):
// wider than any part the agent runs on is rated for.
const minTempC, maxTempC = -60.0, 200.0

// cpuTemp reads the CPU's temperature from the thermal zones under
// sys/class/thermal; nil when no zone gives a plausible one.
func cpuTemp(sys string) *float64 {
	dirs, _ := filepath.Glob(filepath.Join(sys, "class/thermal/thermal_zone*"))
	if len(dirs) == 0 {
		return nil
	}
	type zone struct {
		dir  string
		num  int
		rank int // index in cpuZoneTypes, or len(cpuZoneTypes)
	}
	zones := make([]zone, 0, len(dirs))
	for _, d := range dirs {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "thermal_zone"))
		if err != nil {
			continue
		}
		rank := len(cpuZoneTypes)
		if t, err := os.ReadFile(filepath.Join(d, "type")); err == nil {
			if i := slices.Index(cpuZoneTypes, string(bytes.TrimSpace(t))); i >= 0 {
				rank = i
			}
		}
		zones = append(zones, zone{d, n, rank})
	}
	// Numerically, so thermal_zone10 comes after thermal_zone2.
	slices.SortFunc(zones, func(a, b zone) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.num - b.num
	})
	for _, z := range zones {
		// A zone whose sensor sleeps (a Wi-Fi card that is down) fails
		// the read; the next one may do.
		b, err := os.ReadFile(filepath.Join(z.dir, "temp"))
		if err != nil {
			continue
		}
		if c, ok := parseMilliCelsius(b); ok {
			return &c
		}
	}
	return nil
}

// parseMilliCelsius reads a thermal zone's temp file ("48312\n").
func parseMilliCelsius(b []byte) (float64, bool) {
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, false
	}
	c := float64(v) / 1000
	if c < minTempC || c > maxTempC {
		return 0, false
	}
	return c, true
}
