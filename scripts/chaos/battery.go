package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Memory and goroutines must come back within this share of their level
// before the load.
const recoveryMargin = 0.10

// memPoint is the agent's footprint at one moment.
type memPoint struct {
	rss, anon, file, threads int64 // KiB, KiB, KiB, count
	goroutines               int
}

func (r *rig) measure() (memPoint, *stateDoc, error) {
	var p memPoint
	st, err := procStatus(r.ag.pid())
	if err != nil {
		return p, nil, fmt.Errorf("reading the agent's /proc status: %w", err)
	}
	p.rss, p.anon, p.file, p.threads = st["VmRSS"], st["RssAnon"], st["RssFile"], st["Threads"]
	s, err := r.obs.freshState(10 * time.Second)
	if err != nil {
		return p, nil, err
	}
	if s.Goroutines == nil {
		return p, nil, errors.New("the agent's state has no agent_goroutines (an agent built before it was added?)")
	}
	p.goroutines = *s.Goroutines
	return p, s, nil
}

// load runs every client, honest and hostile, until ctx ends, and waits
// for all of them.
func (r *rig) load(ctx context.Context, t *tally, fa *fileAttacks, srcs *distinct) {
	var wg sync.WaitGroup
	h := honestAddrs
	ms := time.Millisecond

	echoK := t.kind("echo TCP", true, 0)
	udpK := t.kind("echo UDP", true, 0)
	ntpK := t.kind("SNTP", true, 0)
	timeK := t.kind("text time", true, 0)
	upK := t.kind("upload (sha256 + ack)", true, 0)
	pingK := t.kind("MQTT cmd/ping", true, brokerDown)
	rxK := t.kind("firmware device→MQTT", true, brokerDown|firmwareDown)
	txK := t.kind("firmware MQTT→device", true, brokerDown|firmwareDown)
	conK := t.kind("console", true, 0)
	conBad := t.kind("console: garbage", false, 0)

	for i := range 4 {
		wg.Go(func() { echoTCP(ctx, t, echoK, h[i], r.tg.echo, 100*ms) })
		wg.Go(func() { uploader(ctx, t, upK, fa.ledger, h[i], r.tg.file, r.token, i, 500*ms) })
	}
	for i := 4; i < 6; i++ {
		wg.Go(func() { udpClient(ctx, t, udpK, h[i], r.tg.echo, 50*ms, echoUDPRequest) })
	}
	for _, a := range h {
		wg.Go(func() { udpClient(ctx, t, ntpK, a, r.tg.ntp, 500*ms, ntpRequest(rand.Uint32())) })
		wg.Go(func() { udpClient(ctx, t, timeK, a, r.tg.time, 250*ms, textTimeRequest) })
	}
	wg.Go(func() { mqttPing(ctx, t, pingK, r.obs, 250*ms) })
	wg.Go(func() { firmwareRx(ctx, t, rxK, r.mcu, &r.rx, 200*ms) })
	wg.Go(func() { firmwareTx(ctx, t, txK, r.obs, &r.tx, 200*ms) })
	wg.Go(func() { console(ctx, t, conK, conBad, r.con, "chaos> ", time.Second) })

	for range 3 {
		wg.Go(func() { hostileUploads(ctx, t, fa, r.tg.file, 150*ms) })
	}
	wg.Go(func() { connFlood(ctx, t, r.tg.file, 8, 2*time.Second, "file: 8 connections from one source") })
	for range 2 {
		wg.Go(func() { echoCut(ctx, t, r.tg.echo, 100*ms) })
		wg.Go(func() { echoNoRead(ctx, t, r.tg.echo, time.Second) })
	}
	wg.Go(func() { echoConnFlood(ctx, t, r.tg.echo, 3*time.Second) })
	wg.Go(func() { tcpGarbage(ctx, t, "echo TCP: garbage, cut", r.tg.echo, 200*ms) })
	wg.Go(func() { tcpGarbage(ctx, t, "file: garbage, cut", r.tg.file, 200*ms) })
	wg.Go(func() { udpGarbage(ctx, t, ntpService, r.tg.ntp, 50*ms) })
	wg.Go(func() { udpGarbage(ctx, t, timeService, r.tg.time, 50*ms) })
	wg.Go(func() { udpGarbage(ctx, t, echoService, r.tg.echo, 50*ms) })
	wg.Go(func() { flood(ctx, t, ntpService, r.tg.ntp, 150, 10, srcs) })
	wg.Go(func() { flood(ctx, t, timeService, r.tg.time, 150, 16, srcs) })
	wg.Go(func() { firmwareNoise(ctx, t, r.mcu, 200*ms) })
	wg.Go(func() { mqttHostile(ctx, t, r.bad, 250*ms) })
	wg.Wait()
}

