package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// passwordFile writes a password file of user, password pairs with the
// real mosquitto_passwd (PBKDF2-SHA512, as mosquitto 2 writes it).
func passwordFile(t *testing.T, userPass ...string) string {
	t.Helper()
	tool := testenv.Program(t, "mosquitto", "mosquitto_passwd")
	file := filepath.Join(t.TempDir(), "passwd")
	for i := 0; i+1 < len(userPass); i += 2 {
		args := []string{"-b", file, userPass[i], userPass[i+1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	return file
}

// connectAs connects an MQTT 3.1.1 client and returns it, or the error
// of the broker's refusal.
func connectAs(t *testing.T, url, id string) (paho.Client, error) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer within 10s", id)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// Beyond loopback the embedded broker needs a password file, or the
// operator's word that the network is trusted: without either the agent
// does not start, and says why.
func TestEmbeddedBrokerBeyondLoopbackNeedsAuthentication(t *testing.T) {
	base := []string{"EDGE_MQTT_URL=", "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}
	for _, addr := range []string{":1883", "0.0.0.0:1883", "[::]:1883", "192.0.2.10:1883", "edge.example:1883"} {
		t.Run("refused "+addr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := command(ctx, append(base, "EDGE_MQTT_EMBEDDED_ADDR="+addr), "run").CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitConfig {
				t.Fatalf("exit %v, want 78\n%s", err, out)
			}
			if !containsAll(string(out), "EDGE_MQTT_EMBEDDED_ADDR", "EDGE_MQTT_EMBEDDED_PASSWORD_FILE", "EDGE_MQTT_EMBEDDED_ANONYMOUS=true", "loopback", "publish commands") {
				t.Errorf("message does not name the variables and the reason:\n%s", out)
			}
		})
	}
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"loopback", []string{"EDGE_MQTT_EMBEDDED_ADDR=127.0.0.2:0"}},
		{"localhost", []string{"EDGE_MQTT_EMBEDDED_ADDR=localhost:0"}},
		{"all interfaces with a password file", []string{"EDGE_MQTT_EMBEDDED_ADDR=0.0.0.0:0", "EDGE_MQTT_EMBEDDED_PASSWORD_FILE=" + passwordFile(t, "op", "pw")}},
		{"all interfaces, trusted", []string{"EDGE_MQTT_EMBEDDED_ADDR=0.0.0.0:0", "EDGE_MQTT_EMBEDDED_ANONYMOUS=true"}},
	} {
		t.Run("starts on "+tc.name, func(t *testing.T) {
			startCommand(t, command(context.Background(), append(base, tc.env...), "run"), "mqtt-broker", "mqtt")
		})
	}
}

// With a password file, its users are operators: they command the agent.
// Anonymous clients, let in alongside by EDGE_MQTT_EMBEDDED_ANONYMOUS,
// read everything and command nothing; no one but the agent has its id.
func TestEmbeddedBrokerOperatorsAndAnonymous(t *testing.T) {
	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=", "EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:0", "EDGE_DEVICE_ID=lab",
		"EDGE_MQTT_EMBEDDED_PASSWORD_FILE=" + passwordFile(t, "op", "op-secret", "ha", "ha-secret"),
		"EDGE_MQTT_EMBEDDED_ANONYMOUS=true", "EDGE_MQTT_INTERVAL=1s",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	addr := startCommand(t, cmd, "mqtt-broker", "mqtt")["mqtt-broker"]
	anonURL, opURL := "tcp://"+addr, "tcp://op:op-secret@"+addr

	// The agent's own bridge got in: its availability is there to read,
	// for anonymous clients too.
	avail := subscribe(t, anonURL, "edge/lab/availability")
	await(t, avail, func(m paho.Message) bool { return string(m.Payload()) == "online" })
	state := subscribe(t, anonURL, "edge/lab/state")
	replies := subscribe(t, anonURL, "edge/lab/cmd/+/reply")

	anon, err := connectAs(t, anonURL, "anon-tool")
	if err != nil {
		t.Fatal(err)
	}
	anon.Publish("edge/lab/cmd/ping", 0, false, "").WaitTimeout(5 * time.Second)
	await(t, state, func(m paho.Message) bool { return serviceCounter(m, "mqtt-broker", "rejected_acl") == 1 })
	select {
	case m := <-replies:
		t.Fatalf("an anonymous command was answered: %q", m.Payload())
	default:
	}

	op, err := connectAs(t, opURL, "op-console")
	if err != nil {
		t.Fatal(err)
	}
	if tok := op.Publish("edge/lab/cmd/ping", 1, false, ""); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("operator publish: %v", tok.Error())
	}
	if m := await(t, replies, func(paho.Message) bool { return true }); !strings.Contains(string(m.Payload()), `"result":"pong"`) {
		t.Errorf("reply %q", m.Payload())
	}

	for _, tc := range []struct{ url, id, want string }{
		{"tcp://op:wrong@" + addr, "op-guess", "not Authorized"},
		{opURL, "edge-agent-lab", "identifier rejected"},
		{anonURL, "edge-agent-lab", "identifier rejected"},
	} {
		if _, err := connectAs(t, tc.url, tc.id); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as %s: %v, want %q", strings.SplitN(tc.url, "@", 2)[0], tc.id, err, tc.want)
		}
	}
	m := await(t, state, func(m paho.Message) bool { return serviceCounter(m, "mqtt-broker", "rejected_client_id") == 2 })
	if got := serviceCounter(m, "mqtt-broker", "rejected_auth"); got != 1 {
		t.Errorf("rejected_auth = %d, want 1", got)
	}
	// The bridge is still the one connected under its id.
	if got := serviceCounter(m, "mqtt", "connects"); got != 1 {
		t.Errorf("the bridge connected %d times, want once", got)
	}
}
