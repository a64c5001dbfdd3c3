package main

import (
	"errors"
	"net"
	"syscall"
	"time"

	"edge-agent/scripts/bench/loadgen"
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
	rtt, proc loadgen.Histogram
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

func runClient(id int, c *net.UDPConn, o options, ph *loadgen.Phase, r *clientResult) {
	p := newProtocol(o, id)
	out := make([]byte, 0, 1024)
	in := make([]byte, 65536)
	<-ph.Started()
	var held int64
	for ph.Next(&held) {
		req := p.request(out)
		t0 := time.Now()
		if err := c.SetReadDeadline(t0.Add(o.timeout)); err != nil {
			r.fail(err)
			return
		}
		// Checked after setting the deadline; see loadgen.Phase.
		if ph.Stopped() {
			return
		}
		if _, err := c.Write(req); err != nil {
			if ph.Stopped() {
				return
			}
			r.fail(err)
			continue
		}
		for {
			n, err := c.Read(in)
			t1 := time.Now()
			if ph.Stopped() {
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
			r.rtt.Record(t1.Sub(t0))
			if v.hasProcessing {
				r.proc.Record(v.processing)
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

	ph := loadgen.NewPhase(o.maxRequests)
	results := make([]clientResult, len(conns))
	for i, c := range conns {
		ph.Go(func() { runClient(i, c, o, ph, &results[i]) })
	}
	elapsed := ph.Run(o.duration, func() {
		past := time.Unix(1, 0)
		for _, c := range conns {
			c.SetReadDeadline(past)
		}
	})

	printJSON(summarise(o, elapsed, results))
}

func summarise(o options, elapsed time.Duration, results []clientResult) loadReport {
	rep := loadReport{
		Target:  o.addr,
		Proto:   o.proto,
		Clients: o.clients,
		Seconds: loadgen.Round(elapsed.Seconds(), 3),
	}
	var rtt, proc loadgen.Histogram
	var unsync uint64
	for i := range results {
		r := &results[i]
		rtt.Merge(&r.rtt)
		proc.Merge(&r.proc)
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
		rep.AnsweredPerSec = loadgen.Round(float64(rep.Answered)/elapsed.Seconds(), 1)
	}
	rep.RTTp50us = rtt.QuantileMicros(0.50)
	rep.RTTp99us = rtt.QuantileMicros(0.99)
	rep.RTTmaxUs = rtt.MaxMicros()
	if o.proto == "ntp" {
		p50, p99, pmax := proc.QuantileMicros(0.50), proc.QuantileMicros(0.99), proc.MaxMicros()
		rep.ProcP50us, rep.ProcP99us, rep.ProcMaxUs = &p50, &p99, &pmax
		rep.Unsynchronised = &unsync
	}
	return rep
}
