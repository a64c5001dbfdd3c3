package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The report mode turns the runs recorded by scripts/bench-time.sh into the
// tables it prints: medians per server, ratios agent/peer of the medians and
// the targets the agent's services are held to.

// record is one run as the script writes it: which server, the server's CPU
// ticks over the run (-1 when unknown) and udpload's own result (null when
// the run failed).
type record struct {
	Server   string      `json:"server"`
	Proto    string      `json:"proto"`
	Rep      int         `json:"rep"`
	CPUTicks int64       `json:"cpu_ticks"`
	Result   *loadReport `json:"result"`
}

type reportOptions struct {
	clkTck  float64
	command string
	host    string
	peers   map[string]string // proto -> description of the peer
	skipped map[string]string // proto -> why the agent was not measured
	agent   bool
	protos  []string
	repeat  int
}

// series collects one server's figures for one service over the runs.
type series struct {
	aps, cpuUs, cpuPct, rtt50, rtt99, p50, p99, pmax []float64
	timeouts, bad, stale                             uint64
	failed                                           int
}

var peerOf = map[string]string{"ntp": "chronyd", "text": "python"}

func label(proto string) string {
	if proto == "ntp" {
		return "SNTP"
	}
	return "text time"
}

func serverName(s string) string {
	if s == "python" {
		return "seed Python"
	}
	return s
}

func readRecords(r io.Reader, clkTck float64) (map[string]*series, error) {
	out := map[string]*series{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("reading runs: %v: %q", err, sc.Text())
		}
		key := rec.Server + "/" + rec.Proto
		s := out[key]
		if s == nil {
			s = &series{}
			out[key] = s
		}
		res := rec.Result
		if res == nil {
			s.failed++
			continue
		}
		s.aps = append(s.aps, res.AnsweredPerSec)
		s.rtt50 = append(s.rtt50, res.RTTp50us)
		s.rtt99 = append(s.rtt99, res.RTTp99us)
		s.timeouts += res.Timeouts
		s.bad += res.Bad
		s.stale += res.Stale
		if rec.CPUTicks >= 0 && res.Answered > 0 && res.Seconds > 0 {
			cpu := float64(rec.CPUTicks) / clkTck
			s.cpuUs = append(s.cpuUs, cpu*1e6/float64(res.Answered))
			s.cpuPct = append(s.cpuPct, cpu/res.Seconds*100)
		}
		if res.ProcP99us != nil && res.Answered > 0 {
			s.p50 = append(s.p50, *res.ProcP50us)
			s.p99 = append(s.p99, *res.ProcP99us)
			s.pmax = append(s.pmax, *res.ProcMaxUs)
		}
	}
	return out, sc.Err()
}

