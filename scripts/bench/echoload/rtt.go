package main

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"time"

	"edge-agent/scripts/bench/loadgen"
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
	hist       loadgen.Histogram
	roundtrips uint64
	wrong      uint64
	slow       uint64
	err        error
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

func rttWorker(id int, c net.Conn, o options, ph *loadgen.Phase, r *workerResult) {
	p := make([]byte, o.size)
	want := make([]byte, o.size)
	got := make([]byte, o.size)
	<-ph.Started()
	var held int64
	for seq := uint64(0); ph.Next(&held); seq++ {
		fill(p, want, id, seq)
		t0 := time.Now()
		if err := c.SetDeadline(t0.Add(o.timeout)); err != nil {
			r.err = err
			return
		}
		// Checked after setting the deadline; see loadgen.Phase.
		if ph.Stopped() {
			return
		}
		_, err := c.Write(p)
		if err == nil {
			_, err = io.ReadFull(c, got)
		}
		d := time.Since(t0)
		if ph.Stopped() {
			// The end of the run interrupted or raced this exchange; it is
			// neither a failure nor a completed round trip.
			return
		}
		if err != nil {
			r.err = err
			return
		}
		r.roundtrips++
		r.hist.Record(d)
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

	ph := loadgen.NewPhase(o.maxRequests)
	results := make([]workerResult, len(conns))
	connected := 0
	for i, c := range conns {
		if c == nil {
			continue
		}
		connected++
		ph.Go(func() { rttWorker(i, c, o, ph, &results[i]) })
	}
	elapsed := ph.Run(o.duration, func() {
		past := time.Unix(1, 0)
		for _, c := range conns {
			if c != nil {
				c.SetDeadline(past)
			}
		}
	})

	rep := rttReport{
		Target:        o.addr,
		Conns:         o.conns,
		Connected:     connected,
		Size:          o.size,
		Seconds:       loadgen.Round(elapsed.Seconds(), 3),
		ConnectFailed: len(dialErrs),
		FirstError:    firstError(dialErrs),
	}
	var all loadgen.Histogram
	for i := range results {
		r := &results[i]
		all.Merge(&r.hist)
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
		rep.RPS = loadgen.Round(float64(rep.Roundtrips)/elapsed.Seconds(), 1)
	}
	rep.P50us = all.QuantileMicros(0.50)
	rep.P90us = all.QuantileMicros(0.90)
	rep.P99us = all.QuantileMicros(0.99)
	rep.P999us = all.QuantileMicros(0.999)
	rep.MaxUs = all.MaxMicros()
	printJSON(rep)
}
