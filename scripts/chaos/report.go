package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// honestThreshold is the share of honest exchanges outside planned
// outages that must succeed, per protocol. Everything runs on loopback
// at rates far inside the agent's limits, so nothing should fail; the
// 1% allows for the host's CPUs being taken by other work for longer
// than a client's timeout (3 s, 5 s through MQTT, 30 s for an upload).
// Exchanges overlapping a mosquitto restart or an unplugged firmware
// cable (plus a few seconds for clients to reconnect) are counted apart,
// since failing then is the expected behaviour.
const honestThreshold = 0.99

// minHonest is the fewest honest exchanges outside outages a protocol
// must have had for its success rate to mean anything.
const minHonest = 20

type report struct {
	cfg        config
	t          *tally
	chk        *checks
	out        *outages
	recoveries []string
	sources    int

	cold, base, peak, after memPoint
	settleTook, loadTook    time.Duration
	trail                   []string // VmRSS/goroutines while settling
	counters                []counterDelta
	uploads                 uploadSummary
	stopCode                int
	stopTook                time.Duration

	warns, errs, panics uint64
	lastBad             string
}

type counterDelta struct {
	service, name string
	delta         uint64
	refusal       bool
}

// refusalCounter matches the agent's counters of refused, dropped,
// limited or malformed input, by the names its services use.
var refusalCounter = regexp.MustCompile(`^(rejected_.*|dropped.*|.*_dropped|rate_limited|kiss_of_death_sent|rx_garbage|rx_overlong|rx_bad_crc|rx_empty|tx_too_big|conns_idle_closed|lines_too_long|unknown_commands|login_failures|lockouts|skipped|send_errors|open_errors|disconnects)$`)

// gauge reports counters that are levels, not totals.
func gauge(name string) bool {
	switch name {
	case "link_up", "connected", "clock_synchronised", "stratum_served", "root_dispersion_us":
		return true
	}
	return strings.HasSuffix(name, "_active") || strings.HasPrefix(name, "reserved") || strings.HasSuffix(name, "_held") || strings.HasSuffix(name, "_sources")
}

