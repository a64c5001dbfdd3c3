package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/internal/sshtest"
	"edge-agent/transport/mqtt/fleet"
	"edge-agent/transport/testenv"
)

// fleetRunCmd runs `edge-agent fleet run` with args and env, and returns
// its exit status and output.
func fleetRunCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := command(context.Background(), env, append([]string{"fleet", "run"}, args...)...)
	// Only the agent a test starts, never the one of whoever runs it.
	cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK=")
	for _, kv := range env {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return runBinary(t, cmd)
}

// fleet run against two agents on one broker: signed with a key file or
// through ssh-agent, for named devices or every one online; one line per
// device, exit 0 when all ran. With one agent stopped, its line says no
// answer and the exit status is 1.
func TestFleetRunTwoAgents(t *testing.T) {
	m := testenv.StartMosquitto(t)
	s := newActionsSetup(t)
	avail := newOperator(t, m.URL, "", "", "edge/+/availability")
	a := startActionsAgent(t, append(s.env("script:hello"), "EDGE_MQTT_URL="+m.URL, "EDGE_DEVICE_ID=fleet-a")...)
	b := startActionsAgent(t, append(s.env("script:hello"), "EDGE_MQTT_URL="+m.URL, "EDGE_DEVICE_ID=fleet-b")...)
	online := func(m paho.Message) bool { return string(m.Payload()) == "online" }
	avail.next(t, "edge/fleet-a/availability", online)
	avail.next(t, "edge/fleet-b/availability", online)
	broker := []string{"EDGE_MQTT_URL=" + m.URL}

	code, out := fleetRunCmd(t, broker, "script:hello", "--device", "fleet-a", "world", "--device", "fleet-b", "--key", s.key.Path)
	if code != 0 || !containsAll(out, "DEVICE   RESULT  DETAIL\n", "fleet-a  ok      hello world\n", "fleet-b  ok      hello world\n") {
		t.Errorf("fleet run --key: exit %d\n%s", code, out)
	}

	agent := sshtest.StartAgent(t)
	agent.Add(s.key)
	withAgent := append(broker, "SSH_AUTH_SOCK="+agent.Socket)
	code, out = fleetRunCmd(t, withAgent, "--all", "script:hello", "everyone")
	if code != 0 || !containsAll(out, "fleet-a  ok      hello everyone\n", "fleet-b  ok      hello everyone\n") {
		t.Errorf("fleet run --all through ssh-agent: exit %d\n%s", code, out)
	}
	// The public key names which of ssh-agent's keys signs.
	agent.Add(s.stranger)
	code, out = fleetRunCmd(t, withAgent, "--all", "script:hello")
	if code != 1 || !containsAll(out, "ssh-agent holds 2 keys") {
		t.Errorf("fleet run with two keys in ssh-agent: exit %d\n%s", code, out)
	}
	code, out = fleetRunCmd(t, withAgent, "--all", "script:hello", "--key", s.key.Path+".pub")
	if code != 0 || !containsAll(out, "fleet-a  ok", "fleet-b  ok") {
		t.Errorf("fleet run --key KEY.pub through ssh-agent: exit %d\n%s", code, out)
	}
	// A key the devices do not list: each refuses, exit 1.
	code, out = fleetRunCmd(t, broker, "--device", "fleet-a", "script:hello", "--key", s.stranger.Path)
	if code != 1 || !containsAll(out, "fleet-a  failed  unknown_key: key SHA256:") {
		t.Errorf("fleet run with an unlisted key: exit %d\n%s", code, out)
	}

	b.stop(t)
	avail.next(t, "edge/fleet-b/availability", func(m paho.Message) bool { return string(m.Payload()) == "offline" })
	code, out = fleetRunCmd(t, broker, "script:hello", "--device", "fleet-a", "--device", "fleet-b", "--key", s.key.Path, "--timeout", "2s")
	if code != 1 || !containsAll(out, "fleet-a  ok         hello \n", "fleet-b  no answer  no reply within 2s\n") {
		t.Errorf("fleet run with fleet-b stopped: exit %d\n%s", code, out)
	}
	code, out = fleetRunCmd(t, broker, "script:hello", "--device", "fleet-a", "--device", "fleet-b", "--key", s.key.Path, "--timeout", "2s", "--json")
	var answers []fleet.Answer
	if err := json.Unmarshal([]byte(out), &answers); code != 1 || err != nil || len(answers) != 2 ||
		answers[0] != (fleet.Answer{Device: "fleet-a", Answered: true, OK: true, FirstLine: "hello "}) || answers[1] != (fleet.Answer{Device: "fleet-b"}) {
		t.Errorf("fleet run --json with fleet-b stopped: exit %d (%v)\n%s", code, err, out)
	}
	// --all asks only who is online.
	code, out = fleetRunCmd(t, broker, "--all", "script:hello", "--key", s.key.Path)
	if code != 0 || strings.Contains(out, "fleet-b") || !strings.Contains(out, "fleet-a  ok") {
		t.Errorf("fleet run --all with fleet-b stopped: exit %d\n%s", code, out)
	}
	a.stop(t)
}

// Mistakes are refused before anything is sent, with status 2.
func TestFleetRunUsage(t *testing.T) {
	key := sshtest.NewKey(t, "ed25519", "op")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--all"}, "usage: edge-agent fleet run"},
		{[]string{"script:x"}, "--device ID"},
		{[]string{"script:x", "--all", "--device", "a"}, "--device ID"},
		{[]string{"shutdown", "--all"}, `"shutdown" is not an action`},
		{[]string{"reboot", "now", "--all"}, "reboot takes no arguments"},
		{[]string{"script:x", "--device", "a/#"}, "letters, digits, _ and -"},
		{[]string{"script:x", "--all", "--timeout", "0s"}, "--timeout"},
	} {
		code, out := fleetRunCmd(t, []string{"EDGE_MQTT_URL=tcp://127.0.0.1:1"}, append(tc.args, "--key", key.Path)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q\n%s", tc.args, code, tc.want, out)
		}
	}
	// A key that needs a passphrase and is not in ssh-agent.
	code, out := fleetRunCmd(t, []string{"EDGE_MQTT_URL=tcp://127.0.0.1:1"}, "reboot", "--all", "--key", os.DevNull)
	if code != 1 || !strings.Contains(out, "--key") && !strings.Contains(out, os.DevNull) {
		t.Errorf("an unusable key: exit %d\n%s", code, out)
	}
}
