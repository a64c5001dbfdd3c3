package loadgen

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.QuantileMicros(0.5) != 0 || h.MaxMicros() != 0 {
		t.Fatal("an empty histogram reports non-zero figures")
	}
	for i := 1; i <= 100_000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * 100_000
		got := h.QuantileMicros(q)
		if math.Abs(got-want)/want > 0.016 {
			t.Errorf("p%v = %v µs, want %v within 1.6%%", q*100, got, want)
		}
	}
	if got := h.MaxMicros(); got != 100_000 {
		t.Errorf("max %v µs, want 100000", got)
	}
	if got := h.QuantileMicros(1); got != 100_000 {
		t.Errorf("p100 %v µs, want the maximum", got)
	}
}

func TestHistogramSmallAndOutOfRange(t *testing.T) {
	var h Histogram
	h.Record(-time.Second) // counted as zero
	h.Record(1500 * time.Nanosecond)
	if got := h.QuantileMicros(0.5); got != 0 {
		t.Errorf("p50 %v µs, want 0 (the negative sample)", got)
	}
	if got := h.MaxMicros(); got != 1.5 {
		t.Errorf("max %v µs, want 1.5", got)
	}
	h.Record(time.Hour) // beyond the top bucket: kept in it, exact max
	if got := h.MaxMicros(); got != 3.6e9 {
		t.Errorf("max %v µs, want 3.6e9", got)
	}
	if got := h.QuantileMicros(1); got > 3.6e9 || got < 1e9 {
		t.Errorf("p100 %v µs, want the top bucket, capped at the maximum", got)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Nanosecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merging two histograms differs from recording into one")
	}
}

func TestRound(t *testing.T) {
	for _, c := range []struct {
		v      float64
		digits int
		want   float64
	}{{1.2345, 3, 1.235}, {1.25, 1, 1.3}, {-0.04, 1, -0}, {12345.6, 0, 12346}} {
		if got := Round(c.v, c.digits); got != c.want {
			t.Errorf("Round(%v, %d) = %v, want %v", c.v, c.digits, got, c.want)
		}
	}
}

// The budget is exact across workers, and a phase whose budget is spent
// ends without waiting for its duration.
func TestPhaseBudget(t *testing.T) {
	const budget = 1000
	ph := NewPhase(budget)
	var sent atomic.Int64
	for range 3 {
		ph.Go(func() {
			<-ph.Started()
			var held int64
			for ph.Next(&held) {
				sent.Add(1)
			}
		})
	}
	woken := false
	elapsed := ph.Run(time.Minute, func() { woken = true })
	if sent.Load() != budget {
		t.Errorf("%d requests sent, want %d", sent.Load(), budget)
	}
	if elapsed > 10*time.Second || !woken || !ph.Stopped() {
		t.Errorf("after %v woken=%v stopped=%v; want a prompt end, woken and stopped", elapsed, woken, ph.Stopped())
	}
}

// A worker blocked when the duration ends is released by wake.
func TestPhaseDuration(t *testing.T) {
	ph := NewPhase(math.MaxInt64)
	release := make(chan struct{})
	ph.Go(func() {
		<-ph.Started()
		var held int64
		for ph.Next(&held) && !ph.Stopped() {
			<-release
		}
	})
	elapsed := ph.Run(50*time.Millisecond, func() { close(release) })
	if elapsed < 50*time.Millisecond {
		t.Errorf("phase ended after %v, before its duration", elapsed)
	}
}
