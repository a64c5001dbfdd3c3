package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/mqtt/fleet"
	"edge-agent/transport/testenv"
)

// freeAddr is a loopback address nothing listens on at the moment.
func freeAddr(t *testing.T) (addr, port string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr = l.Addr().String()
	_, port, _ = net.SplitHostPort(addr)
	return addr, port
}

// fleetJSON runs `edge-agent fleet --json` with env and args.
func fleetJSON(t *testing.T, env []string, args ...string) (int, []fleet.Device, string) {
	t.Helper()
	code, out := runBinary(t, command(context.Background(), env, append([]string{"fleet", "--json", "--timeout", "5s"}, args...)...))
	var devices []fleet.Device
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &devices); err != nil {
			t.Fatalf("fleet --json: %v\n%s", err, out)
		}
	}
	return code, devices, out
}

// awaitOnline runs fleet until it lists id online.
func awaitOnline(t *testing.T, id string, env []string, args ...string) {
	t.Helper()
	var last string
	testenv.WaitFor(t, "fleet to list "+id+" online", func() bool {
		code, devices, out := fleetJSON(t, env, args...)
		last = fmt.Sprintf("exit %d: %s", code, out)
		for _, d := range devices {
			if d.ID == id && d.Online {
				return true
			}
		}
		return false
	})
	if t.Failed() {
		t.Log(last)
	}
}

