// Command udpload drives a UDP request/reply time service for
// scripts/bench-time.sh: the agent's SNTP and strftime services and their
// peers (chronyd, the seed tutorial's Python server) get the same load.
//
// Modes:
//
//	load     -clients goroutines, each with its own connected UDP socket,
//	         send a request and wait for its reply or -timeout, then send the
//	         next (closed loop), for -duration or -max-requests requests in
//	         all; prints one JSON line.
//	probe    retries one exchange until it is answered or -wait elapses and
//	         prints what the server said; the exit status tells whether it
//	         answers.
//	freeport prints -n distinct loopback UDP ports that are currently free.
//	report   reads the runs recorded by scripts/bench-time.sh on stdin and
//	         prints the tables of medians, ratios and targets.
//
// Protocols (-proto):
//
//	ntp   48-byte SNTP version 4 client (mode 3) requests, each with a new
//	      transmit timestamp; a reply is answered when it is 48 bytes or more,
//	      mode 4, the same version, not a kiss-o'-death, and its origin
//	      timestamp equals the request's transmit timestamp. Replies to earlier
//	      requests (late ones after a timeout) are counted as stale and
//	      skipped. The server's own receive-to-transmit time (T3 - T2) is
//	      reported from the answered replies.
//	text  the seed tutorial's strftime service: the datagram is a format
//	      (-format, empty for the server's default) and any non-empty reply
//	      counts as answered.
//
// Only loopback targets are accepted: this is a benchmark for one host, and
// a closed-loop flood must not leave it by a mistyped address.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"edge-agent/scripts/bench/loadgen"
)

type options struct {
	proto       string
	addr        string
	clients     int
	duration    time.Duration
	timeout     time.Duration
	format      string
	maxRequests int64
	wait        time.Duration
	n           int
}

// Upper bounds keep a typo from turning into an hour-long flood.
const (
	maxClients  = 1024
	maxDuration = 10 * time.Minute
	maxTimeout  = 10 * time.Second
)

func main() {
	var o options
	var ro reportOptions
	ro.peers, ro.skipped = map[string]string{}, map[string]string{}
	mode := flag.String("mode", "load", "load | probe | freeport | report")
	flag.StringVar(&o.proto, "proto", "ntp", "ntp | text")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:123", "server address host:port (loopback only)")
	flag.IntVar(&o.clients, "clients", 4, "load: concurrent clients, one socket and one request in flight each")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "load: length of the run")
	flag.DurationVar(&o.timeout, "timeout", 200*time.Millisecond, "how long to wait for the reply to one request")
	flag.StringVar(&o.format, "format", "%Y-%m-%d-%X", "text: the strftime format sent as the request (empty: an empty datagram)")
	flag.Int64Var(&o.maxRequests, "max-requests", 50_000_000, "load: stop after this many requests in total")
	flag.DurationVar(&o.wait, "wait", 5*time.Second, "probe: give up after this long")
	flag.IntVar(&o.n, "n", 1, "freeport: number of ports")
	flag.Float64Var(&ro.clkTck, "clk-tck", 100, "report: clock ticks per second of the CPU figures (getconf CLK_TCK)")
	flag.StringVar(&ro.command, "command", "", "report: the benchmark's command line")
	flag.StringVar(&ro.host, "host", "", "report: description of the host")
	flag.Var(keyValues(ro.peers), "peer", "report: PROTO=description of the peer (repeatable)")
	flag.Var(keyValues(ro.skipped), "skip", "report: PROTO=why the agent was not measured (repeatable)")
	flag.BoolVar(&ro.agent, "agent", true, "report: whether the agent was benchmarked")
	protos := flag.String("protos", "ntp,text", "report: services in the order to show")
	flag.IntVar(&ro.repeat, "repeat", 3, "report: runs per server and service")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments: %q", flag.Args())
	}

	switch *mode {
	case "freeport":
		runFreePort(o.n)
		return
	case "report":
		ro.protos = strings.Split(*protos, ",")
		if ro.clkTck <= 0 || ro.repeat < 1 {
			fatalf("-clk-tck and -repeat must be positive")
		}
		runReport(o, ro)
		return
	}
	if err := validate(&o); err != nil {
		fatalf("%v", err)
	}
	switch *mode {
	case "load":
		runLoad(o)
	case "probe":
		runProbe(o)
	default:
		fatalf("unknown -mode %q (want load, probe or freeport)", *mode)
	}
}

