// Command chaos is the hostile-client battery that scripts/chaos.sh
// (make chaos) runs against a built agent. It starts the agent with every
// service on, on free loopback ports, publishing to a mosquitto it also
// starts, with its console and firmware bridge on pseudo-terminals; runs
// honest clients of every protocol from 127.0.0.2-9 at fixed rates
// beside hostile ones (malformed and cut frames, garbage, connection
// floods, a UDP flood from tens of thousands of 127.x.y.z sources), while
// it restarts mosquitto and unplugs the firmware port several times; then
// checks that the agent is alive, kept every acknowledged upload and no
// partial or hostile one, came back to its memory and goroutine levels,
// served its honest clients, and stops cleanly. It prints tables and
// exits 1 naming each failed check.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type config struct {
	agent, mosquitto, dir string
	duration, warmup      time.Duration
	settle                time.Duration
	godebug               string
}

func main() {
	var c config
	flag.StringVar(&c.agent, "agent", "", "the edge-agent binary under test")
	flag.StringVar(&c.mosquitto, "mosquitto", "mosquitto", "the mosquitto broker binary")
	flag.StringVar(&c.dir, "dir", "", "working directory (logs, pseudo-terminal links, received files)")
	flag.DurationVar(&c.duration, "duration", 3*time.Minute, "length of the mixed load")
	flag.DurationVar(&c.warmup, "warmup", 20*time.Second, "load (with a broker restart and an unplug) before the baseline is taken, so it includes what their first occurrence sets up for good")
	flag.DurationVar(&c.settle, "settle", 3*time.Minute, "longest wait after the load for RSS and goroutines to come back")
	flag.StringVar(&c.godebug, "godebug", "", "GODEBUG for the agent (e.g. madvdontneed=1)")
	flag.Parse()
	if c.agent == "" || c.dir == "" || c.duration < 10*time.Second {
		fmt.Fprintln(os.Stderr, "usage: chaos -agent BIN -dir DIR [-duration D (at least 10s)] [-warmup D] [-settle D] [-mosquitto BIN] [-godebug S]")
		os.Exit(2)
	}
	// Every phase has its own bound; this one catches a hang anyway. The
	// agent and mosquitto die with the driver (Pdeathsig).
	time.AfterFunc(c.warmup+c.duration+c.settle+10*time.Minute, func() {
		say("still running after every phase's bound: giving up")
		os.Exit(1)
	})
	os.Exit(run(c))
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...)
}

// rig is everything the run set up.
type rig struct {
	cfg      config
	kids     *children
	m        *mosquitto
	mcu, con *cable
	ag       *agentProc
	obs, bad *observer
	tg       targets
	token    string
	filesDir string
	rx, tx   waiters
}

func run(c config) int {
	// SIGINT/SIGTERM (the script's trap) end the run early; what was
	// started is still stopped in order.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	r := &rig{cfg: c, kids: &children{path: filepath.Join(c.dir, "children.pids")}}
	defer r.teardown()
	if err := r.setup(); err != nil {
		say("setup failed: %v", err)
		r.tailLogs()
		return 1
	}
	rep, err := r.battery(ctx)
	if err != nil {
		say("%v", err)
		if ctx.Err() == nil {
			r.tailLogs()
		}
		return 1
	}
	rep.print(os.Stdout)
	if failed := rep.chk.failed(); len(failed) > 0 {
		fmt.Printf("\nFAILED: %d check(s):\n", len(failed))
		for _, f := range failed {
			fmt.Printf("  - %s: %s\n", f.name, f.detail)
		}
		fmt.Printf("logs: %s\n", c.dir)
		return 1
	}
	fmt.Println("\nchaos: all checks passed")
	return 0
}