// A broker that wants a user name and password, as Home Assistant's
// Mosquitto add-on does: fleet logs in with flags, or with the agent's
// own variables, and says so clearly when the password is wrong.
func TestFleetOnBrokerWithPassword(t *testing.T) {
	passwd := testenv.Program(t, "mosquitto", "mosquitto_passwd", "/usr/bin/mosquitto_passwd")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "passwords")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, "agent", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	addr, port := freeAddr(t)
	runMosquitto(t, fmt.Sprintf("log_dest stderr\nuser root\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, pwFile), addr)
	url := "tcp://" + addr
	secret := filepath.Join(dir, "mqtt-password")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	wrong := filepath.Join(dir, "wrong-password")
	os.WriteFile(wrong, []byte("guess\n"), 0o600)

	// One environment for the agent and for fleet, as /etc/default/edge-agent.
	env := []string{"EDGE_MQTT_URL=" + url, "EDGE_MQTT_USERNAME=agent", "EDGE_MQTT_PASSWORD_FILE=" + secret}
	startCommand(t, command(context.Background(), append([]string{"EDGE_DEVICE_ID=locked", "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, env...), "run"), "mqtt")

	awaitOnline(t, "locked", nil, "--broker", url, "--username", "agent", "--password-file", secret)
	awaitOnline(t, "locked", env)
	// Flags, in any order, override the variables.
	awaitOnline(t, "locked", []string{"EDGE_MQTT_URL=" + url, "EDGE_MQTT_USERNAME=nobody", "EDGE_MQTT_PASSWORD_FILE=" + wrong},
		"--password-file", secret, "--username", "agent")

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"wrong password", nil, []string{"--broker", url, "--username", "agent", "--password-file", wrong},
			[]string{"refused the login", "--username", "--password-file", "EDGE_MQTT_PASSWORD_FILE"}},
		{"wrong password from the variables", []string{"EDGE_MQTT_URL=" + url, "EDGE_MQTT_USERNAME=agent", "EDGE_MQTT_PASSWORD_FILE=" + wrong}, nil,
			[]string{"refused the login"}},
		{"no login", nil, []string{"--broker", url}, []string{"refused the login"}},
		{"missing password file", nil, []string{"--broker", url, "--username", "agent", "--password-file", filepath.Join(dir, "missing")},
			[]string{"cannot read", filepath.Join(dir, "missing"), "(--password-file)", "no such file"}},
		{"missing password file from the variable", []string{"EDGE_MQTT_PASSWORD_FILE=" + filepath.Join(dir, "missing")}, []string{"--broker", url},
			[]string{"cannot read", "(EDGE_MQTT_PASSWORD_FILE)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, out := fleetJSON(t, tc.env, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, out)
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
				t.Errorf("%d lines, want one:\n%s", lines, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("message does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

// A broker that wants TLS with a client certificate: fleet checks it with
// the CA file and shows its own certificate, from flags or variables.
func TestFleetOnBrokerWithMutualTLS(t *testing.T) {
	dir := t.TempDir()
	_, ca, cert, key, cliCert, cliKey := writeCerts(t, dir)
	addr, port := freeAddr(t)
	runMosquitto(t, fmt.Sprintf("log_dest stderr\nuser root\nlistener %s 127.0.0.1\nallow_anonymous true\nrequire_certificate true\ncafile %s\ncertfile %s\nkeyfile %s\n",
		port, ca, cert, key), addr)
	url := "ssl://" + addr
	env := []string{"EDGE_MQTT_URL=" + url, "EDGE_MQTT_CA_FILE=" + ca, "EDGE_MQTT_CERT_FILE=" + cliCert, "EDGE_MQTT_KEY_FILE=" + cliKey}
	startCommand(t, command(context.Background(), append([]string{"EDGE_DEVICE_ID=sealed", "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, env...), "run"), "mqtt")

	awaitOnline(t, "sealed", nil, "--broker", url, "--ca-file", ca, "--cert-file", cliCert, "--key-file", cliKey)
	awaitOnline(t, "sealed", env)

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no client certificate", []string{"--broker", url, "--ca-file", ca}, []string{"fleet: connecting to " + url}},
		{"no CA file", []string{"--broker", url, "--cert-file", cliCert, "--key-file", cliKey}, []string{"certificate"}},
		{"certificate without key", []string{"--broker", url, "--ca-file", ca, "--cert-file", cliCert},
			[]string{"(--cert-file)", "set --key-file or EDGE_MQTT_KEY_FILE too"}},
		{"not a CA file", []string{"--broker", url, "--ca-file", cliKey, "--cert-file", cliCert, "--key-file", cliKey},
			[]string{"cannot use " + cliKey + " (--ca-file): no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, out := fleetJSON(t, nil, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("message does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

// What a device publishes reaches the operator's terminal only escaped:
// no title change, no cleared screen, no reversed line.
func TestFleetEscapesDeviceStrings(t *testing.T) {
	m := testenv.StartMosquitto(t)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL).SetClientID("evil-device"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	publish := func(topic, payload string) {
		t.Helper()
		if tok := c.Publish(topic, 1, true, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	id := "evil\u202eexe.txt"
	publish("edge/"+id+"/availability", "online")
	publish("edge/"+id+"/state", `{"time":"2026-11-23T09:31:56Z","version":"\u001b]0;x\u0007\u001b[2J",`+
		`"network":[{"name":"eth0","addresses":["10.0.0.1\t\u009b31m\u007f/24"]}]}`)

	code, out := runBinary(t, command(context.Background(), nil, "fleet", "--broker", m.URL, "--timeout", "5s"))
	if code != 0 {
		t.Fatalf("fleet: exit %d\n%s", code, out)
	}
	for _, raw := range []string{"\x1b", "\x07", "\t", "\u202e", "\u009b", "\x7f"} {
		if strings.Contains(out, raw) {
			t.Errorf("the table holds %q raw:\n%q", raw, out)
		}
	}
	for _, want := range []string{`evil\u202eexe.txt`, `\x1b]0;x\x07\x1b[2J`, `10.0.0.1\x09\u009b31m\x7f`} {
		if !strings.Contains(out, want) {
			t.Errorf("the table does not show %s:\n%s", want, out)
		}
	}

	code, devices, out := fleetJSON(t, nil, "--broker", m.URL)
	if code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("fleet --json: exit %d, not JSON:\n%s", code, out)
	}
	for _, raw := range []string{"\x1b", "\x07", "\t", "\u202e", "\u009b", "\x7f"} {
		if strings.Contains(out, raw) {
			t.Errorf("the JSON holds %q raw:\n%q", raw, out)
		}
	}
	if len(devices) != 1 || devices[0].ID != id || devices[0].Version != "\x1b]0;x\x07\x1b[2J" || devices[0].IP != "10.0.0.1\t\u009b31m\u007f" {
		t.Errorf("the JSON decodes to %+v, want the device's own strings", devices)
	}
}