// battery runs the warm-up, the baseline, the load with its
// disturbances, the recovery and the end checks.
func (r *rig) battery(ctx context.Context) (*report, error) {
	rep := &report{cfg: r.cfg, chk: &checks{}, out: &outages{}}
	rep.t = newTally(rep.out)
	fa := &fileAttacks{token: r.token, ledger: &ledger{}}
	var err error
	if rep.cold, _, err = r.measure(); err != nil {
		return nil, err
	}

	// The baseline is taken after the same load, a broker restart and an
	// unplug have run once: what the first of each sets up for good (code
	// paged in, the heap grown to its working size, runtime metadata) is
	// not what the check looks for.
	if r.cfg.warmup > 0 {
		say("warm-up: %v of the same load with a mosquitto restart and an unplug, not counted", r.cfg.warmup)
		wctx, cancel := context.WithTimeout(ctx, r.cfg.warmup)
		wout, wchk := &outages{}, &checks{}
		var wg sync.WaitGroup
		wg.Go(func() { r.load(wctx, newTally(wout), fa, &distinct{}) })
		ds := &disturber{abort: ctx, out: wout, chk: wchk, m: r.m, obs: r.obs, mcu: r.mcu}
		wg.Go(func() { ds.run(wctx, r.cfg.warmup, 1) })
		wg.Wait()
		cancel()
		for _, f := range wchk.failed() {
			rep.chk.add("warm-up: "+f.name, false, f.detail)
		}
		sleepCtx(ctx, 5*time.Second)
	}
	var before *stateDoc
	if rep.base, before, err = r.measure(); err != nil {
		return nil, err
	}
	rep.peak = rep.base

	say("load: %v, honest and hostile clients at once, mosquitto restarts and firmware unplugs", r.cfg.duration)
	lctx, cancel := context.WithTimeout(ctx, r.cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	srcs := &distinct{}
	wg.Go(func() { r.load(lctx, rep.t, fa, srcs) })
	ds := &disturber{abort: ctx, out: rep.out, chk: rep.chk, m: r.m, obs: r.obs, mcu: r.mcu}
	n := min(max(int(r.cfg.duration/(40*time.Second)), 1), 4)
	wg.Go(func() { ds.run(lctx, r.cfg.duration, n) })
	wg.Go(func() { r.sample(lctx, cancel, rep) })
	t0 := time.Now()
	wg.Wait()
	rep.loadTook = time.Since(t0)
	rep.recoveries, rep.sources = ds.recoveries, srcs.len()
	if ds.restarts < n || ds.unplugs < n {
		rep.chk.add("disturbances", false, fmt.Sprintf("%d mosquitto restarts and %d unplugs of %d planned each (run cut short)", ds.restarts, ds.unplugs, n))
	}
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}
	if !r.ag.running() {
		rep.chk.add("agent alive", false, fmt.Sprintf("the agent exited during the load: %v (log: %s/agent.log)", r.ag.err, r.cfg.dir))
		rep.collectLog(r.ag)
		return rep, nil
	}
	rep.chk.add("agent alive", true, fmt.Sprintf("pid %d still running after the load", r.ag.pid()))

	say("load over; waiting up to %v for RSS and goroutines to come back", r.cfg.settle)
	after := r.settle(ctx, rep)
	rep.counters = counterDeltas(before, after)
	rep.honestVerdicts()
	rep.uploads = checkFiles(r.filesDir, fa, rep.chk)

	code, took := r.ag.stop(10 * time.Second)
	rep.stopCode, rep.stopTook = code, took
	rep.chk.add("clean stop", code == 0 && took < 10*time.Second,
		fmt.Sprintf("exit status %d after %v on SIGTERM; want 0 within 10s", code, took.Round(time.Millisecond)))
	rep.collectLog(r.ag)
	return rep, nil
}

// sample reads the agent's RSS every second for the peak, and ends the
// load at once if the agent dies.
func (r *rig) sample(ctx context.Context, stop context.CancelFunc, rep *report) {
	every(ctx, time.Second, func(context.Context) {
		if !r.ag.running() {
			stop()
			return
		}
		if st, err := procStatus(r.ag.pid()); err == nil {
			rep.peak.rss = max(rep.peak.rss, st["VmRSS"])
			rep.peak.anon = max(rep.peak.anon, st["RssAnon"])
			rep.peak.threads = max(rep.peak.threads, st["Threads"])
		}
	})
	if st, err := procStatus(r.ag.pid()); err == nil {
		rep.peak.rss = max(rep.peak.rss, st["VmHWM"])
	}
	rep.peak.goroutines = max(rep.peak.goroutines, r.obs.peakGoroutines())
}

// settle polls the footprint until both figures are back within the
// margin or the wait is over, and checks them. The Go runtime returns
// freed heap to the system gradually (its scavenger, after a collection
// that may come up to two minutes after the load stops), so a first
// reading above the margin is not yet a leak.
func (r *rig) settle(ctx context.Context, rep *report) *stateDoc {
	t0 := time.Now()
	var last *stateDoc
	rssLimit := int64(float64(rep.base.rss) * (1 + recoveryMargin))
	gLimit := int(float64(rep.base.goroutines) * (1 + recoveryMargin))
	for {
		p, s, err := r.measure()
		if err == nil {
			rep.after, last = p, s
			rep.trail = append(rep.trail, fmt.Sprintf("%ds %d KiB/%d", int(time.Since(t0).Seconds()), p.rss, p.goroutines))
			if p.rss <= rssLimit && p.goroutines <= gLimit {
				break
			}
		}
		if time.Since(t0) > r.cfg.settle || !sleepCtx(ctx, 2*time.Second) {
			break
		}
	}
	rep.settleTook = time.Since(t0)
	rep.chk.add("RSS back", rep.after.rss <= rssLimit,
		fmt.Sprintf("VmRSS %d KiB, %d KiB before the load (limit %d KiB: +%.0f%%), after waiting %v; RssAnon %d KiB (before %d), RssFile %d KiB (before %d)",
			rep.after.rss, rep.base.rss, rssLimit, recoveryMargin*100, rep.settleTook.Round(time.Second),
			rep.after.anon, rep.base.anon, rep.after.file, rep.base.file))
	rep.chk.add("goroutines back", rep.after.goroutines <= gLimit,
		fmt.Sprintf("agent_goroutines %d, %d before the load (limit %d)", rep.after.goroutines, rep.base.goroutines, gLimit))
	return last
}