func validate(o *options) error {
	switch o.proto {
	case "ntp", "text":
	default:
		return fmt.Errorf("-proto must be ntp or text, not %q", o.proto)
	}
	if o.clients < 1 || o.clients > maxClients {
		return fmt.Errorf("-clients must be 1..%d", maxClients)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return fmt.Errorf("-duration must be positive and at most %v", maxDuration)
	}
	if o.timeout < time.Millisecond || o.timeout > maxTimeout {
		return fmt.Errorf("-timeout must be 1ms..%v", maxTimeout)
	}
	if o.wait <= 0 || o.wait > maxDuration {
		return fmt.Errorf("-wait must be positive and at most %v", maxDuration)
	}
	if o.maxRequests < 1 {
		return errors.New("-max-requests must be positive")
	}
	if len(o.format) > 1024 {
		return errors.New("-format is longer than the seed server's 1024-byte receive buffer")
	}
	return checkLoopback(o.addr)
}

func checkLoopback(addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if ua.Port == 0 {
		return fmt.Errorf("-addr %q: a port is required", addr)
	}
	if !ua.IP.IsLoopback() {
		return fmt.Errorf("-addr %q resolves to %v, which is not a loopback address", addr, ua.IP)
	}
	return nil
}

// keyValues is a repeatable KEY=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string { return fmt.Sprint(map[string]string(kv)) }

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, not %q", s)
	}
	kv[k] = v
	return nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "udpload: "+format+"\n", args...)
	os.Exit(2)
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fatalf("encoding result: %v", err)
	}
	// One write, so a reader of a pipe never sees half a line.
	os.Stdout.Write(append(b, '\n'))
}

// newProtocol returns a fresh per-client protocol state; id makes the
// requests of different clients distinct.
func newProtocol(o options, id int) protocol {
	if o.proto == "ntp" {
		return newNTPClient(id)
	}
	return &textClient{format: []byte(o.format)}
}

// ---------------------------------------------------------------------------
// probe

type probeReport struct {
	Target string  `json:"target"`
	Proto  string  `json:"proto"`
	RTTus  float64 `json:"rtt_us"`
	Reply  string  `json:"reply"`
}

// runProbe sends one request at a time until one is answered. Each attempt
// waits at most 500ms so that a server that starts late is found quickly.
func runProbe(o options) {
	deadline := time.Now().Add(o.wait)
	var last string
	for {
		rep, err := probeOnce(o, min(o.timeout, 500*time.Millisecond))
		if err == nil {
			printJSON(rep)
			return
		}
		last = err.Error()
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "udpload: %s (%s) did not answer within %v: %s\n", o.addr, o.proto, o.wait, last)
			os.Exit(1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func probeOnce(o options, timeout time.Duration) (probeReport, error) {
	c, err := net.Dial("udp", o.addr)
	if err != nil {
		return probeReport{}, err
	}
	defer c.Close()
	p := newProtocol(o, 0)
	req := p.request(make([]byte, 0, 1024))
	t0 := time.Now()
	if err := c.SetReadDeadline(t0.Add(timeout)); err != nil {
		return probeReport{}, err
	}
	if _, err := c.Write(req); err != nil {
		return probeReport{}, err
	}
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return probeReport{}, err
		}
		rtt := time.Since(t0)
		v := p.judge(buf[:n])
		switch v.outcome {
		case stale:
			continue
		case bad:
			return probeReport{}, errors.New(v.reason)
		}
		return probeReport{
			Target: o.addr,
			Proto:  o.proto,
			RTTus:  loadgen.Round(float64(rtt)/1e3, 1),
			Reply:  p.describe(buf[:n]),
		}, nil
	}
}

// ---------------------------------------------------------------------------
// freeport

// runFreePort keeps every port bound until all are printed so they are
// distinct; the caller binds them moments later, which is the usual race of
// this technique and is caught by the caller's startup check.
func runFreePort(n int) {
	if n < 1 || n > 100 {
		fatalf("-n must be 1..100")
	}
	ports := make([]string, 0, n)
	for range n {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			fatalf("finding a free UDP port: %v", err)
		}
		defer c.Close()
		ports = append(ports, strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port))
	}
	fmt.Println(strings.Join(ports, " "))
}
