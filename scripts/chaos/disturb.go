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
	label := fmt.Sprintf("mosquitto restart %d", ds.restarts)
	w := ds.out.begin(brokerDown, label, 3*time.Second)
	ds.m.stop()
	time.Sleep(300*time.Millisecond + rand.N(1700*time.Millisecond))
	if err := ds.m.start(); err != nil {
		ds.out.finish(w, time.Now())
		ds.chk.add(label, false, err.Error())
		return
	}
	up := time.Now()
	ok := poll(ds.abort, brokerRecovery, func() bool { return ds.obs.onlineSince(w.start) })
	ds.out.finish(w, time.Now())
	if !ok {
		ds.chk.add(label, false, fmt.Sprintf("the agent was not back online on mosquitto within %v of its restart", brokerRecovery))
		return
	}
	ds.recoveries = append(ds.recoveries, fmt.Sprintf("%s: down %v, agent online %v after the broker",
		label, up.Sub(w.start).Round(10*time.Millisecond), time.Since(up).Round(10*time.Millisecond)))
}

func (ds *disturber) unplug() {
	ds.unplugs++
	label := fmt.Sprintf("firmware unplug %d", ds.unplugs)
	opens := ds.obs.latest().counter("firmware", "opens")
	w := ds.out.begin(firmwareDown, label, 2*time.Second)
	ds.mcu.unplug()
	time.Sleep(500*time.Millisecond + rand.N(2500*time.Millisecond))
	if err := ds.mcu.plug(); err != nil {
		ds.out.finish(w, time.Now())
		ds.chk.add(label, false, "plugging a new pseudo-terminal: "+err.Error())
		return
	}
	in := time.Now()
	// The serial_link event says the link is up; a state document with
	// more opens says so too, should the event be missed.
	ok := poll(ds.abort, firmwareRecovery, func() bool {
		if ds.obs.firmwareUpSince(in) {
			return true
		}
		s := ds.obs.latest()
		return s != nil && s.Time.After(in) && s.counter("firmware", "link_up") == 1 && s.counter("firmware", "opens") > opens
	})
	ds.out.finish(w, time.Now())
	if !ok {
		ds.chk.add(label, false, fmt.Sprintf("the agent did not reopen the port within %v of the replug", firmwareRecovery))
		return
	}
	ds.recoveries = append(ds.recoveries, fmt.Sprintf("%s: out %v, link up %v after the replug",
		label, in.Sub(w.start).Round(10*time.Millisecond), time.Since(in).Round(10*time.Millisecond)))
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
