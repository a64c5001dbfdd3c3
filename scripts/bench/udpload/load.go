package main

import (
	"errors"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type loadReport struct {
	Target         string  `json:"target"`
	Proto          string  `json:"proto"`
	Clients        int     `json:"clients"`
	Seconds        float64 `json:"seconds"`
	Sent           uint64  `json:"sent"`
	Answered       uint64  `json:"answered"`
	AnsweredPerSec float64 `json:"answered_per_sec"`
	Timeouts       uint64  `json:"timeouts"`
	Bad            uint64  `json:"bad"`
	Stale          uint64  `json:"stale"`
	Refused        uint64  `json:"refused"`
	Errors         uint64  `json:"errors"`
	RTTp50us       float64 `json:"rtt_p50_us"`
	RTTp99us       float64 `json:"rtt_p99_us"`
	RTTmaxUs       float64 `json:"rtt_max_us"`
	// The server's receive-to-transmit time as it stamped it (ntp only).
	ProcP50us      *float64 `json:"proc_p50_us,omitempty"`
	ProcP99us      *float64 `json:"proc_p99_us,omitempty"`
	ProcMaxUs      *float64 `json:"proc_max_us,omitempty"`
	Unsynchronised *uint64  `json:"unsynchronised,omitempty"`
	FirstBad       string   `json:"first_bad,omitempty"`
	FirstError     string   `json:"first_error,omitempty"`
}

// clientResult is owned by one client goroutine until the run ends.
// sent counts requests whose outcome was decided (answered, timed out, bad
// or failed); one still in flight when the run ends is not counted at all.
type clientResult struct {
	rtt, proc histogram
	sent      uint64
	answered  uint64
	timeouts  uint64
	bad       uint64
	stale     uint64
	refused   uint64
	errors    uint64
	unsync    uint64
	firstBad  string
	firstErr  string
}

// budgetChunk is how many requests a client reserves from the shared
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

// errorPause keeps a client whose socket keeps failing (nobody listening:
// ECONNREFUSED from the ICMP port-unreachable) from spinning on the CPU the
// server under test needs.
const errorPause = 10 * time.Millisecond

func (r *clientResult) fail(err error) {
	r.sent++
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		r.timeouts++
		return
	case errors.Is(err, syscall.ECONNREFUSED):
		r.refused++
	default:
		r.errors++
	}
	if r.firstErr == "" {
		r.firstErr = err.Error()
	}
	time.Sleep(errorPause)
}

func runClient(id int, c *net.UDPConn, o options, start <-chan struct{}, stop *atomic.Bool, budget *atomic.Int64, r *clientResult) {
	p := newProtocol(o, id)
	out := make([]byte, 0, 1024)
	in := make([]byte, 65536)
	<-start
	var tokens int64
	for {
		if tokens == 0 {
			if tokens = takeBudget(budget); tokens == 0 {
				return
			}
		}
		tokens--
		req := p.request(out)
		t0 := time.Now()
		if err := c.SetReadDeadline(t0.Add(o.timeout)); err != nil {
			r.fail(err)
			return
		}
		// Checked after setting the deadline: the main goroutine sets stop
		// and then forces every deadline into the past, so either we see
		// stop here or the read below returns at once.
		if stop.Load() {
			return
		}
		if _, err := c.Write(req); err != nil {
			if stop.Load() {
				return
			}
			r.fail(err)
			continue
		}
		for {
			n, err := c.Read(in)
			t1 := time.Now()
			if stop.Load() {
				// The end of the run raced this exchange: neither an answer
				// nor a failure.
				return
			}
			if err != nil {
				r.fail(err)
				break
			}
			v := p.judge(in[:n])
			if v.outcome == stale {
				r.stale++
				continue
			}
			r.sent++
			if v.outcome == bad {
				r.bad++
				if r.firstBad == "" {
					r.firstBad = v.reason
				}
				break
			}
			r.answered++
			r.rtt.record(t1.Sub(t0))
			if v.hasProcessing {
				r.proc.record(v.processing)
			}
			if v.unsynchronised {
				r.unsync++
			}
			break
		}
	}
}

func runLoad(o options) {
	conns := make([]*net.UDPConn, o.clients)
	raddr, err := net.ResolveUDPAddr("udp", o.addr)
	if err != nil {
		fatalf("%v", err)
	}
	for i := range conns {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			fatalf("opening client socket %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}

	var (
		stop    atomic.Bool
		budget  atomic.Int64
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]clientResult, len(conns))
	)
	budget.Store(o.maxRequests)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runClient(i, c, o, start, &stop, &budget, &results[i])
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
		c.SetReadDeadline(past)
	}
	<-done

	printJSON(summarise(o, elapsed, results))
}

func summarise(o options, elapsed time.Duration, results []clientResult) loadReport {
	rep := loadReport{
		Target:  o.addr,
		Proto:   o.proto,
		Clients: o.clients,
		Seconds: round(elapsed.Seconds(), 3),
	}
	var rtt, proc histogram
	var unsync uint64
	for i := range results {
		r := &results[i]
		rtt.merge(&r.rtt)
		proc.merge(&r.proc)
		rep.Sent += r.sent
		rep.Answered += r.answered
		rep.Timeouts += r.timeouts
		rep.Bad += r.bad
		rep.Stale += r.stale
		rep.Refused += r.refused
		rep.Errors += r.errors
		unsync += r.unsync
		if rep.FirstBad == "" {
			rep.FirstBad = r.firstBad
		}
		if rep.FirstError == "" {
			rep.FirstError = r.firstErr
		}
	}
	if elapsed > 0 {
		rep.AnsweredPerSec = round(float64(rep.Answered)/elapsed.Seconds(), 1)
	}
	rep.RTTp50us = rtt.quantileMicros(0.50)
	rep.RTTp99us = rtt.quantileMicros(0.99)
	rep.RTTmaxUs = rtt.maxMicros()
	if o.proto == "ntp" {
		p50, p99, pmax := proc.quantileMicros(0.50), proc.quantileMicros(0.99), proc.maxMicros()
		rep.ProcP50us, rep.ProcP99us, rep.ProcMaxUs = &p50, &p99, &pmax
		rep.Unsynchronised = &unsync
	}
	return rep
}
