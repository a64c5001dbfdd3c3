package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// publish sends one message and waits for the broker to take it.
func publish(t *testing.T, url, topic, payload string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("pub-" + time.Now().Format("150405.000000000")))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

// linkEvent waits for a serial_link event of the given direction.
func linkEvent(t *testing.T, events <-chan paho.Message, up bool) {
	t.Helper()
	await(t, events, func(m paho.Message) bool {
		var e struct {
			Data struct {
				Role string `json:"role"`
				Up   bool   `json:"up"`
			} `json:"data"`
		}
		return json.Unmarshal(m.Payload(), &e) == nil && e.Data.Role == "firmware" && e.Data.Up == up
	})
}

// serviceCounter reads one counter of a service from a state message.
func serviceCounter(m paho.Message, service, counter string) uint64 {
	var doc struct {
		Services map[string]struct {
			Counters map[string]uint64 `json:"counters"`
		} `json:"services"`
	}
	json.Unmarshal(m.Payload(), &doc)
	return doc.Services[service].Counters[counter]
}

// A microcontroller's line reaches an MQTT subscriber, a message on the
// tx topic reaches the microcontroller, and the link survives the cable
// being pulled and plugged back in: on mosquitto and on the embedded broker.
func TestFirmwareBridgeRoundTrip(t *testing.T) {
	for _, broker := range []string{"mosquitto", "embedded"} {
		t.Run(broker, func(t *testing.T) {
			port := filepath.Join(t.TempDir(), "ttyMCU")
			cab := testenv.Plug(t, port)
			env := []string{"EDGE_DEVICE_ID=bench", "EDGE_FIRMWARE_PORT=" + port, "EDGE_FIRMWARE_BAUD=9600",
				"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}
			var url string
			if broker == "mosquitto" {
				url = testenv.StartMosquitto(t).URL
				env = append(env, "EDGE_MQTT_URL="+url)
			} else {
				// Only a user of the password file may write to the
				// microcontroller through the embedded broker.
				env = append(env, "EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0",
					"EDGE_MQTT_EMBEDDED_PASSWORD_FILE="+passwordFile(t, "bench-op", "tx-secret"))
			}
			cmd := command(context.Background(), append(env, "EDGE_MQTT_INTERVAL=1s"), "run")
			if broker == "embedded" {
				url = "tcp://bench-op:tx-secret@" + startCommand(t, cmd, "mqtt-broker", "mqtt", "firmware")["mqtt-broker"]
			} else {
				startCommand(t, cmd, "mqtt", "firmware")
			}
			state := subscribe(t, url, "edge/bench/state")
			rx := subscribe(t, url, "edge/bench/firmware/rx")
			events := subscribe(t, url, "edge/bench/events/serial_link")
			// The retained state says when the port is open and the
			// bridge subscribed to the tx topic.
			await(t, state, func(m paho.Message) bool { return serviceCounter(m, "firmware", "link_up") == 1 })

			cab.Write("\xff\x00boot noise\r\ntemp=21.5\r\n")
			if m := await(t, rx, func(paho.Message) bool { return true }); string(m.Payload()) != "temp=21.5" {
				t.Errorf("rx: %q", m.Payload())
			}
			publish(t, url, "edge/bench/firmware/tx", "led on")
			cab.Expect("led on\n")

			cab.Unplug()
			linkEvent(t, events, false)
			cab = testenv.Plug(t, port)
			linkEvent(t, events, true)
			cab.Write("back\n")
			if m := await(t, rx, func(paho.Message) bool { return true }); string(m.Payload()) != "back" {
				t.Errorf("rx after the replug: %q", m.Payload())
			}
			publish(t, url, "edge/bench/firmware/tx", "led off")
			cab.Expect("led off\n")
		})
	}
}

// The console on a serial port: a login, every command answered within
// 80 columns, a secret never shown, a recent upload listed, and a typo
// answered with a hint.
func TestConsoleCommands(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyCONSOLE")
	cab := testenv.Plug(t, port)
	cmd := command(context.Background(), []string{"EDGE_DEVICE_ID=pi-kitchen", "EDGE_CONSOLE_PORT=" + port,
		"EDGE_CONSOLE_PASSWORD=hunter2", "EDGE_FILE_TOKEN=tok-secret", "EDGE_FILE_ADDR=127.0.0.1:0", "EDGE_FILE_DIR=" + filepath.Join(dir, "in"),
		"EDGE_ECHO_ADDR=127.0.0.1:0", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	addrs := startCommand(t, cmd, "file", "console")
	if got := cab.Expect("Password: "); !strings.Contains(got, "on pi-kitchen (type help)") {
		t.Errorf("banner: %q", got)
	}
	cab.Write("hunter2\r")
	cab.Expect("logged in; type help for the commands\r\npi-kitchen> ")

	file := filepath.Join(dir, "notes.txt")
	os.WriteFile(file, []byte("hello"), 0o644)
	if out, err := command(context.Background(), nil, "send", "--token", "tok-secret", addrs["file"], file).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}

	answers := map[string][]string{
		"statu\x7fus": {"edge-agent", "on pi-kitchen, up", "clock ", "echo ", "conns_active=0", "file ", "files=1", "console ", "mqtt ", "off"},
		"services":    {"echo  127.0.0.1:", "udp_datagrams_in=0", "console  " + port + "  on", "login_failures=0"},
		"config":      {"EDGE_CONSOLE_PASSWORD=(set)", "EDGE_FILE_TOKEN=(set)", "EDGE_CONSOLE_PORT=" + port},
		"time":        {"local ", "UTC ", "clock "},
		"files":       {"5 B  notes.txt from 127.0.0.1:", "sha256 ok"},
		"mqtt":        {"MQTT is off"},
		"version":     {"edge-agent", "go1.", "goroutines"},
		"help":        {"status ", "services ", "config ", "time ", "files ", "mqtt ", "version ", "logout "},
		"sevrices":    {`unknown command "sevrices"; did you mean "services"?`},
	}
	for _, typed := range []string{"statu\x7fus", "services", "config", "time", "files", "mqtt", "version", "help", "sevrices"} {
		cab.Write(typed + "\r")
		out := cab.Expect("pi-kitchen> ")
		for _, want := range answers[typed] {
			if !strings.Contains(out, want) {
				t.Errorf("%q: no %q in\n%s", typed, want, out)
			}
		}
		for _, line := range strings.Split(out, "\r\n") {
			if n := len([]rune(line)); n > 80 {
				t.Errorf("%q: a line of %d columns: %q", typed, n, line)
			}
		}
		if strings.Contains(out, "hunter2") || strings.Contains(out, "tok-secret") {
			t.Errorf("%q shows a secret:\n%s", typed, out)
		}
	}
}

func TestPortsCommand(t *testing.T) {
	out, err := command(context.Background(), nil, "ports", "--json").Output()
	var ports []map[string]any
	if err != nil || json.Unmarshal(out, &ports) != nil {
		t.Fatalf("ports --json: %v\n%s", err, out)
	}
	for _, p := range ports {
		if _, err := os.Stat(p["path"].(string)); err != nil {
			t.Errorf("listed %v: %v", p["path"], err)
		}
	}
	err = command(context.Background(), nil, "ports", "--bogus").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
		t.Errorf("ports --bogus: %v, want exit 2", err)
	}
}
