package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"edge-agent/scripts/bench/loadgen"
)

// Outage classes: what a planned disturbance takes away for a while.
const (
	brokerDown   = 1 << iota // mosquitto restarting
	firmwareDown             // the microcontroller's cable pulled
)

// kind is one client kind's tally. Honest kinds count successes and
// failures, split by whether the attempt overlapped a planned outage
// they depend on; hostile kinds count outcomes by reason (a refusal is
// what they are for) and violations (the agent doing what it must not).
type kind struct {
	name      string
	honest    bool
	dependsOn int // outage classes that excuse a failure

	mu         sync.Mutex
	attempts   uint64
	ok         uint64
	winTried   uint64 // attempts overlapping an outage
	winOK      uint64
	outcomes   map[string]uint64
	violations uint64
	firstFail  string
	firstViol  string
	rtt        loadgen.Histogram
}

// tally holds every kind and the outage timeline.
type tally struct {
	out   *outages
	mu    sync.Mutex
	kinds []*kind
	index map[string]*kind
}

func newTally(out *outages) *tally {
	return &tally{out: out, index: map[string]*kind{}}
}

// kind returns the kind called name, creating it on first use.
func (t *tally) kind(name string, honest bool, dependsOn int) *kind {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, ok := t.index[name]; ok {
		return k
	}
	k := &kind{name: name, honest: honest, dependsOn: dependsOn, outcomes: map[string]uint64{}}
	t.kinds = append(t.kinds, k)
	t.index[name] = k
	return k
}

// success records an honest exchange that started at t0 and was answered
// correctly now.
func (t *tally) success(k *kind, t0 time.Time) {
	now := time.Now()
	win := t.out.overlaps(k.dependsOn, t0, now)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempts++
	k.ok++
	if win {
		k.winTried++
		k.winOK++
	}
	k.rtt.Record(now.Sub(t0))
}

// failure records an honest exchange that started at t0 and failed now
// for reason (a short class for the table; detail goes to the log).
func (t *tally) failure(k *kind, t0 time.Time, reason, detail string) {
	win := t.out.overlaps(k.dependsOn, t0, time.Now())
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempts++
	if win {
		k.winTried++
		reason = "(outage) " + reason
	} else if k.firstFail == "" {
		k.firstFail = reason + ": " + detail
	}
	k.outcomes[reason]++
}

// outcome records what happened to one hostile attempt.
func (k *kind) outcome(reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempts++
	k.outcomes[reason]++
}

// violation records a hostile attempt the agent answered as it must not
// (a reply larger than allowed, a bad file accepted ...).
func (k *kind) violation(detail string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.attempts++
	k.violations++
	k.outcomes["VIOLATION"]++
	if k.firstViol == "" {
		k.firstViol = detail
	}
}

// outage is one planned disturbance: from start until end (zero while it
// lasts) plus a grace period for clients to notice the recovery.
type outage struct {
	class      int
	label      string
	start, end time.Time
	grace      time.Duration
}

type outages struct {
	mu   sync.Mutex
	list []*outage
}

// begin opens an outage of class now.
func (o *outages) begin(class int, label string, grace time.Duration) *outage {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := &outage{class: class, label: label, start: time.Now(), grace: grace}
	o.list = append(o.list, w)
	return w
}

// finish closes w at t.
func (o *outages) finish(w *outage, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w.end.IsZero() {
		w.end = t
	}
}

// overlaps reports whether [t0, t1] meets an outage of one of the classes
// in mask, counting its grace period; an outage still on meets anything
// that ends after it began.
func (o *outages) overlaps(mask int, t0, t1 time.Time) bool {
	if mask == 0 {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range o.list {
		if w.class&mask == 0 {
			continue
		}
		end := w.end
		if end.IsZero() {
			end = t1
		}
		if t0.Before(end.Add(w.grace)) && t1.After(w.start) {
			return true
		}
	}
	return false
}

// summary lists the outages with their lengths, for the report.
func (o *outages) summary() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, w := range o.list {
		d := "not recovered"
		if !w.end.IsZero() {
			d = w.end.Sub(w.start).Round(10 * time.Millisecond).String()
		}
		out = append(out, fmt.Sprintf("%s: %s", w.label, d))
	}
	return out
}

// rate is the share of successes outside outages, and whether there were
// any such attempts.
func (k *kind) rate() (float64, uint64) {
	n := k.attempts - k.winTried
	if n == 0 {
		return 0, 0
	}
	return float64(k.ok-k.winOK) / float64(n), n
}

// reasons formats a kind's outcomes, most frequent first.
func (k *kind) reasons() string {
	type rc struct {
		r string
		c uint64
	}
	var l []rc
	for r, c := range k.outcomes {
		l = append(l, rc{r, c})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].c != l[j].c {
			return l[i].c > l[j].c
		}
		return l[i].r < l[j].r
	})
	var parts []string
	for _, x := range l {
		parts = append(parts, fmt.Sprintf("%s %d", x.r, x.c))
	}
	return strings.Join(parts, ", ")
}
