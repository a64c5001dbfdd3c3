package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// checks collects the verdicts the run ends with.
type checks struct {
	mu   sync.Mutex
	list []checkResult
}

type checkResult struct {
	name, detail string
	ok           bool
}

func (c *checks) add(name string, ok bool, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, checkResult{name: name, ok: ok, detail: detail})
}

func (c *checks) failed() []checkResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []checkResult
	for _, r := range c.list {
		if !r.ok {
			out = append(out, r)
		}
	}
	return out
}

// Bounds on recovery from a planned disturbance. The agent's MQTT client
// retries with a back-off capped at 30 s and its serial ports are tried
// again every 0.25 s doubling to 10 s, so both are generous.
const (
	brokerRecovery   = 45 * time.Second
	firmwareRecovery = 30 * time.Second
)

// disturber restarts mosquitto and pulls the microcontroller's cable out
// during the load, in turns, and checks that the agent recovers.
type disturber struct {
	abort context.Context // the run's end by a signal: stop waiting
	out   *outages
	chk   *checks
	m     *mosquitto
	obs   *observer
	mcu   *cable

	restarts, unplugs int
	recoveries        []string
}

// run spreads n broker restarts and n unplugs evenly over d, alternating.
// A disturbance that has begun is always finished (the broker started
// again, the cable plugged back), even when ctx ends meanwhile.
func (ds *disturber) run(ctx context.Context, d time.Duration, n int) {
	start := time.Now()
	for i := range 2 * n {
		at := start.Add(d * time.Duration(i+1) / time.Duration(2*n+1))
		if !sleepCtx(ctx, time.Until(at)) {
			return
		}
		if i%2 == 0 {
			ds.restartBroker()
		} else {
			ds.unplug()
		}
	}
}

func (ds *disturber) restartBroker() {
	ds.restarts++
	ds.disturb(disturbance{
		class: brokerDown, label: fmt.Sprintf("mosquitto restart %d", ds.restarts), grace: 3 * time.Second,
		take: ds.m.stop, away: 300*time.Millisecond + rand.N(1700*time.Millisecond), restore: ds.m.start,
		within:    brokerRecovery,
		recovered: func(began, _ time.Time) bool { return ds.obs.onlineSince(began) },
		late:      "the agent was not back online on mosquitto within %v of its restart",
		report:    "%s: down %v, agent online %v after the broker",
	})
}

func (ds *disturber) unplug() {
	ds.unplugs++
	opens := ds.obs.latest().counter("firmware", "opens")
	ds.disturb(disturbance{
		class: firmwareDown, label: fmt.Sprintf("firmware unplug %d", ds.unplugs), grace: 2 * time.Second,
		take: ds.mcu.unplug, away: 500*time.Millisecond + rand.N(2500*time.Millisecond),
		restore: func() error {
			if err := ds.mcu.plug(); err != nil {
				return fmt.Errorf("plugging a new pseudo-terminal: %w", err)
			}
			return nil
		},
		within: firmwareRecovery,
		// The serial_link event says the link is up; a state document
		// with more opens says so too, should the event be missed.
		recovered: func(_, in time.Time) bool {
			if ds.obs.firmwareUpSince(in) {
				return true
			}
			s := ds.obs.latest()
			return s != nil && s.Time.After(in) && s.counter("firmware", "link_up") == 1 && s.counter("firmware", "opens") > opens
		},
		late:   "the agent did not reopen the port within %v of the replug",
		report: "%s: out %v, link up %v after the replug",
	})
}

// disturbance is one planned disturbance: take a part of the agent's
// world away, wait, restore it, and wait for the agent to recover.
type disturbance struct {
	class   int           // the outage class, for the timeline
	label   string        // names it in the timeline and the checks
	grace   time.Duration // for clients to notice the recovery
	take    func()
	away    time.Duration // how long the part stays away
	restore func() error  // an error fails the check with its text
	within  time.Duration // how long the agent may take to recover
	// recovered tells whether the agent is back, given when the outage
	// began and when the part was restored.
	recovered func(began, restored time.Time) bool
	late      string // the failed check's detail, with within for %v
	report    string // the recovery line: label, time away, time to recover
}

// disturb runs d, recording its outage window and either a failed check
// or how long the agent took to recover.
func (ds *disturber) disturb(d disturbance) {
	w := ds.out.begin(d.class, d.label, d.grace)
	d.take()
	time.Sleep(d.away)
	if err := d.restore(); err != nil {
		ds.out.finish(w, time.Now())
		ds.chk.add(d.label, false, err.Error())
		return
	}
	restored := time.Now()
	ok := poll(ds.abort, d.within, func() bool { return d.recovered(w.start, restored) })
	ds.out.finish(w, time.Now())
	if !ok {
		ds.chk.add(d.label, false, fmt.Sprintf(d.late, d.within))
		return
	}
	ds.recoveries = append(ds.recoveries, fmt.Sprintf(d.report, d.label,
		restored.Sub(w.start).Round(10*time.Millisecond), time.Since(restored).Round(10*time.Millisecond)))
}

// poll calls ok every 20 ms until it is true, timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 20*time.Millisecond) {
			return false
		}
	}
}
