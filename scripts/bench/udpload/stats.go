package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets (64 per power of two,
// so a reported quantile is within about 1.6% of the true value). Its size
// is fixed (about 18 KiB) whatever the number of samples, so each client
// keeps its own without locking and they are merged at the end.
type histogram struct {
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

// record clamps negative values to zero: a server whose transmit stamp
// precedes its receive stamp has a clock step or a bug, and the maximum
// and the quantiles must stay meaningful either way.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(uint64(v))]++
	h.n++
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

func (h *histogram) quantileMicros(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return round(min(histValue(i), float64(h.max))/1e3, 1)
		}
	}
	return h.maxMicros()
}

func (h *histogram) maxMicros() float64 {
	return round(float64(h.max)/1e3, 1)
}
