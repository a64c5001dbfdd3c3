package bridge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/agent"
	"edge-agent/transport/mqtt/bridge"
	"edge-agent/transport/testenv"
)

// The device message the agent itself publishes, with the sensors and
// binary sensors it offers on this machine, read from its embedded
// broker, is one Home Assistant accepts key by key.
func TestAgentDiscoveryMatchesHomeAssistantSchema(t *testing.T) {
	for k, v := range map[string]string{
		"EDGE_ECHO_ADDR": "127.0.0.1:0", "EDGE_NTP_ADDR": "off", "EDGE_TIME_ADDR": "127.0.0.1:0",
		"EDGE_FILE_ADDR": "127.0.0.1:0", "EDGE_FILE_DIR": t.TempDir(), "EDGE_MQTT_URL": "",
		"EDGE_MQTT_EMBEDDED_ADDR": "127.0.0.1:0", "EDGE_DEVICE_ID": "pi-agent", "EDGE_MQTT_DISK_FULL_PERCENT": "85",
	} {
		t.Setenv(k, v)
	}
	cfg, err := agent.Load()
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(cfg, nil)
	testenv.Run(t, a.Run)
	var url string
	testenv.WaitFor(t, "the embedded broker", func() bool {
		for _, s := range a.Status().Services {
			if s.Name == "mqtt-broker" && strings.HasPrefix(s.Addr, "127.0.0.1:") && !strings.HasSuffix(s.Addr, ":0") {
				url = "tcp://" + s.Addr
			}
		}
		return url != ""
	})
	got := make(chan []byte, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("ha-%d", time.Now().UnixNano())))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe("homeassistant/device/pi-agent/config", 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	}).WaitTimeout(10 * time.Second)
	var payload []byte
	select {
	case payload = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no device message from the agent")
	}
	if p := bridge.CheckHomeAssistantSchema(t, payload); len(p) != 0 {
		t.Errorf("device message %s:\n%s", payload, strings.Join(p, "\n"))
	}
	for _, want := range []string{`"clock_problem":{"p":"binary_sensor"`, `"disk_full":{"p":"binary_sensor"`, `>= 85`, `"echo_conns":{"p":"sensor"`, `"o":{"name":"edge-agent"`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("device message lacks %s: %s", want, payload)
		}
	}
}