func counterDeltas(before, after *stateDoc) []counterDelta {
	var out []counterDelta
	if after == nil {
		return nil
	}
	for svc, s := range after.Services {
		for name, v := range s.Counters {
			if gauge(name) {
				continue
			}
			d := v - min(v, before.counter(svc, name))
			if d == 0 {
				continue
			}
			out = append(out, counterDelta{service: svc, name: name, delta: d, refusal: refusalCounter.MatchString(name)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].service != out[j].service {
			return out[i].service < out[j].service
		}
		return out[i].name < out[j].name
	})
	return out
}

// honestVerdicts adds a check per honest protocol and one for the
// hostile clients' violations.
func (rep *report) honestVerdicts() {
	var viol []string
	var hostile uint64
	for _, k := range rep.t.kinds {
		k.mu.Lock()
		if k.honest {
			rate, n := k.rate()
			rep.chk.add("honest "+k.name, n >= minHonest && rate >= honestThreshold,
				fmt.Sprintf("%d of %d outside outages succeeded (%.2f%%, want at least %d exchanges and %.0f%%); first failure: %s",
					k.ok-k.winOK, n, 100*rate, minHonest, 100*honestThreshold, orNone(k.firstFail)))
		} else {
			hostile += k.attempts
			if k.violations > 0 {
				viol = append(viol, fmt.Sprintf("%s: %d, first: %s", k.name, k.violations, k.firstViol))
			}
		}
		k.mu.Unlock()
	}
	detail := fmt.Sprintf("no violation in %d hostile requests", hostile)
	if len(viol) > 0 {
		detail = strings.Join(viol, "; ")
	}
	rep.chk.add("hostile requests refused or answered within bounds", len(viol) == 0, detail)
}

func (rep *report) collectLog(a *agentProc) {
	a.copied.Wait()
	rep.warns, rep.errs, rep.panics = a.warns.Load(), a.errs.Load(), a.panics.Load()
	if s, ok := a.lastBad.Load().(string); ok {
		rep.lastBad = s
	}
	rep.chk.add("no panic in the agent's log", rep.panics == 0, fmt.Sprintf("%d panic or fatal error lines; last bad line: %s", rep.panics, orNone(rep.lastBad)))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n== edge-agent hostile-client battery: %v of load (after a %v warm-up), agent %s\n",
		rep.loadTook.Round(time.Second), rep.cfg.warmup, rep.cfg.agent)

	fmt.Fprintf(w, "\nHonest clients, from 127.0.0.2-9 (success counted outside planned outages; threshold %.0f%%)\n", 100*honestThreshold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tattempts\tok\tfailed\tsuccess\tin outages ok/tried\tp50 ms\tp99 ms\t")
	for _, k := range rep.t.kinds {
		if !k.honest {
			continue
		}
		k.mu.Lock()
		rate, _ := k.rate()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f%%\t%d/%d\t%.1f\t%.1f\t\n", k.name, k.attempts, k.ok,
			(k.attempts-k.winTried)-(k.ok-k.winOK), 100*rate, k.winOK, k.winTried,
			k.rtt.QuantileMicros(0.5)/1e3, k.rtt.QuantileMicros(0.99)/1e3)
		k.mu.Unlock()
	}
	tw.Flush()
	for _, k := range rep.t.kinds {
		if k.honest && len(k.outcomes) > 0 {
			fmt.Fprintf(w, "  %s failures: %s\n", k.name, k.reasons())
		}
	}

	fmt.Fprintln(w, "\nHostile clients (outcomes; VIOLATION = the agent did what it must not)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tattempts\toutcomes")
	for _, k := range rep.t.kinds {
		if k.honest {
			continue
		}
		k.mu.Lock()
		fmt.Fprintf(tw, "%s\t%d\t%s\n", k.name, k.attempts, k.reasons())
		k.mu.Unlock()
	}
	tw.Flush()
	fmt.Fprintf(w, "UDP flood: %d distinct source addresses\n", rep.sources)

	fmt.Fprintln(w, "\nAgent counters over the load: refusals by reason")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range rep.counters {
		if c.refusal {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.service, c.name, c.delta)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "Agent counters over the load: the rest")
	var line []string
	for i, c := range rep.counters {
		if !c.refusal {
			line = append(line, fmt.Sprintf("%s=%d", c.name, c.delta))
		}
		if i == len(rep.counters)-1 || rep.counters[i+1].service != c.service {
			if len(line) > 0 {
				fmt.Fprintf(w, "  %s: %s\n", c.service, strings.Join(line, " "))
			}
			line = nil
		}
	}

	fmt.Fprintln(w, "\nFootprint (RSS from /proc, goroutines from agent_goroutines in the retained state)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tcold start\tbefore load\tpeak\tafter (%v)\tafter/before\t\n", rep.settleTook.Round(time.Second))
	row := func(name string, c, b, p, a int64) {
		ratio := 0.0
		if b > 0 {
			ratio = float64(a) / float64(b)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f\t\n", name, c, b, p, a, ratio)
	}
	row("VmRSS KiB", rep.cold.rss, rep.base.rss, rep.peak.rss, rep.after.rss)
	row("RssAnon KiB", rep.cold.anon, rep.base.anon, rep.peak.anon, rep.after.anon)
	row("RssFile KiB", rep.cold.file, rep.base.file, max(rep.peak.file, rep.after.file), rep.after.file)
	row("threads", rep.cold.threads, rep.base.threads, rep.peak.threads, rep.after.threads)
	row("goroutines", int64(rep.cold.goroutines), int64(rep.base.goroutines), int64(rep.peak.goroutines), int64(rep.after.goroutines))
	tw.Flush()
	fmt.Fprintln(w, "  (peak VmRSS is the agent's VmHWM; peak goroutines the highest in a state published every 2 s)")
	fmt.Fprintf(w, "  after the load, VmRSS/goroutines: %s\n", strings.Join(ends(rep.trail), ", "))

	fmt.Fprintln(w, "\nDisturbances")
	for _, s := range rep.recoveries {
		fmt.Fprintf(w, "  %s\n", s)
	}
	for _, s := range rep.out.summary() {
		fmt.Fprintf(w, "  outage window %s (+ grace for clients to reconnect)\n", s)
	}
	u := rep.uploads
	fmt.Fprintf(w, "\nUploads: %d names acknowledged, %d files present (%d holding a version sent in full whose answer was lost); receiver's temporary files %d, kept resumable uploads %d (%d bytes of %d sent)\n",
		u.acked, u.present, u.doubtful, u.temps, u.partials, u.partialBytes, u.resumeBytes)
	fmt.Fprintf(w, "Agent log: %d warnings, %d errors, %d panics\n", rep.warns, rep.errs, rep.panics)
	fmt.Fprintf(w, "Stop: exit status %d after %v on SIGTERM\n", rep.stopCode, rep.stopTook.Round(time.Millisecond))

	fmt.Fprintln(w, "\nChecks")
	for _, c := range rep.chk.list {
		v := "PASS"
		if !c.ok {
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", v, c.name, c.detail)
	}
}

// ends shortens a long series to its first and last readings.
func ends(l []string) []string {
	if len(l) <= 8 {
		return l
	}
	return append(append(l[:4:4], "..."), l[len(l)-3:]...)
}
