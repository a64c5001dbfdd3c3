package health

import (
	"math"
	"strconv"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	const k = 1024
	for _, tt := range []struct {
		name string
		in   string
		want memInfo
		err  bool
	}{
		{name: "complete", in: "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nSwapTotal: 50 kB\nSwapFree: 40 kB\n",
			want: memInfo{Total: 1000 * k, Available: 600 * k, SwapTotal: 50 * k, SwapFree: 40 * k}},
		{name: "no trailing newline", in: "MemTotal: 1000 kB\nMemAvailable: 600 kB",
			want: memInfo{Total: 1000 * k, Available: 600 * k}},
		{name: "before MemAvailable (kernel < 3.14)", in: "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\nSwapCached: 7 kB\n",
			want: memInfo{Total: 1000 * k, Available: 420 * k}},
		{name: "no swap", in: "MemTotal: 1000 kB\nMemAvailable: 600 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
			want: memInfo{Total: 1000 * k, Available: 600 * k}},
		{name: "counts without unit ignored", in: "MemTotal: 1000 kB\nMemAvailable: 600 kB\nHugePages_Total: 5\n",
			want: memInfo{Total: 1000 * k, Available: 600 * k}},
		{name: "malformed swap line costs only swap", in: "MemTotal: 1000 kB\nMemAvailable: 600 kB\nSwapTotal: lots kB\nSwapFree: 40 kB\n",
			want: memInfo{Total: 1000 * k, Available: 600 * k}},
		{name: "malformed MemAvailable falls back", in: "MemTotal: 1000 kB\nMemAvailable: 6x0 kB\nMemFree: 100 kB\n",
			want: memInfo{Total: 1000 * k, Available: 100 * k}},
		{name: "available over total is capped", in: "MemTotal: 1000 kB\nMemAvailable: 2000 kB\nSwapTotal: 1 kB\nSwapFree: 9 kB\n",
			want: memInfo{Total: 1000 * k, Available: 1000 * k, SwapTotal: k, SwapFree: k}},
		{name: "largest value", in: "MemTotal: " + strconv.FormatUint(math.MaxUint64/1024, 10) + " kB\n",
			want: memInfo{Total: math.MaxUint64 / 1024 * 1024}},
		{name: "fallback sum saturates", in: "MemTotal: 1000 kB\nMemFree: 18014398509481983 kB\nCached: 18014398509481983 kB\n",
			want: memInfo{Total: 1000 * k, Available: 1000 * k}},
		{name: "overflow", in: "MemTotal: " + strconv.FormatUint(math.MaxUint64/1024+1, 10) + " kB\n", err: true},
		{name: "empty", in: "", err: true},
		{name: "no MemTotal", in: "MemFree: 100 kB\nMemAvailable: 600 kB\n", err: true},
		{name: "truncated line", in: "MemTotal: 1000", err: true},
		{name: "truncated key", in: "MemTot", err: true},
		{name: "negative", in: "MemTotal: -1000 kB\n", err: true},
		{name: "other unit", in: "MemTotal: 1000 MB\n", err: true},
		{name: "extra field", in: "MemTotal: 1000 kB kB\n", err: true},
		{name: "float", in: "MemTotal: 10.5 kB\n", err: true},
		{name: "key with space", in: " MemTotal: 1000 kB\n", err: true},
		{name: "binary", in: "\x00\xff:\n::\n", err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMeminfo([]byte(tt.in))
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("parseMeminfo(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestUsedPercent(t *testing.T) {
	for _, tt := range []struct {
		total, avail uint64
		want         float64
	}{
		{1000, 600, 40},
		{3, 2, 33.3},
		{3, 1, 66.7},
		{1000, 0, 100},
		{1000, 1000, 0},
		{1000, 2000, 0},
		{0, 0, 0},
		{math.MaxUint64, 0, 100},
	} {
		if got := usedPercent(tt.total, tt.avail); got != tt.want {
			t.Errorf("usedPercent(%d, %d) = %v, want %v", tt.total, tt.avail, got, tt.want)
		}
	}
}