// median of the runs that produced the figure; ok is false if none did.
func median(v []float64) (m float64, ok bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func num(v []float64, digits int) string {
	m, ok := median(v)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.*f", digits, m)
}

func ratioOf(a, b []float64) (float64, bool) {
	ma, okA := median(a)
	mb, okB := median(b)
	if !okA || !okB || mb <= 0 {
		return 0, false
	}
	return ma / mb, true
}

// cells are one server's figures in table order.
func cells(s *series, proto string) []string {
	proc := "n/a"
	if proto == "ntp" {
		proc = num(s.p50, 1) + " / " + num(s.p99, 1) + " / " + num(s.pmax, 0)
	}
	return []string{
		num(s.aps, 0), num(s.cpuUs, 1), num(s.cpuPct, 0),
		num(s.rtt50, 0) + " / " + num(s.rtt99, 0), proc,
		fmt.Sprintf("%d / %d / %d", s.timeouts, s.bad, s.stale),
	}
}

// target is one figure held against its goal.
type target struct {
	value string
	met   string // "met", "missed" or "" without a value
}

func check(v float64, ok bool, digits int, pass bool) target {
	if !ok {
		return target{value: "-"}
	}
	t := target{value: fmt.Sprintf("%.*f", digits, v), met: "missed"}
	if pass {
		t.met = "met"
	}
	return t
}

// targets: answered/s agent÷peer ≥ 1, CPU per answered agent÷peer ≤ 0.5,
// agent processing p99 < 50 µs (SNTP only).
func targets(agent, peer *series, proto string) (aps, cpu, p99 target) {
	r, ok := ratioOf(agent.aps, peer.aps)
	aps = check(r, ok, 2, r >= 1)
	r, ok = ratioOf(agent.cpuUs, peer.cpuUs)
	cpu = check(r, ok, 2, r <= 0.5)
	p99 = target{value: "n/a"}
	if proto == "ntp" {
		m, ok := median(agent.p99)
		p99 = check(m, ok, 1, m < 50)
		if ok {
			p99.value += " µs"
		}
	}
	return aps, cpu, p99
}

func (t target) String() string {
	if t.met == "" {
		return t.value
	}
	return t.value + " " + t.met
}

func runReport(o options, ro reportOptions) {
	all, err := readRecords(os.Stdin, ro.clkTck)
	if err != nil {
		fatalf("%v", err)
	}
	get := func(server, proto string) *series {
		if s := all[server+"/"+proto]; s != nil {
			return s
		}
		return &series{}
	}
	runs := fmt.Sprintf("%d runs", ro.repeat)
	if ro.repeat == 1 {
		runs = "1 run"
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()

	header := []string{"answered/s", "CPU µs/answer", "CPU %", "rtt p50/p99 µs", "processing p50/p99/max µs", "timeouts/bad/stale (all runs)"}
	line := "%-12s %10s %13s %6s  %-15s %-26s %s\n"
	for _, p := range ro.protos {
		peer := peerOf[p]
		fmt.Fprintf(w, "\n%s: agent vs %s, %d clients, %v per run, median of %s\n\n", label(p), serverName(peer), o.clients, o.duration, runs)
		fmt.Fprintf(w, line, append([]any{"server"}, anys(header)...)...)
		for _, s := range []string{"agent", peer} {
			switch {
			case s == "agent" && !ro.agent:
				continue
			case s == "agent" && ro.skipped[p] != "":
				fmt.Fprintf(w, "%-12s NOT MEASURED: %s\n", "agent", ro.skipped[p])
				continue
			}
			fmt.Fprintf(w, line, append([]any{serverName(s)}, anys(cells(get(s, p), p))...)...)
			if f := get(s, p).failed; f > 0 {
				fmt.Fprintf(w, "%-12s %d run(s) failed; see the progress output\n", "", f)
			}
		}
		if ro.agent && ro.skipped[p] == "" {
			aps, cpu, p99 := targets(get("agent", p), get(peer, p), p)
			fmt.Fprintf(w, "\nagent÷%s: answered/s %s (target ≥ 1), CPU µs per answered %s (target ≤ 0.5)",
				serverName(peer), aps, cpu)
			if p == "ntp" {
				fmt.Fprintf(w, ", agent processing p99 %s (target < 50 µs)", p99)
			}
			fmt.Fprintln(w)
		}
	}

	// The Markdown block for the README.
	fmt.Fprintf(w, "\n<!-- bench-time summary: paste into README -->\n### UDP time services benchmark (loopback)\n\n")
	fmt.Fprintf(w, "Command: `%s`  \nHost: %s.  \n", ro.command, ro.host)
	for _, p := range ro.protos {
		fmt.Fprintf(w, "Peer for %s: %s.  \n", label(p), ro.peers[p])
	}
	if !ro.agent {
		fmt.Fprintf(w, "The agent was not benchmarked (BENCH_AGENT=none).  \n")
	}
	fmt.Fprintf(w, "Same load generator for all (`scripts/bench/udpload`): %d clients, one request in flight each (%v timeout), "+
		"%v per run, median of %s with the servers interleaved. CPU µs per answered and CPU %% (of one CPU) are the server's own: "+
		"utime+stime of the process holding its socket (`/proc/PID/stat`). Processing: transmit minus receive timestamp (T3 − T2) "+
		"as the server stamped them in its replies; the agent and chronyd both take T2 from the kernel.\n\n",
		o.clients, o.timeout, o.duration, runs)
	fmt.Fprintf(w, "| service | server | %s |\n|---|---|---:|---:|---:|---:|---:|---:|\n", strings.Join(header, " | "))
	for _, p := range ro.protos {
		for _, s := range []string{"agent", peerOf[p]} {
			switch {
			case s == "agent" && !ro.agent:
			case s == "agent" && ro.skipped[p] != "":
				fmt.Fprintf(w, "| %s | agent | not measured | | | | | |\n", label(p))
			default:
				fmt.Fprintf(w, "| %s | %s | %s |\n", label(p), serverName(s), strings.Join(cells(get(s, p), p), " | "))
			}
		}
	}
	if ro.agent {
		fmt.Fprintf(w, "\n| service | answered/s agent÷peer (target ≥ 1) | CPU µs per answered agent÷peer (target ≤ 0.5) | agent processing p99 (target < 50 µs) |\n|---|---:|---:|---:|\n")
		for _, p := range ro.protos {
			desc := label(p) + " vs " + serverName(peerOf[p])
			if ro.skipped[p] != "" {
				fmt.Fprintf(w, "| %s | agent not measured | | |\n", desc)
				continue
			}
			aps, cpu, p99 := targets(get("agent", p), get(peerOf[p], p), p)
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", desc, aps, cpu, p99)
		}
	}
	for _, p := range ro.protos {
		if ro.skipped[p] != "" {
			fmt.Fprintf(w, "\nNot measured: %s.\n", ro.skipped[p])
		}
	}
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