func (r *rig) setup() error {
	bin, err := exec.LookPath(r.cfg.mosquitto)
	if err != nil {
		return fmt.Errorf("mosquitto not found (%v); on Debian: apt-get install -y mosquitto", err)
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	echoPort, ftPort, ntpPort, mqttPort := ports[0], ports[1], ports[2], ports[3]
	lo := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	r.tg = targets{echo: lo(echoPort), file: lo(ftPort), time: lo(ftPort), ntp: lo(ntpPort)}

	if r.m, err = newMosquitto(bin, r.cfg.dir, mqttPort, r.kids); err != nil {
		return err
	}
	if err := r.m.start(); err != nil {
		return err
	}
	r.mcu = newCable(filepath.Join(r.cfg.dir, "ttyMCU"), func(line string) {
		if strings.HasPrefix(line, "tx-") {
			r.tx.deliver(line)
		}
	})
	r.con = newCable(filepath.Join(r.cfg.dir, "ttyCONSOLE"), nil)
	if err := r.mcu.plug(); err != nil {
		return fmt.Errorf("a pseudo-terminal: %w", err)
	}
	if err := r.con.plug(); err != nil {
		return fmt.Errorf("a pseudo-terminal: %w", err)
	}
	r.filesDir = filepath.Join(r.cfg.dir, "received")
	tok := make([]byte, 12)
	rand.Read(tok)
	r.token = hex.EncodeToString(tok)

	env := []string{
		"EDGE_DEVICE_ID=chaos", "EDGE_LOG_LEVEL=info",
		"EDGE_ECHO_ADDR=" + r.tg.echo, "EDGE_NTP_ADDR=" + r.tg.ntp, "EDGE_TIME_ADDR=" + r.tg.time,
		"EDGE_FILE_ADDR=" + r.tg.file, "EDGE_FILE_DIR=" + r.filesDir, "EDGE_FILE_TOKEN=" + r.token,
		// Hostile uploads claim sizes up to this, and a claim is reserved
		// on disk: a bound that keeps the battery's disk use small.
		"EDGE_FILE_MAX_SIZE=16MiB",
		"EDGE_MQTT_URL=" + r.m.url(), "EDGE_MQTT_INTERVAL=2s",
		"EDGE_CONSOLE_PORT=" + r.con.path, "EDGE_FIRMWARE_PORT=" + r.mcu.path,
	}
	if r.cfg.godebug != "" {
		env = append(env, "GODEBUG="+r.cfg.godebug)
	}
	r.ag, err = startAgent(r.cfg.agent, env, filepath.Join(r.cfg.dir, "agent.log"), r.kids)
	if err != nil {
		return err
	}
	if err := r.ag.awaitListening([]string{"echo", "ntp", "time", "file", "mqtt", "console", "firmware"}, 15*time.Second); err != nil {
		return err
	}
	base := "edge/chaos/"
	r.obs = newObserver(r.m.url(), "chaos-observer", base, true, r.rx.deliver)
	r.bad = newObserver(r.m.url(), "chaos-hostile", base, false, nil)
	if err := r.obs.connect(10 * time.Second); err != nil {
		return err
	}
	if err := r.bad.connect(10 * time.Second); err != nil {
		return err
	}
	// Ready when the agent is online and its firmware port open.
	if !poll(context.Background(), 20*time.Second, func() bool {
		s, err := r.obs.freshState(3 * time.Second)
		return err == nil && s.counter("firmware", "link_up") == 1 && s.counter("console", "link_up") == 1
	}) {
		return fmt.Errorf("the agent did not report its serial ports open within 20s")
	}
	return nil
}

// teardown stops whatever is still running, in the order that lets each
// part say goodbye: clients, the agent, the broker, the cables.
func (r *rig) teardown() {
	if r.obs != nil {
		r.obs.close()
	}
	if r.bad != nil {
		r.bad.close()
	}
	if r.ag != nil && r.ag.running() {
		r.ag.stop(10 * time.Second)
	}
	if r.m != nil {
		r.m.stop()
	}
	if r.mcu != nil {
		r.mcu.unplug()
	}
	if r.con != nil {
		r.con.unplug()
	}
}

// tailLogs shows the end of the agent's and mosquitto's logs after a
// setup failure.
func (r *rig) tailLogs() {
	for _, name := range []string{"agent.log", "mosquitto.log"} {
		b, err := os.ReadFile(filepath.Join(r.cfg.dir, name))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		say("last lines of %s:\n%s", name, strings.Join(lines, "\n"))
	}
}
