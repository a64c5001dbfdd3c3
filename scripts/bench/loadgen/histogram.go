// Package loadgen holds what the closed-loop load generators under
// scripts/bench (echoload, udpload) share, so that their figures are
// computed the same way: the latency histogram behind the quantiles they
// report, and the timed phase that starts, bounds and stops their workers.
package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets (64 per power of two,
// so a reported quantile is within about 1.6% of the true value). Its size
// is fixed (about 18 KiB) whatever the number of samples, so each worker
// keeps its own without locking and they are merged at the end.
// The zero value is empty and ready to use.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxExp  = 40 // values are nanoseconds; 2^40 ns is about 18 minutes
	histBuckets = (histMaxExp - histSubBits + 1) * histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	if v >= 1<<histMaxExp {
		v = 1<<histMaxExp - 1
	}
	shift := bits.Len64(v) - histSubBits - 1
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histValue is the midpoint of bucket i.
func histValue(i int) float64 {
	if i < histSub {
		return float64(i)
	}
	shift := i/histSub - 1
	lo := uint64(i%histSub+histSub) << shift
	return float64(lo) + float64(uint64(1)<<shift)/2
}

// Record clamps negative values to zero: a server whose transmit stamp
// precedes its receive stamp has a clock step or a bug, and the maximum
// and the quantiles must stay meaningful either way.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(uint64(v))]++
	h.n++
	h.max = max(h.max, v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// QuantileMicros is the q-quantile (0 < q ≤ 1) in microseconds, rounded to
// 0.1 µs; never above the largest sample, and 0 without samples.
func (h *Histogram) QuantileMicros(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return Round(min(histValue(i), float64(h.max))/1e3, 1)
		}
	}
	return h.MaxMicros()
}

// MaxMicros is the largest sample in microseconds, rounded to 0.1 µs.
func (h *Histogram) MaxMicros() float64 {
	return Round(float64(h.max)/1e3, 1)
}

// Round rounds v to the given number of decimal digits, the precision the
// tools' JSON reports carry.
func Round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}
