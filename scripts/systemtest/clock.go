package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"edge-agent/transport/ntp"
)

// clockRun drives the agent in the guest while the guest's wall clock is
// stepped a day forward and an hour back, as the first NTP sync of a
// board without an RTC does, and checks that only what should follow the
// wall clock did.
type clockRun struct {
	guest               string // command that runs its arguments in the guest
	file, echo, ntpAddr string
	dwell               time.Duration
	failures            []string
}

func (r *clockRun) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.failures = append(r.failures, msg)
	fmt.Println("  FAIL " + msg)
}

func (r *clockRun) ok(format string, args ...any) {
	fmt.Println("  ok   " + fmt.Sprintf(format, args...))
}

// inGuest runs a command in the guest and returns its standard output.
func (r *clockRun) inGuest(args ...string) (string, error) {
	// ssh hands the guest one command line: quote each word.
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command(r.guest, strings.Join(q, " "))
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return string(out), err
	}
	return strings.TrimSpace(string(out)), nil
}

// agentState is the agent's next MQTT state, read in the guest from its
// embedded broker: -R skips the retained copy, so it is one published
// after the call (every EDGE_MQTT_INTERVAL, 5 s here; an anonymous
// client may not ask for one with cmd/refresh).
func (r *clockRun) agentState() (map[string]any, error) {
	out, err := r.inGuest("sh", "-c", `mosquitto_sub -h 127.0.0.1 -t "edge/$(hostname)/state" -C 1 -R -W 20`)
	if err != nil {
		return nil, err
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return st, nil
}

func num(st map[string]any, path string) float64 {
	v, err := lookup(st, path)
	if err != nil {
		return -1
	}
	f, _ := v.(float64)
	return f
}

func clockCmd(args []string) error {
	fs := flag.NewFlagSet("clock", flag.ExitOnError)
	var r clockRun
	fs.StringVar(&r.guest, "guest", "", "command running its arguments in the guest (ssh)")
	fs.StringVar(&r.file, "file", "127.0.0.1:8080", "the agent's file receiver")
	fs.StringVar(&r.echo, "echo", "127.0.0.1:8081", "the agent's echo service (TCP and UDP)")
	fs.StringVar(&r.ntpAddr, "ntp", "127.0.0.1:1123", "the agent's SNTP server")
	fs.DurationVar(&r.dwell, "dwell", 40*time.Second, "time spent after each step; more than the partial expiry interval (EDGE_FILE_PARTIAL_TTL/4)")
	fs.Parse(args)
	if r.guest == "" {
		return errors.New("-guest is required")
	}
	return r.run()
}

func (r *clockRun) run() error {
	st0, err := r.agentState()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if resp, err := sntp(r.ntpAddr); err != nil {
		return fmt.Errorf("before the steps the guest's clock must be synchronised: %v", err)
	} else {
		r.ok("before the steps: SNTP stratum %d, leap %v", resp.Stratum, resp.Leap)
	}
	ntpBase, echoBase := r.bursts("before the steps")

	held, err := r.holdEcho(4)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	paced := make(chan error, 1)
	go func() { paced <- pacedUpload(r.file, "paced.bin", 2<<20, 40<<10) }()
	partialSize, partialSum, partialData, err := r.makePartial()
	if err != nil {
		return err
	}

	step := func(what, arg string) {
		out, err := r.inGuest("date", "-s", arg, "+%s")
		if err != nil {
			r.fail("date -s %s: %v", arg, err)
			return
		}
		r.ok("guest clock stepped %s: now %s (host %d)", what, out, time.Now().Unix())
	}
	step("a day forward", "+1 day")
	// settimeofday marks the kernel clock unsynchronised, and the agent
	// must say so at once.
	if resp, err := sntp(r.ntpAddr); !errors.Is(err, ntp.ErrUnsynchronised) {
		r.fail("after the step SNTP answered %+v, %v; want unsynchronised (leap 3)", resp, err)
	} else {
		r.ok("after the step SNTP answers unsynchronised: leap %v, stratum %d", resp.Leap, resp.Stratum)
	}
	r.keepBusy(held, r.dwell)
	step("an hour back", "-1 hour")
	r.keepBusy(held, r.dwell/2)

	elapsed := time.Since(t0)
	if err := <-paced; err != nil {
		r.fail("an upload paced across both steps (2 MiB at 40 KiB/s): %v", err)
	} else {
		r.ok("an upload paced across both steps (2 MiB at 40 KiB/s) was acknowledged")
	}
	r.resumePartial(partialSize, partialSum, partialData)
	for i, c := range held {
		if err := echoOn(c, fmt.Sprintf("HELD %d AFTER", i)); err != nil {
			r.fail("echo connection %d held across the steps: %v", i, err)
		}
	}
	r.ok("%d echo connections held across the steps still answer", len(held))
	ntpAfter, echoAfter := r.bursts("after the steps")
	if ntpAfter > ntpBase+2 || echoAfter > echoBase+10 {
		r.fail("rate limits loosened by the steps: SNTP %d then %d, echo %d then %d answers to a burst", ntpBase, ntpAfter, echoBase, echoAfter)
	}

	st1, err := r.agentState()
	if err != nil {
		return err
	}
	real := elapsed.Seconds()
	for _, p := range []string{"agent_uptime_s", "uptime_s"} {
		d := num(st1, p) - num(st0, p)
		if d < real-20 || d > real+20 {
			r.fail("state %s grew by %.0f s in %.0f s of real time", p, d, real)
		} else {
			r.ok("state %s grew by %.0f s in %.0f s of real time", p, d, real)
		}
	}
	for _, c := range []struct{ path, what string }{
		{"services.mqtt.counters.connects", "MQTT connections (a reconnect would mean a keepalive fired early)"},
		{"services.file.counters.expired", "files expired"},
	} {
		if a, b := num(st0, c.path), num(st1, c.path); a != b || a < 0 {
			r.fail("%s: %s went from %v to %v", c.what, c.path, a, b)
		} else {
			r.ok("%s: %s still %v", c.what, c.path, b)
		}
	}
	if v := num(st1, "services.ntp.counters.clock_synchronised"); v != 0 {
		r.fail("state says the clock is synchronised (%v) after settimeofday", v)
	}
	if len(r.failures) > 0 {
		return fmt.Errorf("%d checks failed", len(r.failures))
	}
	return nil
}
