package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// subscribe returns a channel of the messages on topic.
func subscribe(t *testing.T, url, topic string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 64)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("t-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	if tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { ch <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return ch
}

func await(t *testing.T, ch <-chan paho.Message, ok func(paho.Message) bool) paho.Message {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-ch:
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatal("expected message did not come")
			return nil
		}
	}
}

func mqttAgent(t *testing.T, url, id string) *exec.Cmd {
	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=" + url, "EDGE_DEVICE_ID=" + id, "EDGE_MQTT_INTERVAL=1s",
		"EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	startCommand(t, cmd, "mqtt")
	return cmd
}

func TestStateOnMosquittoAndLastWillOnSIGKILL(t *testing.T) {
	m := testenv.StartMosquitto(t)
	avail := subscribe(t, m.URL, "edge/kitchen/availability")
	state := subscribe(t, m.URL, "edge/kitchen/state")
	cmd := mqttAgent(t, m.URL, "kitchen")
	await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "online" })
	st := await(t, state, func(paho.Message) bool { return true })
	var doc map[string]any
	if err := json.Unmarshal(st.Payload(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"time", "device_id", "version", "uptime_s", "boot_time", "load_1", "mem_total_bytes", "network", "clock", "services"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("state lacks %q: %s", key, st.Payload())
		}
	}
	services, _ := doc["services"].(map[string]any)
	if echo, _ := services["echo"].(map[string]any); echo == nil || echo["counters"] == nil {
		t.Errorf("state has no echo counters: %v", services)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "offline" })
}

func TestFleetListsEveryAgent(t *testing.T) {
	m := testenv.StartMosquitto(t)
	avail := subscribe(t, m.URL, "edge/+/availability")
	mqttAgent(t, m.URL, "pi-a")
	mqttAgent(t, m.URL, "pi-b")
	seen := map[string]bool{}
	for len(seen) < 2 {
		msg := await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "online" })
		seen[msg.Topic()] = true
	}
	out, err := command(context.Background(), nil, "fleet", "--broker", m.URL, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("fleet: %v\n%s", err, out)
	}
	var devices []struct {
		ID      string `json:"id"`
		Online  bool   `json:"online"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &devices); err != nil {
		t.Fatalf("fleet --json: %v\n%s", err, out)
	}
	if len(devices) != 2 || devices[0].ID != "pi-a" || devices[1].ID != "pi-b" || !devices[0].Online || !devices[1].Online || devices[0].Version == "" {
		t.Errorf("fleet saw %+v", devices)
	}
	text, _ := command(context.Background(), nil, "fleet", "--broker", m.URL).CombinedOutput()
	if !containsAll(string(text), "DEVICE", "pi-a", "pi-b", "online") {
		t.Errorf("fleet table:\n%s", text)
	}
}

func TestEmbeddedBrokerByDefault(t *testing.T) {
	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0", "EDGE_DEVICE_ID=solo",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	addrs := startCommand(t, cmd, "mqtt-broker", "mqtt")
	url := "tcp://" + addrs["mqtt-broker"]
	avail := subscribe(t, url, "edge/solo/availability")
	await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "online" })
	out, err := command(context.Background(), nil, "fleet", "--broker", url).CombinedOutput()
	if err != nil || !containsAll(string(out), "solo", "online") {
		t.Errorf("fleet on the embedded broker: %v\n%s", err, out)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !contains(s, sub) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// With the broker down the other services run; when it comes, the agent
// connects.
func TestBrokerDownAtStartUp(t *testing.T) {
	m := testenv.NewMosquitto(t)
	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=" + m.URL, "EDGE_DEVICE_ID=late",
		"EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	addrs := startCommand(t, cmd, "echo", "mqtt")
	out, err := command(context.Background(), nil, "echo", addrs["echo"], "still", "serving").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "STILL SERVING") {
		t.Fatalf("echo while the broker is down: %v %s", err, out)
	}
	m.Start()
	avail := subscribe(t, m.URL, "edge/late/availability")
	await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "online" })
}

// fleet --watch prints again when a device changes.
func TestFleetWatch(t *testing.T) {
	m := testenv.StartMosquitto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	watch := command(ctx, nil, "fleet", "--broker", m.URL, "--json", "--watch")
	out, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { watch.Process.Kill(); watch.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if first := <-lines; first != "[]" {
		t.Fatalf("first listing %q, want none", first)
	}
	mqttAgent(t, m.URL, "newcomer")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, `"id":"newcomer"`) && strings.Contains(l, `"online":true`) {
				return
			}
		case <-deadline:
			t.Fatal("fleet --watch never showed the new agent online")
		}
	}
}
