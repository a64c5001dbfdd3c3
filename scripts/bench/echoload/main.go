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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
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
