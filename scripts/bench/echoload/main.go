// Command echoload drives an upper-casing TCP echo server for
// scripts/bench-echo.sh.
//
// Modes:
//
//	rtt      N connections doing request/response round trips for a fixed
//	         time; prints one JSON line with throughput and latency.
//	hold     opens N connections, checks each with one echo exchange, prints
//	         one JSON line and keeps them idle until stdin is closed or -hold
//	         elapses, so the caller can sample the server's memory meanwhile.
//	probe    retries one echo exchange until it succeeds or -wait elapses;
//	         the exit status tells whether the server is serving.
//	freeport prints -n currently unused loopback TCP ports.
//
// The expected reply is the request with ASCII a-z upper-cased and every other
// byte unchanged (Python's bytes.upper()).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	addr        string
	conns       int
	duration    time.Duration
	size        int
	maxRTT      time.Duration
	timeout     time.Duration
	dialTimeout time.Duration
	dialConc    int
	maxRequests int64
	hold        time.Duration
	verifyAfter bool
	wait        time.Duration
	n           int
}

func main() {
	var o options
	mode := flag.String("mode", "rtt", "rtt | hold | probe | freeport")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:7007", "server address host:port")
	flag.IntVar(&o.conns, "conns", 1, "number of TCP connections")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "rtt: length of the timed phase")
	flag.IntVar(&o.size, "size", 64, "rtt: request size in bytes")
	flag.DurationVar(&o.maxRTT, "maxrtt", 200*time.Millisecond, "rtt: round trips slower than this are counted in over_maxrtt (reported, not failed)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "deadline for one request/response exchange")
	flag.DurationVar(&o.dialTimeout, "dial-timeout", 5*time.Second, "connect timeout")
	flag.IntVar(&o.dialConc, "dial-concurrency", 200, "maximum dials in flight")
	flag.Int64Var(&o.maxRequests, "max-requests", 50_000_000, "rtt: stop after this many requests in total")
	flag.DurationVar(&o.hold, "hold", 3*time.Second, "hold: keep connections open at most this long (0: until stdin is closed)")
	flag.BoolVar(&o.verifyAfter, "verify-after", true, "hold: re-check every connection with one exchange before closing and print a second JSON line")
	flag.DurationVar(&o.wait, "wait", 10*time.Second, "probe: give up after this long")
	flag.IntVar(&o.n, "n", 1, "freeport: number of ports")
	flag.Parse()

	if o.conns < 1 || o.size < 1 || o.dialConc < 1 || o.maxRequests < 1 {
		fatalf("-conns, -size, -dial-concurrency and -max-requests must be positive")
	}
	raiseNoFile(o.conns)

	switch *mode {
	case "rtt":
		runRTT(o)
	case "hold":
		runHold(o)
	case "probe":
		runProbe(o)
	case "freeport":
		runFreePort(o)
	default:
		fatalf("unknown -mode %q", *mode)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "echoload: "+format+"\n", args...)
	os.Exit(2)
}

// raiseNoFile lifts the soft descriptor limit to the hard one. Thousands of
// connections are the point of this tool, and the default soft limit (often
// 1024) would turn the measurement into EMFILE errors.
func raiseNoFile(want int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintf(os.Stderr, "echoload: raising RLIMIT_NOFILE: %v\n", err)
		}
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if uint64(want)+16 > lim.Cur {
		fmt.Fprintf(os.Stderr, "echoload: warning: %d connections requested but RLIMIT_NOFILE is %d\n", want, lim.Cur)
	}
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fatalf("encoding result: %v", err)
	}
	// Written in one call, unbuffered: the bench script reads this line from
	// a pipe while the process keeps running.
	os.Stdout.Write(append(b, '\n'))
}

// ---------------------------------------------------------------------------
// Dialing and single exchanges

// dialAll opens n connections with at most conc dials in flight, so that a
// burst of thousands of SYNs does not overflow the server's listen backlog
// and the run measures the server rather than the backlog. With check set,
// each connection must also complete one echo exchange; that proves the
// server accepted it and runs whatever per-connection state it keeps.
// Failed slots are nil; errs holds one error per failure.
func dialAll(o options, n int, keepAlive time.Duration, check bool) (conns []net.Conn, errs []error) {
	conns = make([]net.Conn, n)
	d := net.Dialer{Timeout: o.dialTimeout, KeepAlive: keepAlive}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next atomic.Int64
	)
	workers := min(o.dialConc, n)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := d.Dial("tcp", o.addr)
				if err == nil && check {
					if err = exchange(c, "hold-"+strconv.Itoa(i), o.timeout); err != nil {
						c.Close()
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	return conns, errs
}

var errWrongReply = errors.New("wrong reply")

// exchange sends msg and expects its upper-cased echo within timeout.
func exchange(c net.Conn, msg string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != upperASCII(msg) {
		return fmt.Errorf("%w: sent %q, got %q", errWrongReply, msg, got)
	}
	return c.SetDeadline(time.Time{})
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// classify buckets an I/O error for the report. Only the kind is counted;
// the first error's text is reported verbatim for diagnosis.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, errWrongReply):
		return "wrong"
	default:
		return "other"
	}
}

