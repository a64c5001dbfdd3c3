package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// maxAgentRSS is what the agent may take while its embedded broker is
// flooded: a Pi Zero has 512 MiB for everything.
const maxAgentRSS = 64 << 20

// A local user floods the embedded broker with 300 retained messages to
// distinct topics while a subscriber to # never reads. The broker holds
// to its bounds, the agent stays small, and every other service answers.
// With 1 MiB messages the packet limit (256 KiB) refuses each one; with
// messages just under it, the retained bounds and the subscriber's queue
// are what hold.
func TestEmbeddedBrokerUnderRetainedFlood(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		counter string // the broker counter that shows what held
	}{
		{"1MiB", 1 << 20, "rejected_packet_size"},
		{"255KiB", 255 << 10, "rejected_retained_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := command(context.Background(), []string{"EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0", "EDGE_DEVICE_ID=flooded",
				"EDGE_MQTT_INTERVAL=1s", "EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=127.0.0.1:0", "EDGE_NTP_FALLBACK_STRATUM=9",
				"EDGE_TIME_ADDR=127.0.0.1:0", "EDGE_FILE_ADDR=127.0.0.1:0", "EDGE_FILE_DIR=" + filepath.Join(dir, "in"), "EDGE_FILE_MIN_FREE=1MiB"}, "run")
			addrs := startCommand(t, cmd, "mqtt-broker", "mqtt", "echo", "ntp", "time", "file")
			broker := addrs["mqtt-broker"]
			state := subscribe(t, "tcp://"+broker, "edge/flooded/state")
			await(t, state, func(paho.Message) bool { return true })

			stuck := testenv.DialMQTT(t, broker, 4096)
			if err := stuck.Connect("never-reads", "", ""); err != nil {
				t.Fatal(err)
			}
			if err := stuck.Subscribe("#", 0); err != nil {
				t.Fatal(err)
			}

			peak := sampleRSS(t, cmd.Process.Pid)
			began := time.Now()
			reconnects := floodRetained(t, broker, 300, tc.size)
			t.Logf("300 retained publishes of %d bytes in %v, %d connections", tc.size, time.Since(began).Round(time.Millisecond), reconnects)

			checkOtherServices(t, addrs, dir)
			rss, hwm := agentMem(t, cmd.Process.Pid)
			t.Logf("agent VmRSS %.1f MiB, VmHWM %.1f MiB (sampled peak %.1f MiB)", inMiB(rss), inMiB(hwm), inMiB(peak()))
			if hwm > maxAgentRSS {
				t.Errorf("the agent's resident memory peaked at %.1f MiB, over %d MiB", inMiB(hwm), maxAgentRSS>>20)
			}

			m := await(t, state, func(m paho.Message) bool { return serviceCounter(m, "mqtt-broker", tc.counter) > 0 })
			counters := map[string]uint64{}
			for _, k := range []string{"retained", "retained_bytes", "queued_bytes", "rejected_packet_size", "rejected_retained_bytes", "rejected_retained_count", "disconnected_slow"} {
				counters[k] = serviceCounter(m, "mqtt-broker", k)
			}
			t.Logf("broker counters after the flood: %v", counters)
			if counters["retained_bytes"] > 4<<20 {
				t.Errorf("retained_bytes %d over the 4 MiB bound", counters["retained_bytes"])
			}
		})
	}
}

// floodRetained publishes n retained QoS 0 messages of size bytes to distinct
// topics, reconnecting when the broker closes the connection, and
// returns the connections it took.
func floodRetained(t *testing.T, broker string, n, size int) int {
	t.Helper()
	payload := bytes.Repeat([]byte("z"), size)
	deadline := time.Now().Add(90 * time.Second)
	var c *testenv.RawMQTT
	conns := 0
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		if c == nil {
			c = testenv.DialMQTT(t, broker, 0)
			conns++
			if err := c.Connect(fmt.Sprintf("flooder-%d", conns), "", ""); err != nil {
				c.Close()
				c = nil
				continue
			}
		}
		if err := c.Publish(fmt.Sprintf("flood/%d", i), payload, 0, true, 0); err != nil {
			// Refused: the broker closed the connection.
			c.Close()
			c = nil
		}
	}
	if c != nil {
		c.Close()
	}
	return conns
}

// checkOtherServices asks every other service of the agent for an answer.
func checkOtherServices(t *testing.T, addrs map[string]string, dir string) {
	t.Helper()
	run := func(want string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := command(ctx, nil, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	run("STILL HERE", "echo", addrs["echo"], "still", "here")
	run("stratum    9", "time", addrs["ntp"])
	run(time.Now().Format("2006"), "time", "--format", "%Y", addrs["time"])
	file := filepath.Join(dir, "report.txt")
	os.WriteFile(file, []byte("uploaded during the flood"), 0o644)
	run("", "send", addrs["file"], file)
	if b, err := os.ReadFile(filepath.Join(dir, "in", "report.txt")); err != nil || string(b) != "uploaded during the flood" {
		t.Errorf("the upload was not stored: %q %v", b, err)
	}
}

// sampleRSS samples the process's resident memory every 50 ms until the
// test ends and returns a function reporting the highest sample.
func sampleRSS(t *testing.T, pid int) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _, err := readVmRSS(pid); err == nil {
				mu.Lock()
				peak = max(peak, rss)
				mu.Unlock()
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func agentMem(t *testing.T, pid int) (rss, hwm uint64) {
	t.Helper()
	rss, hwm, err := readVmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return rss, hwm
}

// readVmRSS reads VmRSS and VmHWM (the peak) from /proc/PID/status.
func readVmRSS(pid int) (rss, hwm uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

func inMiB(b uint64) float64 { return float64(b) / (1 << 20) }
