package main

import (
	"bytes"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type rttReport struct {
	Target        string  `json:"target"`
	Conns         int     `json:"conns"`
	Connected     int     `json:"connected"`
	Size          int     `json:"size"`
	Seconds       float64 `json:"seconds"`
	Roundtrips    uint64  `json:"roundtrips"`
	RPS           float64 `json:"rps"`
	Failed        int     `json:"failed"`
	Wrong         uint64  `json:"wrong"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	OverMaxRTT    uint64  `json:"over_maxrtt"`
	ConnectFailed int     `json:"connect_failed"`
	Timeouts      int     `json:"timeouts"`
	Resets        int     `json:"resets"`
	EOFs          int     `json:"eofs"`
	OtherErrors   int     `json:"other_errors"`
	FirstError    string  `json:"first_error,omitempty"`
}

type workerResult struct {
	hist       histogram
	roundtrips uint64
	wrong      uint64
	slow       uint64
	err        error
}

// budgetChunk is how many requests a worker reserves from the shared
// -max-requests budget at a time, so the counter is not a contended cache
// line on every request.
const budgetChunk = 256

func takeBudget(b *atomic.Int64) int64 {
	left := b.Add(-budgetChunk) + budgetChunk
	if left <= 0 {
		return 0
	}
	return min(left, budgetChunk)
}

// fill writes request seq of connection id into p and its expected echo into
// want. The letters rotate with seq, so a stale or duplicated reply differs
// from the expected one across the whole buffer, not only in the counter; the
// decimal header checks that non-letters pass through unchanged.
func fill(p, want []byte, id int, seq uint64) {
	for i := range p {
		p[i] = 'a' + byte((uint64(i)+seq)%26)
	}
	var hdr [48]byte
	h := strconv.AppendUint(hdr[:0], uint64(id), 10)
	h = append(h, '-')
	h = strconv.AppendUint(h, seq, 10)
	h = append(h, ':')
	if len(h) <= len(p) {
		copy(p, h)
	}
	for i, c := range p {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		want[i] = c
	}
}

func rttWorker(id int, c net.Conn, o options, start <-chan struct{}, stop *atomic.Bool, budget *atomic.Int64, r *workerResult) {
	p := make([]byte, o.size)
	want := make([]byte, o.size)
	got := make([]byte, o.size)
	<-start
	var tokens int64
	for seq := uint64(0); ; seq++ {
		if tokens == 0 {
			if tokens = takeBudget(budget); tokens == 0 {
				return
			}
		}
		tokens--
		fill(p, want, id, seq)
		t0 := time.Now()
		if err := c.SetDeadline(t0.Add(o.timeout)); err != nil {
			r.err = err
			return
		}
		// Checked after setting the deadline: the main goroutine sets stop
		// and then forces every deadline into the past, so either we see
		// stop here or our deadline gets overridden and the exchange below
		// returns at once.
		if stop.Load() {
			return
		}
		_, err := c.Write(p)
		if err == nil {
			_, err = io.ReadFull(c, got)
		}
		d := time.Since(t0)
		if stop.Load() {
			// The end of the run interrupted or raced this exchange; it is
			// neither a failure nor a completed round trip.
			return
		}
		if err != nil {
			r.err = err
			return
		}
		r.roundtrips++
		r.hist.record(d)
		if d > o.maxRTT {
			r.slow++
		}
		if !bytes.Equal(got, want) {
			r.wrong++
		}
	}
}

func runRTT(o options) {
	conns, dialErrs := dialAll(o, o.conns, 15*time.Second, false)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()

	var (
		stop    atomic.Bool
		budget  atomic.Int64
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]workerResult, len(conns))
	)
	budget.Store(o.maxRequests)
	connected := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		connected++
		wg.Add(1)
		go func() {
			defer wg.Done()
			rttWorker(i, c, o, start, &stop, &budget, &results[i])
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	timer := time.NewTimer(o.duration)
	t0 := time.Now()
	close(start)
	select {
	case <-timer.C:
	case <-done:
	case <-sig:
	}
	elapsed := time.Since(t0)
	stop.Store(true)
	past := time.Unix(1, 0)
	for _, c := range conns {
		if c != nil {
			c.SetDeadline(past)
		}
	}
	<-done

	rep := rttReport{
		Target:        o.addr,
		Conns:         o.conns,
		Connected:     connected,
		Size:          o.size,
		Seconds:       round(elapsed.Seconds(), 3),
		ConnectFailed: len(dialErrs),
		FirstError:    firstError(dialErrs),
	}
	var all histogram
	for i := range results {
		r := &results[i]
		all.merge(&r.hist)
		rep.Roundtrips += r.roundtrips
		rep.Wrong += r.wrong
		rep.OverMaxRTT += r.slow
		if r.err == nil {
			continue
		}
		if rep.FirstError == "" {
			rep.FirstError = r.err.Error()
		}
		switch classify(r.err) {
		case "timeout":
			rep.Timeouts++
		case "reset":
			rep.Resets++
		case "eof":
			rep.EOFs++
		default:
			rep.OtherErrors++
		}
	}
	rep.Failed = rep.ConnectFailed + rep.Timeouts + rep.Resets + rep.EOFs + rep.OtherErrors
	if elapsed > 0 {
		rep.RPS = round(float64(rep.Roundtrips)/elapsed.Seconds(), 1)
	}
	rep.P50us = all.quantileMicros(0.50)
	rep.P90us = all.quantileMicros(0.90)
	rep.P99us = all.quantileMicros(0.99)
	rep.P999us = all.quantileMicros(0.999)
	rep.MaxUs = round(float64(all.max)/1e3, 1)
	printJSON(rep)
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}