func firstError(errs []error) string {
	if len(errs) == 0 {
		return ""
	}
	return errs[0].Error()
}

// ---------------------------------------------------------------------------
// rtt mode

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

// ---------------------------------------------------------------------------
// Latency histogram

// histogram records every round trip in log-linear buckets (64 per power of
// two, so a reported quantile is within about 1.6% of the true value).
// Memory is fixed (about 18 KiB) whatever the number of samples, so each
// worker keeps its own without locking and they are merged at the end.
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
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return round(min(histValue(i), float64(h.max))/1e3, 1)
		}
	}
	return round(float64(h.max)/1e3, 1)
}

// ---------------------------------------------------------------------------
// hold mode

type holdReport struct {
	Target        string  `json:"target"`
	Conns         int     `json:"conns"`
	ConnsOpen     int     `json:"conns_open"`
	Failed        int     `json:"failed"`
	SecondsToOpen float64 `json:"seconds_to_open"`
	FirstError    string  `json:"first_error,omitempty"`
}

type holdEndReport struct {
	ConnsAlive  int     `json:"conns_alive"`
	ConnsLost   int     `json:"conns_lost"`
	HeldSeconds float64 `json:"held_seconds"`
	FirstError  string  `json:"first_error,omitempty"`
}

func runHold(o options) {
	// Stdin is watched from the start so that a caller which gives up early
	// (closes the pipe) is noticed even while dialing is still under way.
	stdinClosed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)

	t0 := time.Now()
	// Keep-alive off: the connections must stay truly idle while the
	// server's memory is sampled.
	conns, errs := dialAll(o, o.conns, -1, true)
	open := 0
	for _, c := range conns {
		if c != nil {
			open++
		}
	}
	printJSON(holdReport{
		Target:        o.addr,
		Conns:         o.conns,
		ConnsOpen:     open,
		Failed:        len(errs),
		SecondsToOpen: round(time.Since(t0).Seconds(), 3),
		FirstError:    firstError(errs),
	})

	held := time.Now()
	var limit <-chan time.Time
	if o.hold > 0 {
		limit = time.After(o.hold)
	}
	select {
	case <-stdinClosed:
	case <-limit:
	case <-sig:
	}
	heldFor := time.Since(held)

	if o.verifyAfter {
		rep := holdEndReport{HeldSeconds: round(heldFor.Seconds(), 3)}
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			next atomic.Int64
		)
		for w := 0; w < min(o.dialConc, len(conns)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(conns) {
						return
					}
					if conns[i] == nil {
						continue
					}
					err := exchange(conns[i], "held-"+strconv.Itoa(i), o.timeout)
					mu.Lock()
					if err == nil {
						rep.ConnsAlive++
					} else {
						rep.ConnsLost++
						if rep.FirstError == "" {
							rep.FirstError = err.Error()
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		printJSON(rep)
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// ---------------------------------------------------------------------------
// probe and freeport modes

func runProbe(o options) {
	deadline := time.Now().Add(o.wait)
	var last error
	for {
		c, err := net.DialTimeout("tcp", o.addr, time.Second)
		if err == nil {
			err = exchange(c, "probe", min(o.timeout, time.Second))
			c.Close()
			if err == nil {
				return
			}
		}
		last = err
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "echoload: %s not serving after %v: %v\n", o.addr, o.wait, last)
			os.Exit(1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runFreePort prints ports that are free for both TCP and UDP on 127.0.0.1,
// since the agent serves echo on both protocols at the same port. All ports
// stay bound until printing so they are distinct.
func runFreePort(o options) {
	ports := make([]string, 0, o.n)
	for attempt := 0; len(ports) < o.n; attempt++ {
		if attempt > 100*o.n {
			fatalf("could not find %d ports free for both TCP and UDP", o.n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("finding a free port: %v", err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		u, err := net.ListenPacket("udp", "127.0.0.1:"+port)
		if err != nil {
			continue
		}
		defer u.Close()
		ports = append(ports, port)
	}
	fmt.Println(strings.Join(ports, " "))
}
