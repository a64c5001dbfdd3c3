package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// receivers in table order, with what each one's time includes.
var receivers = []struct{ name, desc, md string }{
	{"agent", "agent: edge-agent send (sha256 + ack; fsync, verify, rename)",
		"agent, `edge-agent send` (sha256 + ack: written, fsynced, verified, renamed)"},
	{"agent-legacy", "agent: send --legacy (seed framing; fsync, rename)",
		"agent, `edge-agent send --legacy` (seed framing: no ack, no sender hash; the receiver still hashes for its event; fsynced, renamed)"},
	{"python", "seed 003 Python server, recv(1024), no fsync",
		"seed 003's Python server, `recv(1024)` as in the tutorial (no fsync)"},
	{"python-64k", "same Python server, recv(65536), no fsync",
		"the same Python server with `recv(65536)` (no fsync)"},
	{"socat", "socat TCP-LISTEN -> OPEN, no fsync",
		"`socat -u TCP-LISTEN OPEN:file,creat,trunc` (no fsync)"},
	{"dd", "dd bs=1M conv=fsync, no network",
		"`dd bs=1M conv=fsync` from the source file (no network): the disk's durable-write rate"},
}

var targets = []struct {
	other string
	min   float64
}{{"python", 2}, {"socat", 1.5}, {"dd", 0.7}}

const rssTargetKiB = 32 * 1024

type runs struct {
	mbps        []float64
	secs        []float64
	total, bad  int
	rssKiB, hwm int64
}

// report reads lines "run NAME REP STATUS MBPS SECONDS RSS_MAX_KIB HWM_KIB"
// (STATUS ok, mismatch or failed) and prints a console table and a
// Markdown block.
func report(in io.Reader, out io.Writer) error {
	command := flag.Lookup("command").Value.String()
	host := flag.Lookup("host").Value.String()
	notes := flag.Lookup("notes").Value.String()
	by := map[string]*runs{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 8 || f[0] != "run" {
			continue
		}
		r := by[f[1]]
		if r == nil {
			r = &runs{}
			by[f[1]] = r
		}
		r.total++
		if f[3] != "ok" {
			r.bad++
			continue
		}
		mb, err1 := strconv.ParseFloat(f[4], 64)
		s, err2 := strconv.ParseFloat(f[5], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad run line %q", sc.Text())
		}
		r.mbps = append(r.mbps, mb)
		r.secs = append(r.secs, s)
		rss, _ := strconv.ParseInt(f[6], 10, 64)
		hwm, _ := strconv.ParseInt(f[7], 10, 64)
		r.rssKiB, r.hwm = max(r.rssKiB, rss), max(r.hwm, hwm)
	}
	if err := sc.Err(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n%-62s %10s %19s %9s %7s\n", "receiver", "MB/s", "min-max MB/s", "median s", "ok/runs")
	for _, rc := range receivers {
		r := by[rc.name]
		if r == nil {
			continue
		}
		fmt.Fprintf(out, "%-62s %10s %19s %9s %7s\n", rc.desc, num(median(r.mbps), 0), spread(r.mbps),
			num(median(r.secs), 3), fmt.Sprintf("%d/%d", r.total-r.bad, r.total))
	}
	fmt.Fprintln(out)
	for _, agent := range []string{"agent", "agent-legacy"} {
		for _, t := range targets {
			if by[agent] == nil || by[t.other] == nil {
				continue
			}
			v := ratio(by, agent, t.other)
			fmt.Fprintf(out, "%-13s / %-7s %6s   target >= %.1f: %s\n", agent, t.other, num(v, 2), t.min, verdict(v, t.min))
		}
	}
	peak := rssLine(by)
	if peak != "" {
		fmt.Fprintf(out, "%s\n", peak)
	}

	// Markdown for the README.
	fmt.Fprintf(out, "\n<!-- bench-file summary: paste into README -->\n")
	fmt.Fprintf(out, "### File receiver benchmark (loopback)\n\n")
	fmt.Fprintf(out, "Command: `%s`  \nHost: %s.  \n", command, host)
	for line := range strings.SplitSeq(notes, "|") {
		if line != "" {
			fmt.Fprintf(out, "%s  \n", line)
		}
	}
	fmt.Fprintf(out, "\n| receiver | median MB/s | min-max MB/s | median s | ok / runs |\n|---|---:|---:|---:|---:|\n")
	for _, rc := range receivers {
		if r := by[rc.name]; r != nil {
			fmt.Fprintf(out, "| %s | %s | %s | %s | %d / %d |\n", rc.md, num(median(r.mbps), 0), spread(r.mbps),
				num(median(r.secs), 3), r.total-r.bad, r.total)
		}
	}
	if by["agent"] != nil {
		fmt.Fprintf(out, "\n| ratio (medians) | value | target | met |\n|---|---:|---:|---|\n")
		for _, t := range targets {
			if by[t.other] != nil {
				v := ratio(by, "agent", t.other)
				fmt.Fprintf(out, "| agent / %s | %s | >= %.1f | %s |\n", t.other, num(v, 2), t.min, verdict(v, t.min))
			}
		}
		if by["agent-legacy"] != nil {
			fmt.Fprintf(out, "\nWith `--legacy` (seed framing, as the peers are fed):")
			for _, t := range targets {
				if by[t.other] != nil {
					fmt.Fprintf(out, " agent / %s %s;", t.other, num(ratio(by, "agent-legacy", t.other), 2))
				}
			}
			fmt.Fprintln(out)
		}
		if peak != "" {
			fmt.Fprintf(out, "\n%s\n", peak)
		}
	}
	return nil
}

func rssLine(by map[string]*runs) string {
	var rss, hwm int64
	for _, n := range []string{"agent", "agent-legacy"} {
		if r := by[n]; r != nil {
			rss, hwm = max(rss, r.rssKiB), max(hwm, r.hwm)
		}
	}
	if hwm == 0 && rss == 0 {
		return ""
	}
	peak := max(hwm, rss)
	return fmt.Sprintf("Agent peak RSS %.1f MiB (VmHWM %.1f MiB, largest VmRSS sampled during uploads %.1f MiB); target < 32 MiB: %s",
		float64(peak)/1024, float64(hwm)/1024, float64(rss)/1024, map[bool]string{true: "met", false: "MISSED"}[peak < rssTargetKiB])
}

func ratio(by map[string]*runs, a, b string) float64 {
	x, y := median(by[a].mbps), median(by[b].mbps)
	if x < 0 || y <= 0 {
		return -1
	}
	return x / y
}

func verdict(v, target float64) string {
	switch {
	case v < 0:
		return "not measured"
	case v >= target:
		return "met"
	default:
		return "MISSED"
	}
}

// median of the runs that succeeded; -1 when none did.
func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f-%.0f", slices.Min(v), slices.Max(v))
}

func num(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
